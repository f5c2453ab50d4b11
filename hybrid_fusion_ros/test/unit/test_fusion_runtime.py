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

"""The fusion run-time policy (core/fusion_runtime.py) on plain values, without rclpy: every
mode, masks, stale inputs, gaps, clock jumps, out-of-order and invalid features, input
timeouts, rate and parameter changes. A stepper without a model stands in for the network;
the last tests run the torch backend on the packaged checkpoint."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import List, Sequence, Tuple

import numpy as np
import pytest

from hybrid_fusion_ros.core.fusion_runtime import Feature
from hybrid_fusion_ros.core.fusion_runtime import FusionRuntime
from hybrid_fusion_ros.core.fusion_runtime import FusionSettings
from hybrid_fusion_ros.core.fusion_runtime import NS_PER_S
from hybrid_fusion_ros.core.fusion_runtime import StepResult

ALL = ('camera', 'imu', 'audio')
CI = ('camera', 'imu')
DIMS = (4, 3, 2)
CLASSES = ('idle', 'walking', 'running')


def ns(seconds: float) -> int:
    return int(round(seconds * NS_PER_S))


class CountingStepper:
    """A stepper without a model. Early/async: the state counts the steps since a fresh state
    and the logits pick class ``steps % 3``. Late: the state counts the updates per modality.
    Every call is recorded."""

    def __init__(self, weights: bool = False) -> None:
        self.modalities, self.feature_dims = list(ALL), list(DIMS)
        self.weights = weights
        self.calls: List[tuple] = []

    def step(self, features, mask, state) -> StepResult:
        self.calls.append(('step', [np.array(f) for f in features], mask.copy(), state))
        steps = (state or 0) + 1
        weights = mask / mask.sum() if self.weights else None
        return StepResult(np.eye(3)[steps % 3] * 10.0, weights, steps)

    def late_update(self, features, mask, state):
        self.calls.append(('late_update', [np.array(f) for f in features], mask.copy(), state))
        counts = dict(state or {})
        index = int(np.argmax(mask))
        counts[index] = counts.get(index, 0) + 1
        return counts

    def decide(self, state, mask) -> Tuple[np.ndarray, np.ndarray]:
        self.calls.append(('decide', mask.copy(), dict(state)))
        return np.log(np.full(3, 1 / 3)), mask / mask.sum()


class Clock:
    """The monotonic clock the runtime reads, set by the test."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def make(weights: bool = False, late: bool = True, model: str = '', **settings):
    clock = Clock()
    steppers = {'early': CountingStepper(weights)}
    if late:
        steppers['late'] = CountingStepper()
    logs: List[Tuple[str, str, str]] = []
    rt = FusionRuntime(
        steppers,
        CLASSES,
        FusionSettings(**settings),
        model=model,
        monotonic=clock,
        log=lambda *a: logs.append(a),
    )
    return rt, clock, steppers, logs


def values(modality: str, stamp: float) -> np.ndarray:
    return np.full(DIMS[ALL.index(modality)], stamp, dtype=np.float32)


def live(
    modalities: Sequence[str], stamps: Sequence[float], wall: float = None, lag: float = 0.01
) -> list:
    """Features of ``modalities`` for each stamp, in order, arriving ``lag`` after their stamp
    (``wall``: the wall time of the first stamp, when stamps are not wall time)."""
    offset = 0.0 if wall is None else wall - stamps[0]
    return [('f', s + offset + lag, m, s) for s in stamps for m in modalities]


def run(rt: FusionRuntime, clock: Clock, events) -> list:
    """Feed ``('f', wall, modality, stamp)`` features and ``('t', wall)`` timer ticks; the
    labels as (stamp in s, modalities used)."""
    labels = []
    for event in events:
        clock.t = event[1]
        if event[0] == 'f':
            _, wall, modality, stamp = event
            feature = Feature(values(modality, stamp), ns(stamp), ns(stamp) - ns(0.01), modality)
            out = rt.on_feature(modality, feature, ns(wall))
        else:
            out = rt.on_timer(ns(event[1]))
        labels.extend(out)
    return [(round(x.stamp / NS_PER_S, 6), tuple(x.modalities_used)) for x in labels]


def grid(first: float, last: float) -> List[float]:
    return [round(first + 0.5 * k, 6) for k in range(int(round((last - first) / 0.5)) + 1)]


# --- early mode ---------------------------------------------------------------------------
def _imu_audio(stamp: float) -> list:
    return [('f', stamp, 'imu', stamp), ('f', stamp, 'audio', stamp)]


# The camera's features come four windows after the others' (a slow encoder in a fast replay).
SLOW_CAMERA = sum((_imu_audio(s) for s in grid(0.5, 2.0)), []) + sum(
    (
        [('f', s + 2.0, 'camera', s)] + (_imu_audio(s + 2.0) if s + 2.0 <= 4.0 else [])
        for s in grid(0.5, 4.0)
    ),
    [],
)

EARLY_CASES = [
    # name, settings, events, expected labels, expected drops by input
    (
        'one label per complete window',
        {},
        live(ALL, [0.5, 1.0, 1.5]),
        [(0.5, ALL), (1.0, ALL), (1.5, ALL)],
        {},
    ),
    (
        'timeout 0 waits forever for an input that never spoke',
        {'input_timeout': 0.0},
        live(CI, grid(0.5, 7.5)),
        [],
        {'camera': {'unmatched': 5}, 'imu': {'unmatched': 5}},
    ),
    (
        'an input that never spoke is masked once the others are a timeout on',
        {'input_timeout': 1.5},
        live(CI, grid(0.5, 4.0)),
        [(s, CI) for s in grid(2.5, 4.0)],
        {},
    ),
    (
        (
            'an input that stops is masked once the others moved on a timeout without it, and '
            'taken back when it returns'
        ),
        {'input_timeout': 1.5},
        live(ALL, [0.5, 1.0]) + live(CI, grid(1.5, 3.5)) + live(ALL, [4.0, 4.5]),
        [(0.5, ALL), (1.0, ALL), (3.5, CI), (4.0, CI), (4.5, ALL)],
        {},
    ),
    (
        (
            'a slow input that still delivers is waited for, though it is behind by more than the '
            'timeout'
        ),
        {'input_timeout': 1.5},
        SLOW_CAMERA,
        [(s, ALL) for s in grid(0.5, 4.0)],
        {},
    ),
    (
        'after a pause of every input, none is masked',
        {'input_timeout': 1.5},
        live(ALL, [1.0]) + live(ALL, [10.0, 10.5]),
        [(1.0, ALL), (10.0, ALL), (10.5, ALL)],
        {},
    ),
    (
        'an input that dies after a clock jump back is masked as well',
        {'input_timeout': 1.5},
        live(ALL, [300.0, 300.5])
        + live(ALL, [100.0, 100.5], wall=301.0)
        + live(CI, grid(101.0, 104.0), wall=302.0),
        [(300.0, ALL), (300.5, ALL), (100.0, ALL), (100.5, ALL)]
        + [(s, CI) for s in grid(103.0, 104.0)],
        {},
    ),
    (
        'out of order: dropped and counted',
        {},
        live(ALL, [1.0, 1.5]) + live(['camera'], [1.25]),
        [(1.0, ALL), (1.5, ALL)],
        {'camera': {'out_of_order': 1}},
    ),
    (
        'the same stamp again is out of order',
        {},
        live(ALL, [1.0]) + live(['camera'], [1.0]),
        [(1.0, ALL)],
        {'camera': {'out_of_order': 1}},
    ),
]


@pytest.mark.parametrize(
    'name, settings, events, expected, drops', EARLY_CASES, ids=[c[0] for c in EARLY_CASES]
)
def test_early_mode(name, settings, events, expected, drops):
    rt, clock, _, _ = make(**settings)
    assert run(rt, clock, events) == expected
    assert {m: rt.input_drops(m) for m in ALL if rt.input_drops(m)} == drops
    assert rt.sync.stats.partial == sum(len(used) < 3 for _, used in expected)


def test_early_mode_masks_with_zeros_and_labels_keep_their_window_stamp():
    rt, clock, steppers, _ = make(weights=True, input_timeout=1.0)
    stamp = 1_700_000_000.5
    run(rt, clock, live(ALL, [stamp], wall=0.0) + live(CI, [stamp + 0.5, stamp + 1.0], wall=0.5))
    feature = Feature(values('camera', 0), ns(stamp + 2) + 7, ns(stamp + 2), 'camera')
    clock.t = 5.0
    assert rt.on_feature('camera', feature, ns(stamp + 2)) == []
    [label] = rt.on_feature('imu', Feature(values('imu', 0), ns(stamp + 2) + 7, 0), 0)
    assert label.stamp == ns(stamp + 2) + 7  # to the nanosecond, as the camera's stamp
    assert label.newest_sample == ns(stamp + 2)
    assert label.modalities_used == ['camera', 'imu'] and label.fusion_mode == 'early'
    _, feats, mask, state = steppers['early'].calls[-1]
    assert mask.tolist() == [1.0, 1.0, 0.0] and state == 1
    assert feats[2].tolist() == [0.0, 0.0]
    assert label.weights.tolist() == [0.5, 0.5]  # of the modalities used, in their order
    assert np.isclose(label.probabilities.sum(), 1.0) and label.class_id == 2


@pytest.mark.parametrize(
    'name, events, resets, fresh',
    [
        (
            'a clock jump back resets the state',
            live(ALL, [300.0, 300.5]) + live(ALL, [100.0, 100.5], wall=301.0),
            1,
            [0, 2],
        ),
        (
            'a gap longer than reset_after resets the state',
            live(ALL, [100.0, 100.5, 200.0]),
            1,
            [0, 2],
        ),
        ('a gap of reset_after does not', live(ALL, [100.0, 105.0]), 0, [0]),
        (
            'a step back of jump_threshold is out of order, not a jump',
            live(ALL, [100.0, 101.0]) + live(['camera'], [100.0]),
            0,
            [0],
        ),
    ],
)
def test_state_resets(name, events, resets, fresh):
    rt, clock, steppers, logs = make()
    run(rt, clock, events)
    assert rt.state_resets == resets
    states = [call[3] for call in steppers['early'].calls]
    assert [i for i, state in enumerate(states) if state is None] == fresh
    assert sum(level == 'info' and 'reset' in text for level, _, text in logs) == resets


@pytest.mark.parametrize(
    'feature, reason',
    [
        (
            Feature(np.zeros(5, np.float32), ns(1), ns(1), 'camera'),
            'it has 5 values, the model takes 4',
        ),
        (Feature(np.zeros(4, np.float32), ns(1), ns(1), 'imu'), "says modality 'imu'"),
        (Feature(np.array([0, np.nan, 0, 0], np.float32), ns(1), ns(1)), 'NaN or inf'),
        (Feature(np.array([0, np.inf, 0, 0], np.float32), ns(1), ns(1)), 'NaN or inf'),
    ],
)
def test_a_feature_the_model_cannot_take_is_dropped_as_invalid(feature, reason):
    rt, clock, steppers, logs = make()
    assert rt.on_feature('camera', feature, ns(1)) == []
    assert rt.input_drops('camera') == {'invalid': 1}
    assert rt.latest == {} and rt.rates['camera'].count == 0
    assert logs[-1][:2] == ('warning', 'invalid') and reason in logs[-1][2]
    assert run(rt, clock, live(ALL, [2.0])) == [(2.0, ALL)]  # and the input goes on


# --- timer modes ----------------------------------------------------------------------------
def tick(t: float) -> tuple:
    return ('t', t)


ASYNC_CASES = [
    # name, events, expected labels, steps of the model
    ('no label before any feature', [tick(1.0)], [], 0),
    (
        'one step per new feature set; the output repeats between them',
        live(ALL, [10.0]) + [tick(10.1), tick(10.2)] + live(ALL, [10.5]) + [tick(10.6)],
        [(10.0, ALL), (10.0, ALL), (10.5, ALL)],
        2,
    ),
    (
        'a modality older than max_age is masked; stamp of the newest used',
        live(ALL, [10.0]) + live(CI, [10.5, 11.0]) + [tick(11.2)],
        [(11.0, CI)],
        1,
    ),
    (
        'a feature older than max_age on arrival is dropped as late',
        [('f', 10.0, 'imu', 8.5), tick(10.1)],
        [],
        0,
    ),
    (
        'stale inputs only: no label',
        live(ALL, [10.0]) + [tick(10.1), tick(12.0)],
        [(10.0, ALL)],
        1,
    ),
]


@pytest.mark.parametrize(
    'name, events, expected, steps', ASYNC_CASES, ids=[c[0] for c in ASYNC_CASES]
)
def test_async_mode(name, events, expected, steps):
    rt, clock, steppers, _ = make(fusion_mode='async', max_age=1.0)
    assert run(rt, clock, events) == expected
    assert len(steppers['early'].calls) == steps
    for call, (_, used) in zip(steppers['early'].calls, expected):
        assert call[2].tolist() == [float(m in used) for m in ALL]


def test_async_mode_counts_ticks_with_only_stale_inputs_and_late_features():
    rt, clock, _, _ = make(fusion_mode='async', max_age=1.0)
    run(rt, clock, live(ALL, [10.0]) + [tick(12.0), tick(12.1)] + [('f', 13.0, 'imu', 11.5)])
    assert rt.fusion_drops.snapshot() == {'no_fresh_input': 2}
    assert rt.input_drops('imu') == {'late': 1}
    assert rt.masked(ns(13.0)) == [True, True, True]


def test_async_mode_resets_after_a_gap():
    rt, clock, steppers, _ = make(fusion_mode='async')
    run(rt, clock, live(ALL, [10.0]) + [tick(10.1)] + live(ALL, [20.0]) + [tick(20.1)])
    assert rt.state_resets == 1 and [c[3] for c in steppers['early'].calls] == [None, None]


def test_late_mode_updates_per_feature_and_decides_on_the_fresh_ones():
    rt, clock, steppers, _ = make(fusion_mode='late', max_age=1.0)
    late = steppers['late']
    assert run(rt, clock, [tick(9.0)]) == []  # nothing to decide yet
    labels = run(rt, clock, live(ALL, [10.0]) + live(CI, [10.5, 11.0]) + [tick(11.2)])
    assert labels == [(11.0, CI)]
    updates = [c for c in late.calls if c[0] == 'late_update']
    assert [c[2].tolist() for c in updates[:3]] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert updates[0][1][0].tolist() == [10.0] * 4 and updates[0][1][1].tolist() == [0.0] * 3
    assert len(updates) == 7 and late.calls[-1][2] == {0: 3, 1: 3, 2: 1}
    assert late.calls[-1][1].tolist() == [1, 1, 0]
    [label] = rt.on_timer(ns(11.25))
    assert label.weights.tolist() == [0.5, 0.5] and label.fusion_mode == 'late'
    assert np.allclose(label.probabilities, 1 / 3)
    assert steppers['early'].calls == []


# --- parameters -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    'changes, check',
    [
        ({'slop': 0.2}, lambda rt: rt.sync.slop == 0.2 and rt.settings.slop == 0.2),
        ({'fusion_rate_hz': 25.0}, lambda rt: math.isclose(rt.timer_period, 0.04)),
        (
            {'max_age': 0.5, 'reset_after': 0.0},
            lambda rt: (rt.settings.max_age, rt.settings.reset_after) == (0.5, 0.0),
        ),
        (
            {'stale_timeout': 1.0, 'latency_error_ms': 20},
            lambda rt: rt.settings.stale_timeout == 1.0 and rt.settings.latency_error_ms == 20.0,
        ),
        ({'fusion_mode': 'early', 'checkpoint': 'other.pt'}, lambda rt: rt.state_resets == 0),
        ({'input_timeout': 3.0, 'queue_size': 10}, lambda rt: rt.settings.input_timeout == 3.0),
    ],
)
def test_parameter_change_applied(changes, check):
    rt, _, _, _ = make(input_timeout=3.0)
    assert rt.set_parameters(changes) is None
    assert check(rt)


def test_mode_change_resets_and_flushes_the_synchronizer():
    rt, clock, _, _ = make()
    run(rt, clock, live(ALL, [1.0]) + live(CI, [1.5]))
    assert rt.set_parameters({'fusion_mode': 'async'}) is None
    assert rt.state_resets == 1 and rt.sync.stats.dropped == [1, 1, 0]
    assert run(rt, clock, [tick(1.6)]) == [(1.5, ALL)]  # audio's 1.0 is still fresh
    assert rt.set_parameters({'fusion_mode': 'early'}) is None
    assert run(rt, clock, live(ALL, [2.0])) == [(2.0, ALL)]


@pytest.mark.parametrize(
    'changes, reason',
    [
        ({'fusion_mode': 'sideways'}, 'fusion_mode must be one of'),
        ({'fusion_rate_hz': 0.0}, 'fusion_rate_hz must be a finite number > 0'),
        ({'fusion_rate_hz': math.inf}, 'fusion_rate_hz must be a finite number > 0'),
        ({'slop': math.nan}, 'slop must be a finite number > 0'),
        ({'slop': 0.0}, 'slop must be a finite number > 0'),
        ({'slop': True}, 'slop must be a finite number > 0'),
        ({'slop': '0.1'}, 'slop must be a finite number > 0'),
        ({'max_age': -1.0}, 'max_age must be a finite number > 0'),
        ({'reset_after': math.inf}, 'reset_after must be a finite number >= 0'),
        ({'jump_threshold': math.nan}, 'jump_threshold must be a finite number >= 0'),
        ({'stale_error_timeout': -math.inf}, 'stale_error_timeout must be a finite number >= 0'),
        ({'latency_warn_ms': math.nan}, 'latency_warn_ms must be a finite number >= 0'),
        ({'slop': 0.2, 'max_age': math.nan}, 'max_age must be'),  # all or none
        ({'input_timeout': 1.0}, 'input_timeout is set at start-up only'),
        ({'queue_size': 3}, 'queue_size is set at start-up only'),
    ],
)
def test_invalid_parameter_change_is_refused_and_nothing_changes(changes, reason):
    rt, _, _, _ = make()
    before = FusionSettings(**vars(rt.settings))
    assert reason in rt.set_parameters(changes)
    assert rt.settings == before and rt.sync.slop == before.slop


def test_late_mode_is_refused_without_a_late_model():
    rt, _, _, _ = make(late=False)
    assert "needs a 'late' model" in rt.set_parameters({'fusion_mode': 'late'})
    assert rt.settings.fusion_mode == 'early'


@pytest.mark.parametrize(
    'kwargs, reason',
    [
        ({'slop': 0.0}, 'slop must be a finite number > 0'),
        ({'fusion_rate_hz': math.nan}, 'fusion_rate_hz must be'),
        ({'input_timeout': -1.0}, 'input_timeout must be a finite number >= 0'),
        ({'queue_size': 0}, 'queue_size must be an integer >= 1'),
        ({'fusion_mode': 'late', 'late': False}, "needs a 'late' model"),
        ({'model': 'late'}, "model 'late' cannot serve early/async modes"),
        ({'model': 'gmu'}, "model 'gmu' cannot serve early/async modes"),
    ],
)
def test_invalid_set_up_is_refused(kwargs, reason):
    with pytest.raises(ValueError, match=reason):
        make(**kwargs)


# --- health -----------------------------------------------------------------------------------
def test_input_health_says_which_input_is_masked_and_for_how_long():
    rt, clock, _, _ = make(input_timeout=1.5)
    clock.t = 0.2
    run(rt, clock, live(ALL, [0.5]) + live(CI, grid(1.0, 3.0)))
    clock.t = 3.5
    health = {h.modality: h for h in rt.input_health(ns(3.5))}
    assert [health[m].masked for m in ALL] == [False, False, True]
    assert health['audio'].silent_for == pytest.approx(3.5 - 0.51)
    assert health['audio'].received == 1 and health['camera'].received == 6
    assert health['camera'].latest_stamp == ns(3.0)
    assert health['camera'].latency_ms['p50'] == pytest.approx(20.0)
    fresh, _, _, _ = make()
    assert [h.age for h in fresh.input_health(0)] == [math.inf] * 3
    assert not any(h.masked for h in fresh.input_health(0))


# --- the torch backend on the packaged checkpoint ---------------------------------------------
def test_the_core_runtime_imports_neither_torch_nor_rclpy():
    code = (
        'import sys, hybrid_fusion_ros.core.fusion_runtime\n'
        "print(sorted(m for m in ('torch', 'rclpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'


def test_torch_backend_labels_equal_the_models_own_steps():
    torch = pytest.importorskip('torch')
    from hybrid_fusion_ros.core.fusion_backend import load_torch_steppers

    classes, steppers = load_torch_steppers()
    primary = next(iter(steppers.values()))
    rt = FusionRuntime(steppers, classes, FusionSettings(input_timeout=0.0))
    rng = np.random.default_rng(0)
    state = None
    for k in range(3):
        feats = [rng.normal(size=d).astype(np.float32) for d in primary.feature_dims]
        labels = []
        for m, f in zip(primary.modalities, feats):
            labels += rt.on_feature(m, Feature(f, ns(10 + k), ns(10 + k)), ns(10 + k))
        with torch.no_grad():
            out = primary.model.step(
                [torch.from_numpy(f)[None] for f in feats], torch.ones(1, len(feats)), state
            )
        state = out.state
        [label] = labels
        assert np.allclose(label.probabilities, torch.softmax(out.logits[0], 0).numpy(), atol=1e-6)
    late = steppers['late']
    mask = np.array([1, 0, 1], np.float32)
    updated = late.late_update([np.ones(d, np.float32) for d in late.feature_dims], mask, None)
    logp, weights = late.decide(updated, mask)
    with torch.no_grad():
        ones = [torch.ones(1, d) for d in late.feature_dims]
        expected = late.model.step(ones, torch.from_numpy(mask)[None], None)
    assert np.allclose(logp, expected.logits[0].numpy()) and weights[1] == 0
    assert np.allclose(weights, expected.modality_weights[0].numpy())
