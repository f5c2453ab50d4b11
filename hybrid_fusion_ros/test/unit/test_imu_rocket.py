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

"""The random-convolution IMU encoder ``imu_rocket``: its features against a direct
computation, the data-fitted biases, the checkpoint and ONNX round trips, and training with it."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.encoders import available_encoders
from hybrid_fusion_ros.core.encoders import create_encoder
from hybrid_fusion_ros.core.encoders.imu_rocket import dilation_plan
from hybrid_fusion_ros.core.encoders.imu_rocket import KERNEL_LENGTH
from hybrid_fusion_ros.core.encoders.imu_rocket import NUM_KERNELS
from hybrid_fusion_tools.training.export import export_all
from hybrid_fusion_tools.training.train import train
from hybrid_fusion_tools.training.train import TrainConfig

CONFIG = {'length': 48, 'channels': 6, 'rocket_features': 504, 'feature_dim': 16}


def _windows(n: int, seed: int) -> np.ndarray:
    """IMU-like windows: a slow oscillation of random phase per channel plus noise."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, CONFIG['length'], dtype=np.float32)
    phase = rng.uniform(0, 2 * np.pi, size=(n, CONFIG['channels'], 1))
    freq = rng.uniform(1.0, 4.0, size=(n, 1, 1))
    x = np.sin(2 * np.pi * freq * t + phase) + 0.2 * rng.standard_normal(phase.shape[:2] + t.shape)
    return x.astype(np.float32)


def _tiny_config(hybrid: bool = True, **kw) -> TrainConfig:
    """A few seconds of training on simulated IMU windows."""
    encoder = {'rocket_features': 168, 'feature_dim': 16, 'hybrid': hybrid}
    base = {'train_episodes': 3, 'val_episodes': 1, 'epochs': 2, 'seq_len': 8, 'batch_size': 4}
    return TrainConfig(
        encoders={'imu': 'imu_rocket'},
        encoder_configs={'imu': encoder},
        extra_strategies=[],
        **{**base, **kw},
    )


@pytest.fixture(scope='module')
def fitted():
    enc = create_encoder('imu_rocket', CONFIG)
    enc.fit_data(_windows(200, 0), seed=0)
    return enc.eval()


def test_registered_and_planned_as_configured():
    assert 'imu_rocket' in available_encoders()
    plan = dilation_plan(48, 504, 32)
    assert sum(nb for _, nb in plan) == 504 // NUM_KERNELS
    # Every dilated kernel fits the window; the first is undilated.
    assert plan[0][0] == 1 and all((KERNEL_LENGTH - 1) * d < 48 for d, _ in plan)
    assert create_encoder('imu_rocket', CONFIG).rocket_dim == 504
    with pytest.raises(ValueError, match='rocket_features must be at least 84'):
        create_encoder('imu_rocket', {**CONFIG, 'rocket_features': 10})


def test_features_equal_a_direct_computation(fitted):
    """Each feature is the share of positions where one kernel, at one dilation, over the sum
    of its channels, exceeds one bias: recomputed here sample by sample in numpy."""
    x = _windows(2, 5)
    z = fitted.normalize(torch.from_numpy(x)).numpy().astype(np.float64)
    with torch.no_grad():
        got = fitted.ppv(torch.from_numpy(z.astype(np.float32))).numpy()
    kernels = fitted.kernels.numpy().astype(np.float64)  # (84 * dilations, C, 9)
    source = fitted.source.numpy()
    bias = fitted.rocket_bias.numpy()
    masks = fitted.time_masks.numpy()
    length = z.shape[2]
    rng = np.random.default_rng(1)
    for f in rng.choice(len(source), size=60, replace=False):
        row = source[f]
        d = fitted.plan[row // NUM_KERNELS][0]
        out = np.zeros((2, length))
        for t in range(length):
            for j in range(KERNEL_LENGTH):
                s = t + (j - KERNEL_LENGTH // 2) * d
                if 0 <= s < length:  # zero padding
                    out[:, t] += z[:, :, s] @ kernels[row, :, j]
        pooled = masks[f] > 0
        expected = (out[:, pooled] > bias[f]).mean(axis=1)
        np.testing.assert_allclose(got[:, f], expected, atol=1e-6)
    # Each kernel's weights: -1 but for three taps of 2, over a nonempty subset of channels.
    w = kernels[:NUM_KERNELS]
    used = np.abs(w).sum(axis=2) > 0
    assert used.any(axis=1).all()
    assert np.allclose(np.sort(w[used], axis=-1)[:, :6], -1.0)
    assert np.allclose(np.sort(w[used], axis=-1)[:, 6:], 2.0)


def test_difference_and_mpv_features_equal_a_direct_computation(tmp_path):
    """With ``difference`` and ``mpv`` the features are four blocks: PPV and MPV of the window,
    then of its first difference against biases of their own; MPV is the mean of the output's
    excess over the bias where it is above it. Recomputed here in numpy; ONNX gives them too."""
    enc = create_encoder('imu_rocket', {**CONFIG, 'difference': True, 'mpv': True})
    enc.fit_data(_windows(200, 0), seed=0)
    enc.eval()
    n = enc.per_series
    assert enc.rocket_dim == 4 * n and enc.rocket_bias.numel() == 2 * n
    # The window's own block is what the plain encoder computes.
    plain = create_encoder('imu_rocket', CONFIG)
    plain.fit_data(_windows(200, 0), seed=0)
    torch.testing.assert_close(enc.rocket_bias[:n], plain.rocket_bias)
    assert not torch.equal(enc.rocket_bias[n:], enc.rocket_bias[:n])
    x = _windows(2, 5)
    z = enc.normalize(torch.from_numpy(x)).numpy().astype(np.float64)
    with torch.no_grad():
        got = enc.rocket(torch.from_numpy(z.astype(np.float32))).numpy()
    series = [z, np.concatenate([np.zeros_like(z[..., :1]), np.diff(z, axis=-1)], axis=-1)]
    kernels = enc.kernels.numpy().astype(np.float64)
    source, bias, masks = enc.source.numpy(), enc.rocket_bias.numpy(), enc.time_masks.numpy()
    length = z.shape[2]
    for f in np.random.default_rng(2).choice(n, size=25, replace=False):
        row = source[f]
        d = enc.plan[row // NUM_KERNELS][0]
        for part, y in enumerate(series):
            out = np.zeros((2, length))
            for t in range(length):
                for j in range(KERNEL_LENGTH):
                    s = t + (j - KERNEL_LENGTH // 2) * d
                    if 0 <= s < length:
                        out[:, t] += y[:, :, s] @ kernels[row, :, j]
            b = bias[part * n + f]
            pooled = out[:, masks[f] > 0]
            above = pooled > b
            ppv = above.mean(axis=1)
            mpv = np.where(above, pooled - b, 0.0).sum(axis=1) / np.maximum(above.sum(axis=1), 1)
            np.testing.assert_allclose(got[:, 2 * part * n + f], ppv, atol=1e-6)
            np.testing.assert_allclose(got[:, (2 * part + 1) * n + f], mpv, rtol=1e-4, atol=1e-4)
    results = export_all({'imu': enc}, {}, tmp_path, formats=('onnx',))
    assert results[0].max_abs_diff <= 1e-4


def test_statistics_give_the_orientation_the_kernels_cannot_see(fitted, tmp_path):
    """The kernels sum to zero, so a window tilted by a constant offset gives nearly the same
    PPV features; with ``statistics`` imu_hybrid's window statistics follow them, standardized
    with them, and tell the two windows apart. ONNX gives the same features."""
    enc = create_encoder('imu_rocket', {**CONFIG, 'statistics': True, 'hybrid': False})
    enc.fit_data(_windows(200, 0), seed=0)
    enc.eval()
    n = enc.per_series
    x = torch.from_numpy(_windows(3, 9))
    tilted = x + torch.tensor([0.8, -0.5, 0.3, 0.0, 0.0, 0.0]).view(1, 6, 1)
    with torch.no_grad():
        stats = enc.window_statistics(x)
        assert enc.rocket_dim == n + stats.shape[1]
        torch.testing.assert_close(enc.unscaled_front(x)[:, n:], stats)
        torch.testing.assert_close(enc.unscaled_front(x)[:, :n], fitted.ppv(fitted.normalize(x)))
        # Only the zero padding at the ends lets a tilt through to the PPV features.
        moved = (enc.front(tilted) - enc.front(x)).abs()
        assert moved[:, n:].mean() > 5 * moved[:, :n].mean()
        assert torch.isfinite(enc.front(x)).all()
    results = export_all({'imu': enc}, {}, tmp_path, formats=('onnx',))
    assert results[0].max_abs_diff <= 1e-4


def test_biases_are_fitted_and_standardize_the_training_windows(fitted):
    x = _windows(200, 0)
    with torch.no_grad():
        raw = fitted.ppv(fitted.normalize(torch.from_numpy(x)))
    assert not torch.equal(fitted.rocket_bias, torch.zeros_like(fitted.rocket_bias))
    assert raw.min() >= 0.0 and raw.max() <= 1.0
    standardized = (raw - fitted.rocket_mean) / fitted.rocket_std
    assert standardized.mean(dim=0).abs().max() < 1e-4
    # Quantile biases leave most features varying over the training windows.
    assert (raw.std(dim=0) > 0.01).float().mean() > 0.5
    # The same data and seeds give the same biases; another kernel_seed other features.
    again = create_encoder('imu_rocket', CONFIG)
    again.fit_data(x, seed=0)
    assert torch.equal(again.rocket_bias, fitted.rocket_bias)
    other = create_encoder('imu_rocket', {**CONFIG, 'kernel_seed': 1})
    other.fit_data(x, seed=0)
    assert not torch.equal(other.kernels, fitted.kernels)
    with pytest.raises(ValueError, match=r'fit_data takes windows of shape \(N, C, L\)'):
        again.fit_data(np.zeros((0, 6, 48), dtype=np.float32))


def test_encoder_is_deterministic_and_tells_windows_apart(fitted):
    x = torch.from_numpy(_windows(3, 9))
    with torch.no_grad():
        a, b = fitted(x), fitted(x)
    assert a.shape == (3, 16) and torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a[0], a[1])


@pytest.mark.parametrize('hybrid', [True, False])
def test_exports_to_onnx_within_tolerance(fitted, hybrid, tmp_path):
    enc = create_encoder('imu_rocket', {**CONFIG, 'hybrid': hybrid})
    enc.fit_data(_windows(200, 0), seed=0)
    # Without the CNN branch the module holds the PPV projection alone.
    assert hasattr(enc, 'features') == hybrid
    results = export_all({'imu': enc.eval()}, {}, tmp_path, formats=('onnx',))
    assert [r.name for r in results] == ['encoder_imu']
    assert results[0].max_abs_diff <= 1e-4


def test_trained_biases_travel_in_the_checkpoint(tmp_path):
    """Training fits the biases on its own windows before the first epoch; a loaded
    checkpoint gives the trained encoder's features exactly."""
    config = _tiny_config(keep='last')
    result = train(config, progress=False)
    trained = result.model.encoders['imu']
    assert not torch.equal(trained.rocket_bias, torch.zeros_like(trained.rocket_bias))
    loaded = Checkpoint.load(result.checkpoint.save(tmp_path / 'rocket.pt'))
    enc = loaded.build_encoder('imu')[0]
    x = torch.randn(4, *enc.input_spec.shape)
    with torch.no_grad():
        torch.testing.assert_close(enc(x), trained.eval()(x))


def test_training_on_precomputed_fronts_equals_training_step_by_step(monkeypatch):
    """Without the CNN branch the PPV front end is fixed, so training runs it once per window
    before the first epoch; the weights come out as when every step runs the whole encoder."""
    from hybrid_fusion_tools.training import train as train_module

    config = _tiny_config(hybrid=False)
    enc = create_encoder('imu_rocket', config.encoder_configs['imu'])
    assert enc.fixed_front and train_module.fixed_fronts({'imu': enc}, config) == ['imu']
    # Augmented windows change every epoch: then the front runs in every step.
    assert train_module.fixed_fronts({'imu': enc}, replace(config, imu_rotation_deg=10)) == []
    once = train(config, progress=False)
    monkeypatch.setattr(train_module, 'fixed_fronts', lambda encoders, config: [])
    stepwise = train(config, progress=False)
    for key, value in once.model.state_dict().items():
        torch.testing.assert_close(value, stepwise.model.state_dict()[key], atol=1e-4, rtol=1e-4)
    assert once.val_report['macro_f1'] == pytest.approx(stepwise.val_report['macro_f1'])
