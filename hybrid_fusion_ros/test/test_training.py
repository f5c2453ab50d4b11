"""A tiny end-to-end training run and the checks that run before training."""
import numpy as np
import pytest

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.dataset import SequenceData
from hybrid_fusion_ros.core.train import TrainConfig, train


def tiny_config(**kw):
    base = dict(train_episodes=3, val_episodes=1, episode_seconds=40.0, epochs=2, seq_len=8, batch_size=4,
                extra_epochs=1)
    base.update(kw)
    return TrainConfig(**base)


def test_tiny_training_run_writes_a_loadable_checkpoint(tmp_path):
    result = train(tiny_config(), progress=False)
    assert len(result.history) == 2
    assert all(np.isfinite(h['loss']) for h in result.history)
    path = result.checkpoint.save(tmp_path / 'tiny.pt')
    ckpt = Checkpoint.load(path)
    assert ckpt.metadata['train_config']['epochs'] == 2
    assert 0.0 <= ckpt.metadata['val_macro_f1'] <= 1.0
    assert ckpt.fusion_strategies == ['early', 'late', 'attention']
    for strategy in ckpt.fusion_strategies:
        assert ckpt.build_fusion(strategy).config.strategy == strategy
    for m in ckpt.modalities:
        ckpt.build_encoder(m)


def _seq(label_values, nan=False):
    x = np.zeros((len(label_values), 6, 64), np.float32)
    if nan:
        x[0, 0, 0] = np.nan
    return SequenceData({'imu': x}, np.array(label_values), np.arange(len(label_values), dtype=float))


def test_nan_in_training_data_is_refused_before_training():
    config = tiny_config(encoders={'imu': 'imu_cnn1d'})
    with pytest.raises(ValueError, match='modality imu has NaN'):
        train(config, [_seq([0, 1, 2, 3, 4, 5], nan=True)], [_seq([0, 1])], progress=False)


def test_class_missing_from_training_split_is_refused():
    config = tiny_config(encoders={'imu': 'imu_cnn1d'})
    with pytest.raises(ValueError, match=r"no windows of class\(es\) \['running', 'waving'\]"):
        train(config, [_seq([0, 1, 2, 3] * 3)], [_seq([0, 1])], progress=False)


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match='unknown fusion strategy'):
        TrainConfig(strategy='late-ish')
