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

"""The real smartwatch data loader, the classical baseline's features and IMU augmentation."""

import numpy as np
import torch

from hybrid_fusion_ros.core.encoders import create_encoder
from hybrid_fusion_ros.core.windows import WindowSpec
from hybrid_fusion_tools.data.watch import load_watch
from hybrid_fusion_tools.data.watch import recording_features
from hybrid_fusion_tools.data.watch import recording_sequence
from hybrid_fusion_tools.data.watch import subject_folds
from hybrid_fusion_tools.data.watch import window_features
from hybrid_fusion_tools.training.train import augment_imu
from hybrid_fusion_tools.training.train import random_rotations


def test_watch_recordings_load_with_labels_and_subjects():
    recordings, classes = load_watch()
    assert len(recordings) == 140 and len(classes) == 7
    assert np.bincount([r.label for r in recordings]).tolist() == [20] * 7
    assert sorted({r.subject for r in recordings}) == list(range(1, 11))
    assert all(r.samples.shape[1] == 6 and len(r.samples) >= 947 for r in recordings)


def test_windows_and_baseline_features_line_up():
    recordings, _ = load_watch()
    spec = WindowSpec(2.0, 0.5)
    rec = recordings[0]
    seq = recording_sequence(rec, spec, create_encoder('imu_cnn1d', {'acc_scale': 1.0}))
    feats = recording_features(rec, spec)
    assert seq.inputs['imu'].shape[1:] == (6, 64)
    assert len(feats) == len(seq) == int((len(rec.samples) / 50.0 - 2.0) / 0.5) + 1
    assert np.isfinite(feats).all() and (seq.labels == rec.label).all()


def test_window_features_see_frequency_and_orientation():
    t = np.arange(100) / 50.0
    slow = np.stack(
        [np.sin(2 * np.pi * 1.0 * t)] + [np.zeros_like(t) + 0.1 * i for i in range(1, 6)], 1
    )
    fast = slow.copy()
    fast[:, 0] = np.sin(2 * np.pi * 4.0 * t)
    a, b = window_features(slow), window_features(fast)
    assert a.shape == b.shape and np.isfinite(a).all()
    dominant = 9 * 6  # the dominant-frequency block (10th per-channel statistic)
    assert a[dominant] == 1.0 and b[dominant] == 4.0


def test_subject_folds_are_disjoint_and_complete():
    folds = subject_folds(list(range(1, 11)) * 3, 5)
    flat = [s for f in folds for s in f]
    assert sorted(flat) == list(range(1, 11)) and all(len(f) == 2 for f in folds)


def test_rotation_augmentation_preserves_vector_norms():
    g = torch.Generator().manual_seed(0)
    rot = random_rotations(50, 30.0, g)
    torch.testing.assert_close(
        rot @ rot.transpose(1, 2), torch.eye(3).expand(50, 3, 3), atol=1e-5, rtol=0
    )
    x = torch.randn(3, 4, 6, 64)
    y = augment_imu(x, 30.0, 0.0, g)
    torch.testing.assert_close(y[:, :, :3].norm(dim=2), x[:, :, :3].norm(dim=2), atol=1e-5, rtol=0)
    assert not torch.allclose(x, y)
