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

"""Encoders, fusion model and checkpoints (ROS-free core)."""

import numpy as np
import pytest
import torch

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.checkpoint import CheckpointError
from hybrid_fusion_ros.core.encoders import available_encoders
from hybrid_fusion_ros.core.encoders import create_encoder
from hybrid_fusion_ros.core.fusion import FusionConfig
from hybrid_fusion_ros.core.fusion import FusionModel
from hybrid_fusion_ros.core.plugins import PluginError
from hybrid_fusion_ros.core.windows import WindowSpec
from hybrid_fusion_tools.data.dataset import cut_windows
from hybrid_fusion_tools.data.simulation import Episode
from hybrid_fusion_tools.data.simulation import episode_streams

BUILTIN = ['audio_logmel_cnn', 'camera_cnn', 'imu_cnn1d']


@pytest.fixture(scope='module')
def windows():
    ep = Episode(6.0, seed=3, t0=50.0)
    streams = episode_streams(ep)
    return cut_windows(streams, WindowSpec(), np.array([52.0, 53.5, 55.0]), {'audio': 16000.0})


def test_builtin_encoders_are_registered_as_entry_points():
    assert set(BUILTIN) <= set(available_encoders())


@pytest.mark.parametrize('name', BUILTIN)
def test_encoder_shape_finite_and_deterministic(name, windows):
    torch.manual_seed(0)
    enc = create_encoder(name).eval()
    x = np.stack([enc.preprocess(w) for w in windows[enc.modality]])
    assert x.shape[1:] == enc.input_spec.shape
    assert x.dtype == np.float32 and np.isfinite(x).all()
    with torch.no_grad():
        a = enc(torch.from_numpy(x))
        b = enc(torch.from_numpy(x))
    assert a.shape == (3, enc.output_dim)
    assert torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a[0], a[1]), 'different windows should give different features'


def test_unknown_encoder_names_the_available_ones():
    with pytest.raises(PluginError, match='available: .*camera_cnn'):
        create_encoder('no_such_encoder')


def test_unknown_encoder_config_key_is_rejected():
    with pytest.raises(ValueError, match='unknown config key'):
        create_encoder('imu_cnn1d', {'lenght': 10})


@pytest.mark.parametrize('strategy', ['early', 'attention', 'gmu', 'late'])
def test_streaming_equals_batch(strategy):
    torch.manual_seed(0)
    model = FusionModel(FusionConfig(['a', 'b', 'c'], [8, 4, 6], 5, strategy)).eval()
    feats = [torch.randn(2, 7, d) for d in (8, 4, 6)]
    mask = (torch.rand(2, 7, 3) > 0.3).float()
    with torch.no_grad():
        batch, _ = model(feats, mask)
        state = None
        for t in range(7):
            out = model.step([f[:, t] for f in feats], mask[:, t], state)
            state = out.state
            torch.testing.assert_close(out.logits, batch[:, t], atol=1e-5, rtol=1e-5)


def test_masked_modality_has_no_influence():
    torch.manual_seed(1)
    for strategy in ('early', 'attention', 'gmu', 'late'):
        model = FusionModel(FusionConfig(['a', 'b'], [4, 4], 3, strategy)).eval()
        a = torch.randn(1, 4)
        mask = torch.tensor([[1.0, 0.0]])
        with torch.no_grad():
            x = model.step([a, torch.randn(1, 4)], mask).logits
            y = model.step([a, torch.randn(1, 4) * 100], mask).logits
        torch.testing.assert_close(x, y)


@pytest.mark.parametrize('strategy', ['attention', 'gmu'])
def test_attention_weights_cover_present_modalities_only(strategy):
    model = FusionModel(FusionConfig(['a', 'b', 'c'], [4, 4, 4], 3, strategy)).eval()
    with torch.no_grad():
        out = model.step(
            [torch.randn(2, 4) for _ in range(3)], torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
        )
    w = out.modality_weights
    assert torch.allclose(w[0].sum(), torch.tensor(1.0)) and w[0, 2] == 0
    assert torch.all(w[1] == 0)


@pytest.mark.parametrize(
    'kwargs, match',
    [
        ({'strategy': 'nope'}, 'unknown fusion strategy'),
        ({'modalities': ['a', 'a'], 'feature_dims': [1, 1]}, 'duplicate'),
        ({'num_classes': 1}, 'num_classes'),
    ],
)
def test_bad_fusion_config(kwargs, match):
    base = {'modalities': ['a', 'b'], 'feature_dims': [2, 2], 'num_classes': 3}
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        FusionConfig(**base)


def test_checkpoint_round_trip(tmp_path, default_checkpoint, windows):
    path = default_checkpoint.save(tmp_path / 'copy.pt')
    raw = torch.load(path, weights_only=True)  # no pickled code needed to open it
    assert raw['classes'] == default_checkpoint.classes
    loaded = Checkpoint.load(path)
    assert loaded.window == default_checkpoint.window
    for m in loaded.modalities:
        a, _ = default_checkpoint.build_encoder(m)
        b, has_weights = loaded.build_encoder(m)
        assert has_weights
        w = windows[m][0]
        np.testing.assert_array_equal(a.encode(w), b.encode(w))


def test_missing_and_corrupt_checkpoints_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match='nope.pt: no such file'):
        Checkpoint.load(tmp_path / 'nope.pt')
    bad = tmp_path / 'bad.pt'
    bad.write_bytes(b'this is not a checkpoint')
    with pytest.raises(CheckpointError, match='bad.pt: cannot be read'):
        Checkpoint.load(bad)
    other = tmp_path / 'other.pt'
    torch.save({'weights': torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match='not a hybrid_fusion_ros checkpoint'):
        Checkpoint.load(other)
