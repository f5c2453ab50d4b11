# Copyright 2026 The hybrid_fusion_ros authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""A tiny end-to-end training run and the checks that run before training."""

import numpy as np
import pytest
import torch

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_tools.data.dataset import SequenceData
from hybrid_fusion_tools.training.train import add_heads
from hybrid_fusion_tools.training.train import LinearFrontEnd
from hybrid_fusion_tools.training.train import train
from hybrid_fusion_tools.training.train import TrainConfig


def tiny_config(**kw):
    base = {
        'train_episodes': 3,
        'val_episodes': 1,
        'episode_seconds': 40.0,
        'epochs': 2,
        'seq_len': 8,
        'batch_size': 4,
        'extra_epochs': 1,
    }
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
    assert ckpt.fusion_strategies == ['early', 'late', 'attention', 'gmu']
    for strategy in ckpt.fusion_strategies:
        assert ckpt.build_fusion(strategy).config.strategy == strategy
    for m in ckpt.modalities:
        ckpt.build_encoder(m)

    # A head added later trains on the same frozen encoders and leaves the others alone.
    ckpt.extra_fusion.pop('gmu')
    grown = add_heads(ckpt, ['gmu'], progress=False)
    assert grown.fusion_strategies == ['early', 'late', 'attention', 'gmu']
    assert 0.0 <= grown.metadata['extra_val']['gmu']['macro_f1'] <= 1.0
    for key, value in ckpt.extra_fusion['late']['state_dict'].items():
        assert torch.equal(grown.extra_fusion['late']['state_dict'][key], value)
    assert (
        Checkpoint.load(grown.save(tmp_path / 'grown.pt')).build_fusion('gmu').config.strategy
        == 'gmu'
    )


def test_keep_last_runs_every_epoch_and_keeps_the_final_weights():
    """With keep='last' no epoch is skipped by early stopping, whatever the patience, and the
    model ends with the last epoch's weights, not the best one's."""
    config = tiny_config(encoders={'imu': 'imu_hybrid'}, epochs=4, patience=1, keep='last',
                         extra_strategies=[])
    result = train(config, progress=False)
    assert [h['epoch'] for h in result.history] == [1, 2, 3, 4]
    # The deployed figure over every window is the last epoch's (the printed one leaves out the
    # windows the calibration labels unknown).
    final = result.val_report['all_windows']['macro_f1']
    assert final == pytest.approx(result.history[-1]['val_macro_f1'])
    with pytest.raises(ValueError, match="keep must be 'best' or 'last'"):
        TrainConfig(keep='median')


def test_keep_best_counts_patience_from_the_last_improvement():
    """The first epoch always improves on nothing, so early stopping can come after epoch
    patience + 1 at the earliest; the best epoch's weights are the ones kept."""
    config = tiny_config(encoders={'imu': 'imu_cnn1d'}, epochs=8, patience=2,
                         extra_strategies=[])
    result = train(config, progress=False)
    scores = [h['val_macro_f1'] for h in result.history]
    assert len(scores) >= config.patience + 1
    best = int(np.argmax(scores))
    assert len(scores) == config.epochs or len(scores) == best + 1 + config.patience
    assert result.val_report['all_windows']['macro_f1'] == pytest.approx(scores[best])


def test_keep_last_trains_without_validation_data_and_best_refuses_to():
    """keep='last' chooses nothing on validation data, so training may use every recording;
    keep='best' cannot choose an epoch without any and says so."""
    from hybrid_fusion_ros.core.encoders import create_encoder
    from hybrid_fusion_tools.training.train import simulated_splits
    from hybrid_fusion_ros.core.windows import WindowSpec

    config = tiny_config(encoders={'imu': 'imu_cnn1d'}, epochs=2, keep='last',
                         extra_strategies=['late'])
    seqs, _ = simulated_splits(
        config, WindowSpec(), {'imu': create_encoder('imu_cnn1d')}, progress=False
    )
    result = train(config, seqs, [], progress=False)
    assert result.val_report is None
    assert [sorted(h) for h in result.history] == [['epoch', 'loss', 'steps']] * 2
    assert result.checkpoint.metadata['val_macro_f1'] is None
    assert result.checkpoint.metadata['extra_val']['late']['macro_f1'] is None
    with pytest.raises(ValueError, match="keep 'best' chooses an epoch on validation data"):
        train(tiny_config(encoders={'imu': 'imu_cnn1d'}), seqs, [], progress=False)


@pytest.mark.parametrize('drop_one', [0.0, 1.0])
def test_drop_one_modality_takes_one_input_away_for_a_whole_chunk(drop_one):
    """drop_one_modality=1: every training chunk loses exactly one input, the same one at every
    step, and each input is the lost one in some chunk; 0 (the default) masks nothing here."""
    from hybrid_fusion_ros.core.encoders import create_encoder
    from hybrid_fusion_ros.core.fusion import FusionConfig
    from hybrid_fusion_ros.core.fusion import FusionModel
    from hybrid_fusion_tools.data.simulation import CLASSES
    from hybrid_fusion_tools.training.train import ActivityModel
    from hybrid_fusion_tools.training.train import fit
    from hybrid_fusion_tools.training.train import simulated_splits
    from hybrid_fusion_ros.core.windows import WindowSpec

    names = {'imu': 'imu_cnn1d', 'audio': 'audio_logmel_cnn'}
    config = tiny_config(encoders=names, modality_dropout=0.0, drop_one_modality=drop_one,
                         extra_strategies=[])
    encoders = {m: create_encoder(n) for m, n in names.items()}
    train_seqs, val_seqs = simulated_splits(config, WindowSpec(), encoders, progress=False)
    fusion = FusionModel(
        FusionConfig(list(names), [e.output_dim for e in encoders.values()], len(CLASSES))
    )
    model = ActivityModel(encoders, fusion)
    masks = []
    model.register_forward_pre_hook(
        lambda module, args: masks.append(args[1].clone()) if module.training else None
    )
    fit(model, train_seqs, val_seqs, config, CLASSES, 1, False, 'test')
    mask = torch.cat(masks)
    assert mask.shape[1:] == (config.seq_len, 2)
    if drop_one == 0.0:
        assert bool(mask.all())
        return
    assert bool((mask.sum(-1) == 1).all()), 'one input of two left at every step'
    assert bool((mask == mask[:, :1]).all()), 'the same one for the whole chunk'
    assert mask[:, 0, 0].any() and mask[:, 0, 1].any(), 'either input may be the lost one'
    with pytest.raises(ValueError, match='drop_one_modality is a probability'):
        TrainConfig(drop_one_modality=1.5)


def test_average_last_ends_with_the_mean_of_the_last_epochs_weights():
    """keep='last' with average_last=2: the final weights are the mean of the weights at the
    end of the last two epochs (read after every optimizer step), and validation scores them."""
    from hybrid_fusion_ros.core.encoders import create_encoder
    from hybrid_fusion_ros.core.fusion import FusionConfig
    from hybrid_fusion_ros.core.fusion import FusionModel
    from hybrid_fusion_tools.data.simulation import CLASSES
    from hybrid_fusion_tools.training.train import ActivityModel
    from hybrid_fusion_tools.training.train import fit
    from hybrid_fusion_tools.training.train import simulated_splits
    from hybrid_fusion_ros.core.windows import WindowSpec
    from torch.optim.optimizer import register_optimizer_step_post_hook

    config = tiny_config(encoders={'imu': 'imu_cnn1d'}, epochs=3, keep='last', average_last=2,
                         extra_strategies=[])
    encoder = create_encoder('imu_cnn1d')
    train_seqs, val_seqs = simulated_splits(config, WindowSpec(), {'imu': encoder},
                                            progress=False)
    model = ActivityModel(
        {'imu': encoder}, FusionModel(FusionConfig(['imu'], [encoder.output_dim], len(CLASSES)))
    )
    after_step = []
    handle = register_optimizer_step_post_hook(
        lambda *_: after_step.append({k: v.clone() for k, v in model.state_dict().items()})
    )
    try:
        history, report = fit(model, train_seqs, val_seqs, config, CLASSES, 3, False, 'test')
    finally:
        handle.remove()
    steps = [h['steps'] for h in history]
    assert sum(steps) == len(after_step) and min(steps) > 0
    ends = [after_step[steps[0] + steps[1] - 1], after_step[-1]]
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(value, (ends[0][key] + ends[1][key]) / 2)
    weights = [k for k in ends[1] if k.endswith('weight')]
    assert any(not torch.equal(model.state_dict()[k], ends[1][k]) for k in weights)
    from hybrid_fusion_ros.core.metrics import classification_report
    from hybrid_fusion_tools.training.train import predict

    labels = np.concatenate([s.labels for s in val_seqs])
    again = classification_report(labels, predict(model, val_seqs), CLASSES)
    assert report['macro_f1'] == again['macro_f1']
    with pytest.raises(ValueError, match="average_last 3 needs keep 'last'"):
        TrainConfig(average_last=3)


def test_linear_front_end_ablation_trains_without_a_checkpoint():
    result = train(tiny_config(encoders={'imu': 'imu_cnn1d'}, front_end='linear'), progress=False)
    assert result.checkpoint is None and isinstance(result.model.encoders['imu'], LinearFrontEnd)
    assert 0.0 <= result.val_report['macro_f1'] <= 1.0
    with pytest.raises(ValueError, match="front_end must be 'cnn' or 'linear'"):
        TrainConfig(front_end='mlp')


def test_ablation_summary_checks_the_targets():
    from hybrid_fusion_tools.training.ablation import AblationConfig
    from hybrid_fusion_tools.training.ablation import markdown
    from hybrid_fusion_tools.training.ablation import summarize

    def seed(single, pair, full, removed, late_removed=0.0):
        rows = {
            f'{m} only': {'macro_f1': single[i], 'accuracy': single[i]}
            for i, m in enumerate(('camera', 'imu', 'audio'))
        }
        for name in ('imu + audio', 'camera + audio', 'camera + imu'):
            rows[name] = {'macro_f1': pair, 'accuracy': pair}
        rows['all, early'] = {'macro_f1': full, 'accuracy': full}
        for m in ('camera', 'imu', 'audio'):
            rows[f'all, early, {m} removed at test'] = {'macro_f1': removed, 'accuracy': removed}
            for head, v in (('late', late_removed), ('gmu', 0.0), ('attention', 0.0)):
                rows[f'all, {head}, {m} removed at test'] = {'macro_f1': v, 'accuracy': v}
        return rows

    s = summarize(
        [
            seed([0.5, 0.6, 0.4], 0.7, 0.75, 0.72, 0.75),
            seed([0.5, 0.6, 0.4], 0.7, 0.65, 0.68, 0.8),
        ],
        AblationConfig(seeds=2),
    )
    t = s['targets']
    assert t['fused_vs_best_single']['margin_points'] == pytest.approx(10.0)
    assert t['fused_vs_best_single']['met'] is True  # 0.70 >= 0.60 + 0.10
    # The strongest fusion strategy with the modality masked counts: late, 0.775 against 0.70.
    assert t['imu_removed']['met'] is True
    assert t['imu_removed']['strategy'] == 'late'
    assert t['imu_removed']['masked_full_model_macro_f1'] == pytest.approx(0.775)
    assert s['table']['all, early']['macro_f1']['std'] == pytest.approx(
        np.std([0.75, 0.65], ddof=1)
    )
    text = markdown(s)
    assert '| all, early | 0.700 ± 0.071 |' in text and '(+10.0 points) | yes |' in text
    assert '| late fusion 0.775 (early 0.700) vs 0.700 | yes |' in text


def _seq(label_values, nan=False):
    x = np.zeros((len(label_values), 6, 64), np.float32)
    if nan:
        x[0, 0, 0] = np.nan
    return SequenceData(
        {'imu': x}, np.array(label_values), np.arange(len(label_values), dtype=float)
    )


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


@pytest.mark.parametrize(
    'encoders, match',
    [
        ({'lidar': 'lidar_cnn'}, "unknown encoder 'lidar_cnn'"),
        ({'lidar': 'imu_cnn1d'}, "encoder 'imu_cnn1d' is for sensor type 'imu', not 'lidar'"),
        ({}, 'encoders is empty'),
    ],
)
def test_unknown_modality_or_encoder_is_refused_before_training(encoders, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(encoders=encoders)


def test_train_command_reports_mean_and_std_over_seeds(tmp_path):
    import json
    import subprocess
    import sys

    import yaml

    config = tmp_path / 'tiny.yaml'
    config.write_text(
        yaml.safe_dump(
            {
                'encoders': {'imu': 'imu_cnn1d'},
                'train_episodes': 5,
                'val_episodes': 1,
                'episode_seconds': 40.0,
                'epochs': 1,
                'seq_len': 8,
                'batch_size': 4,
                'extra_epochs': 1,
                'extra_strategies': ['gmu'],
            }
        )
    )
    out = tmp_path / 'report'
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'hybrid_fusion_ros.cli',
            'train',
            '--config',
            str(config),
            '--seeds',
            '2',
            '--report',
            str(out),
            '-o',
            str(tmp_path / 'm.pt'),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / 'metrics.json').read_text())
    assert metrics['seeds'] == [0, 1] and metrics['val_macro_f1']['n'] == 2
    f1 = [r['val_macro_f1'] for r in metrics['runs']]
    assert metrics['val_macro_f1']['mean'] == pytest.approx(np.mean(f1))
    assert metrics['val_macro_f1']['std'] == pytest.approx(np.std(f1, ddof=1))
    assert set(metrics['heads']) == {'gmu'}
    assert (out / 'confusion.png').stat().st_size > 0
    assert 'over 2 seed(s)' in proc.stdout
    assert Checkpoint.load(tmp_path / 'm.pt').metadata['train_config']['seed'] == 0
