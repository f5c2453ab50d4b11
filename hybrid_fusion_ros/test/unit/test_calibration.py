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

"""Temperature scaling and the unknown threshold (core/calibration.py): numpy only."""

import json
import math

import numpy as np
import pytest

from hybrid_fusion_ros.core.calibration import Calibration
from hybrid_fusion_ros.core.calibration import choose_threshold
from hybrid_fusion_ros.core.calibration import coverage_curve
from hybrid_fusion_ros.core.calibration import describe
from hybrid_fusion_ros.core.calibration import expected_calibration_error
from hybrid_fusion_ros.core.calibration import fit_calibration
from hybrid_fusion_ros.core.calibration import fit_temperature


def softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def draw(n=4000, classes=5, true_t=2.5, scale=4.0, seed=0):
    """Logits ``z`` and labels drawn from ``softmax(z / true_t)``: a model whose scores are
    over-confident by a factor ``true_t``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, classes)) * scale
    z[np.arange(n), rng.integers(classes, size=n)] += scale  # a favourite class per window
    cdf = np.cumsum(softmax(z / true_t), axis=1)
    labels = (rng.random((n, 1)) > cdf).sum(axis=1)
    return z, np.minimum(labels, classes - 1)


def test_temperature_fit_recovers_the_temperature_labels_were_drawn_with():
    z, y = draw()
    fitted = fit_temperature(softmax(z), y)
    assert fitted == pytest.approx(2.5, rel=0.15)
    # From logits or from log-probabilities: the same probabilities, so the same fit.
    assert fit_temperature(softmax(np.log(softmax(z))), y) == pytest.approx(fitted, rel=1e-3)
    # Labels drawn from the scores as they are: nothing to correct.
    z1, y1 = draw(true_t=1.0, seed=1)
    assert fit_temperature(softmax(z1), y1) == pytest.approx(1.0, rel=0.15)


def test_ece_drops_after_fitting_over_confident_scores():
    z, y = draw(seed=2)
    cal = fit_calibration(softmax(z), y)
    assert cal.fitted_on == len(y)
    assert cal.ece_before > 0.1  # over-confident by a factor 2.5
    assert cal.ece_after < cal.ece_before / 3
    assert cal.ece_after == pytest.approx(
        expected_calibration_error(cal.probabilities(z), y), abs=1e-6
    )
    # A perfectly calibrated model has an ECE near 0; one always sure and always right has 0.
    assert expected_calibration_error(softmax(z / 2.5), y) < 0.03
    assert expected_calibration_error(np.eye(3)[[0, 1, 2, 1]], [0, 1, 2, 1]) == 0.0


def test_threshold_keeps_about_keep_of_the_correct_windows():
    z, y = draw(seed=3)
    cal = fit_calibration(softmax(z), y, keep=0.95)
    probs = cal.probabilities(z)
    conf, right = probs.max(axis=1), probs.argmax(axis=1) == y
    kept = (conf[right] >= cal.threshold).mean()
    assert 0.95 <= kept < 0.96
    assert 1 / 5 <= cal.threshold < 1
    assert cal.coverage == pytest.approx((conf >= cal.threshold).mean())
    assert cal.selective_accuracy == pytest.approx(right[conf >= cal.threshold].mean())
    assert cal.selective_accuracy > right.mean()  # what it rejects is mostly wrong
    assert '0.95' in cal.rule and 'correctly classified' in cal.rule
    assert choose_threshold(probs, y, keep=0.8) > cal.threshold
    # Nothing right: never unknown.
    wrong = (probs.argmax(axis=1) + 1) % 5
    assert choose_threshold(probs, wrong) == 0.0
    with pytest.raises(ValueError, match='keep'):
        choose_threshold(probs, y, keep=0.0)


def test_rows_without_a_label_or_probabilities_are_left_out():
    z, y = draw(n=200, seed=4)
    probs = softmax(z)
    noisy_probs = np.concatenate([probs, np.full((30, 5), np.nan), softmax(z[:30])])
    noisy_y = np.concatenate([y, y[:30], -np.ones(30, dtype=np.int64)])
    assert fit_temperature(noisy_probs, noisy_y) == pytest.approx(fit_temperature(probs, y))
    assert fit_calibration(noisy_probs, noisy_y) == fit_calibration(probs, y)
    curve = coverage_curve(noisy_probs, noisy_y)
    assert curve['coverage'][0] == 1.0 and np.all(np.diff(curve['coverage']) < 0)
    assert np.all(np.diff(curve['threshold']) > 0)
    assert curve['selective_accuracy'][0] == pytest.approx((probs.argmax(1) == y).mean())
    assert curve['coverage'][-1] * len(y) >= 1
    empty = coverage_curve(np.zeros((0, 5)), np.zeros(0, dtype=np.int64))
    assert all(len(v) == 0 for v in empty.values())
    assert math.isnan(expected_calibration_error(np.zeros((0, 3)), []))


def test_identity_calibration_is_the_plain_softmax():
    cal = Calibration()
    assert cal.identity and Calibration.from_dict(None).identity
    assert Calibration.from_dict({}) == cal
    z = np.array([[1.0, 2.0, 3.0], [1000.0, -1000.0, 0.0]])
    got = cal.probabilities(z)
    assert got.dtype == np.float32 and got.shape == (2, 3)
    np.testing.assert_allclose(got, softmax(z), rtol=1e-6, atol=1e-7)
    one = cal.probabilities(np.log([0.2, 0.3, 0.5]))
    np.testing.assert_allclose(one, [0.2, 0.3, 0.5], rtol=1e-6)
    hot = Calibration(temperature=2.0).probabilities(z)
    np.testing.assert_allclose(hot, softmax(z / 2), rtol=1e-6, atol=1e-7)
    assert not Calibration(temperature=2.0).identity
    assert not Calibration(threshold=0.4).identity


def test_too_few_windows_give_the_identity_and_say_why():
    z, y = draw(n=19, seed=5)
    cal = fit_calibration(softmax(z), y, min_windows=20)
    assert cal.identity and cal.fitted_on == 19 and cal.ece_after is None
    assert 'too few validation windows (19 < 20)' in cal.rule
    assert describe(cal.to_dict()).startswith('calibration: none (too few')
    assert describe({}) == 'calibration: none (no validation windows)'


def test_dict_round_trip_and_bad_values_are_refused():
    z, y = draw(n=300, seed=6)
    cal = fit_calibration(softmax(z), y)
    d = json.loads(json.dumps(cal.to_dict()))
    assert Calibration.from_dict(d) == cal
    assert all(type(v) in (float, int, str) for v in d.values())
    line = describe(d)
    assert line.startswith(f'calibration: temperature {cal.temperature:.3g}, ECE ')
    assert 'unknown below' in line and 'accuracy on them' in line
    assert Calibration.from_dict({'temperature': 2, 'newer_key': 1}).temperature == 2.0
    for bad, match in (
        ({'temperature': 0.0}, 'temperature must be a finite number > 0'),
        ({'temperature': -1.0}, 'temperature'),
        ({'temperature': float('inf')}, 'temperature'),
        ({'temperature': float('nan')}, 'temperature'),
        ({'temperature': 'hot'}, 'temperature must be a number'),
        ({'threshold': 1.5}, r'threshold must be a number in \[0, 1\]'),
        ({'threshold': -0.1}, 'threshold'),
        ({'threshold': float('nan')}, 'threshold'),
    ):
        with pytest.raises(ValueError, match=match):
            Calibration.from_dict(bad)
