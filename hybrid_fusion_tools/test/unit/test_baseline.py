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

"""The classical baselines the benchmarks run beside the network: the forest and MiniRocket."""

import subprocess
import sys

import numpy as np
import pytest

from hybrid_fusion_tools.training.baseline import available_baselines
from hybrid_fusion_tools.training.baseline import baseline_applies
from hybrid_fusion_tools.training.baseline import choose_baselines
from hybrid_fusion_tools.training.baseline import fit_predict
from hybrid_fusion_tools.training.baseline import MiniRocketRidge


def _recordings(seed: int, n: int = 6, windows: int = 12):
    """Recordings of one class each: class 0 a slow sine, 1 a fast one, 2 a square wave, on 3
    axes with noise, and a depth clip whose brightness carries no class at all."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 2.0, 64)
    recs, labels = [], []
    for i in range(n):
        label = i % 3
        phase = rng.uniform(0, 2 * np.pi, size=(windows, 3, 1))
        if label == 0:
            x = np.sin(2 * np.pi * 1.0 * t + phase)
        elif label == 1:
            x = np.sin(2 * np.pi * 4.0 * t + phase)
        else:
            x = np.sign(np.sin(2 * np.pi * 1.0 * t + phase))
        x = x + 0.3 * rng.standard_normal(x.shape)
        depth = rng.uniform(size=(windows, 8, 12, 16))
        recs.append({'imu': x.astype(np.float32), 'depth': depth.astype(np.float32)})
        labels.append(np.full(windows, label))
    return recs, labels


TYPES = {'imu': 'imu', 'depth': 'camera'}


@pytest.mark.parametrize('kind', available_baselines())
def test_each_baseline_learns_held_out_recordings(kind):
    train, y_train = _recordings(0)
    test, y_test = _recordings(1)
    pred = fit_predict(
        kind, train, np.concatenate(y_train), test, TYPES, 2.0, ['imu', 'depth'], seed=0
    )
    assert pred.shape == (sum(len(y) for y in y_test),)
    assert (pred == np.concatenate(y_test)).mean() > 0.9


_THREADS_AFTER = """
import sys
import numpy as np
import torch
torch.set_num_threads(1)
# As a fold's network does before its baselines: torch's OpenMP threads have run.
assert torch.get_num_threads() == 1 and torch.randn(64, 64).matmul(torch.randn(64, 64)).shape
x = np.random.default_rng(0).standard_normal((40, 3, 64)).astype(np.float32)
y = np.arange(40) % 2
if sys.argv[1] == 'aeon':
    from aeon.transformations.collection.convolution_based import MiniRocket
    MiniRocket(n_kernels=840, n_jobs=-1, random_state=0).fit_transform(x)
else:
    from hybrid_fusion_tools.training.baseline import fit_predict
    fit_predict(sys.argv[1], [{'imu': x}], y, [{'imu': x[:4]}], {'imu': 'imu'}, 2.0, ['imu'], 0)
print(torch.get_num_threads())
"""


def test_baselines_leave_torch_on_its_thread_count():
    """aeon's MiniRocket resets the OpenMP thread count torch shares (the first time numba's
    threads start in a process, so each case runs in a fresh interpreter); after a baseline, the
    next fold's network must still run on the threads it was given, or its figures depend on
    whether a baseline ran first."""
    pytest.importorskip('torch')
    pytest.importorskip('aeon')

    def threads_after(what: str) -> int:
        out = subprocess.run(
            [sys.executable, '-c', _THREADS_AFTER, what], capture_output=True, text=True,
            timeout=300, check=True,
        )
        return int(out.stdout.split()[-1])

    if threads_after('aeon') == 1:
        pytest.skip('aeon left the thread count alone here (one core, or another numba layer)')
    for kind in available_baselines():
        assert threads_after(kind) == 1, kind


def test_minirocket_is_one_of_the_baselines_here():
    # requirements/python.txt installs aeon: the benchmarks must not quietly lose MiniRocket.
    pytest.importorskip('aeon')
    assert available_baselines() == ['forest', 'minirocket']
    assert choose_baselines([]) == ['forest', 'minirocket']
    assert choose_baselines(['minirocket', 'minirocket']) == ['minirocket']


def test_minirocket_with_more_windows_than_features_still_learns():
    # MEx's case at a small scale: 168 features for 360 windows takes the subsampled route
    # to alpha (core/baseline.py _ridge), then fits on every window.
    pytest.importorskip('aeon')
    train, y_train = _recordings(0, n=6, windows=60)
    test, y_test = _recordings(1)

    def stack(recs):
        return {'imu': np.concatenate([r['imu'] for r in recs])}

    model = MiniRocketRidge(TYPES, 2.0, ['imu'], seed=0, features=168)
    model.fit(stack(train), np.concatenate(y_train))
    assert model._head.__class__.__name__ == 'RidgeClassifier'
    assert (model.predict(stack(test)) == np.concatenate(y_test)).mean() > 0.9


def test_minirocket_needs_a_series():
    recs, _ = _recordings(0, n=1)
    assert baseline_applies('minirocket', [recs[0]['imu'], recs[0]['depth']])
    # A depth clip of 8 frames is not a series MiniRocket can take; the forest takes anything.
    assert not baseline_applies('minirocket', [recs[0]['depth']])
    assert baseline_applies('forest', [recs[0]['depth']])


def test_unknown_baselines_are_refused_by_name():
    with pytest.raises(ValueError, match='unknown baseline'):
        choose_baselines(['svm'])
    with pytest.raises(ValueError, match='unknown baseline'):
        fit_predict('svm', [], np.zeros(0), [], TYPES, 2.0, ['imu'], seed=0)
