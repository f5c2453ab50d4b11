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

"""Pause or loss: a stream's timeline (core/timeline.py) and the streaming windower
(core/windows.py) apply the same rule. ROS-free."""

import json

import numpy as np
import pytest

from hybrid_fusion_ros.core.timeline import pause_threshold
from hybrid_fusion_ros.core.timeline import Timeline
from hybrid_fusion_ros.core.windows import StreamWindower
from hybrid_fusion_ros.core.windows import WindowSpec

T0 = 1_700_000_000.0  # epoch stamps, as bags have them
TRIALS = [3.0, 2.0, 5.5, 4.0, 2.5, 6.0, 2.2]  # seconds of each trial, 1 s silent in between


def trials(rate=50.0, lengths=TRIALS, pause=1.0, t0=T0):
    """Stamps of trials recorded back to back with ``pause`` seconds of silence between."""
    parts, t = [], t0
    for length in lengths:
        n = int(round(length * rate))
        parts.append(t + np.arange(n) / rate)
        t += n / rate + pause
    return np.concatenate(parts)


def jittered(rate=50.0, seconds=20.0, sigma=0.001, seed=0):
    n = int(seconds * rate)
    return T0 + np.arange(n) / rate + np.random.default_rng(seed).normal(0, sigma, n)


def dropped(rate=50.0, seconds=10.0, drop=(100, 200, 201, 300)):
    return np.delete(T0 + np.arange(int(seconds * rate)) / rate, list(drop))


def duplicated(rate=50.0, seconds=10.0, at=(10, 50, 51, 300, 400)):
    stamps = T0 + np.arange(int(seconds * rate)) / rate
    return np.sort(np.concatenate([stamps, stamps[list(at)]]))


@pytest.mark.parametrize(
    'case, stamps, expect',
    [
        (
            'continuous 50 Hz with 1 ms jitter',
            jittered(),
            {'rate': 50.0, 'runs': 1, 'pauses': 0, 'lost': 0, 'gaps': 0},
        ),
        (
            '50 Hz trials of 2-6 s with 1 s pauses: the pauses are not averaged in',
            trials(),
            {'rate': 50.0, 'runs': 7, 'pauses': 6, 'paused': 6.0, 'lost': 0, 'gaps': 0},
        ),
        (
            'the same trials, in any order',
            np.random.default_rng(1).permutation(trials()),
            {'rate': 50.0, 'runs': 7, 'pauses': 6, 'paused': 6.0, 'lost': 0},
        ),
        (
            'a few dropped samples are a loss, not a pause',
            dropped(),
            {'rate': 50.0, 'runs': 1, 'pauses': 0, 'lost': 4, 'gaps': 3},
        ),
        (
            'duplicate stamps are counted and left out',
            duplicated(),
            {'rate': 50.0, 'runs': 1, 'pauses': 0, 'lost': 0, 'duplicates': 5, 'samples': 500},
        ),
        (
            'a single sample has no rate',
            np.array([T0]),
            {'rate': None, 'runs': 1, 'pauses': 0, 'lost': 0, 'samples': 1},
        ),
        (
            'a 10 Hz camera that drops two frames lost two, and stopping 0.6 s is a pause',
            np.r_[T0 + np.arange(20) / 10, T0 + 2.2 + np.arange(10) / 10, T0 + 3.7],
            {'rate': 10.0, 'runs': 2, 'pauses': 1, 'lost': 2, 'gaps': 1},
        ),
    ],
)
def test_timeline(case, stamps, expect):
    tl = Timeline.from_stamps(stamps)
    found = {
        'rate': tl.rate,
        'runs': len(tl.runs),
        'pauses': len(tl.pauses),
        'paused': tl.paused_seconds,
        'lost': tl.lost,
        'gaps': tl.gaps,
        'duplicates': tl.duplicates,
        'samples': tl.samples,
    }
    for key, value in expect.items():
        if value is None or isinstance(value, int):
            assert found[key] == value, f'{case}: {key}'
        else:  # a median of jittered intervals: within a few per mille
            assert found[key] == pytest.approx(value, rel=0.005), f'{case}: {key}'


def test_trials_read_at_their_rate_not_count_over_duration():
    stamps = trials()
    tl = Timeline.from_stamps(stamps)
    assert len(stamps) / (stamps[-1] - stamps[0]) < 42  # what count / duration says
    assert tl.rate == pytest.approx(50.0, abs=1e-3)
    assert [r.seconds for r in tl.runs] == pytest.approx(TRIALS, abs=1e-6)
    assert all(p.seconds == pytest.approx(1.0, abs=1e-6) for p in tl.pauses)
    assert tl.median_pause == pytest.approx(1.0, abs=1e-6)
    assert sum(r.samples for r in tl.runs) == len(stamps)


def test_chunked_audio_counts_samples_per_message():
    """16 kHz audio in 0.1 s chunks: one chunk lost (1600 samples), then a 2 s pause."""
    starts = T0 + np.r_[np.arange(0, 30), np.arange(31, 50), np.arange(70, 80)] * 0.1
    tl = Timeline.from_stamps(starts, samples=1600)
    assert tl.rate == pytest.approx(16000.0, rel=1e-6)
    assert (tl.lost, tl.gaps, len(tl.pauses)) == (1600, 1, 1)
    assert tl.pauses[0].seconds == pytest.approx(2.0, abs=1e-6)
    assert tl.runs[0].samples == 49 * 1600 and tl.runs[0].seconds == pytest.approx(5.0)


def test_coverage_and_json():
    tl = Timeline.from_stamps(trials(lengths=[2.0, 2.0]))
    # Runs cover [T0, T0 + 2) and [T0 + 3, T0 + 5).
    np.testing.assert_allclose(
        tl.coverage(T0 + np.array([0.0, 1.5, 2.5]), T0 + np.array([1.0, 3.5, 2.9])),
        [1.0, 1.0, 0.0],
        atol=1e-6,
    )
    data = json.loads(json.dumps(tl.to_dict()))
    assert (data['run_count'], data['pause_count'], data['lost_samples']) == (2, 1, 0)
    assert data['rate_hz'] == pytest.approx(50.0, abs=1e-3)
    assert data['runs'][1]['samples'] == 100 and len(data['pauses']) == 1


@pytest.mark.parametrize(
    'period, longest, expected',
    [
        (0.01, None, 0.5),  # a 100 Hz IMU: half a second, 50 messages in a row
        (0.5, None, 2.5),  # a 2 Hz sensor: five of its periods
        (0.5, 1.0, 1.0),  # ... but never more than a window
    ],
)
def test_pause_threshold(period, longest, expected):
    assert pause_threshold(period, longest) == pytest.approx(expected)


# --- the windower -------------------------------------------------------------------------------
def feed(windower, stamps, chunk=1):
    samples = np.zeros((len(stamps), 1), np.float32)
    for i in range(0, len(stamps), chunk):
        windower.push(stamps[i : i + chunk], samples[i : i + chunk])


@pytest.mark.parametrize(
    'case, rate, chunk, silent, expect',
    [
        ('imu: two messages dropped', 100.0, 1, 0.02, {'gaps': 1, 'missing_samples': 2}),
        ('imu: a 0.3 s burst lost', 100.0, 1, 0.3, {'gaps': 1, 'missing_samples': 30}),
        ('imu: silent 0.6 s', 100.0, 1, 0.6, {'pauses': 1, 'interruptions': 0}),
        ('imu: silent 1.5 s', 100.0, 1, 1.5, {'pauses': 1, 'interruptions': 1}),
        ('camera: two frames dropped', 10.0, 1, 0.2, {'gaps': 1, 'missing_samples': 2}),
        ('camera: silent 0.7 s', 10.0, 1, 0.7, {'pauses': 1, 'interruptions': 0}),
        ('audio: a chunk dropped', 16000.0, 1600, 0.1, {'gaps': 1, 'missing_samples': 1600}),
        ('audio: silent 0.7 s', 16000.0, 1600, 0.7, {'pauses': 1, 'missing_samples': 0}),
    ],
)
def test_windower_tells_a_pause_from_a_gap(case, rate, chunk, silent, expect):
    """``silent``: seconds of samples missing between the two halves of the stream."""
    n = int(3 * rate)
    before = 10.0 + np.arange(n) / rate
    after = before[-1] + 1 / rate + silent + np.arange(n) / rate
    w = StreamWindower('x', WindowSpec(1.0, 0.5), rate, rate if chunk > 1 else None)
    feed(w, np.r_[before, after], chunk)
    is_pause = expect.get('pauses', 0) == 1
    want = {'gaps': 0, 'missing_samples': 0, 'pauses': 0, **expect}
    for key, value in want.items():
        assert getattr(w.stats, key) == value, f'{case}: {key}'
    assert w.stats.paused_seconds == pytest.approx(silent if is_pause else 0.0, abs=1e-6)
    assert w.stats.incomplete == 0, case


def test_windows_across_trial_pauses_are_not_incomplete():
    stamps = trials(t0=100.0)
    w = StreamWindower('imu', WindowSpec(1.0, 0.5), 50.0)
    feed(w, stamps)
    assert (w.stats.pauses, w.stats.missing_samples, w.stats.gaps) == (6, 0, 0)
    assert w.stats.paused_seconds == pytest.approx(6.0, abs=1e-6)
    assert w.stats.incomplete == 0 and w.stats.straddles_pause > 0
    assert w.stats.windows > 0


def test_a_window_sparse_from_losses_next_to_a_pause_stays_incomplete():
    """0.3 s lost, one sample, then a pause: [1.0, 2.0) holds one sample, sparse even over
    its unpaused 0.3 s; [1.5, 2.5) is sparse only for the pause; [0.5, 1.5) is closed when the
    sample after the pause arrives, before that sample pushes its first half out of the
    buffer, so it is emitted with its 51 samples. The steady stream's last sample (3.99 s)
    closes [3.0, 4.0) too."""
    stamps = np.concatenate([np.arange(0, 100) / 100.0, [1.3], np.arange(220, 400) / 100.0])
    w = StreamWindower('imu', WindowSpec(1.0, 0.5), 100.0)
    feed(w, stamps)
    assert (w.stats.pauses, w.stats.gaps) == (1, 1)
    assert (w.stats.incomplete, w.stats.straddles_pause, w.stats.windows) == (1, 1, 5)


def test_windower_and_timeline_agree():
    # Two or more in a row: the windower, live, lets one missing sample pass as jitter.
    stamps = np.delete(trials(rate=100.0, t0=50.0), [40, 41, 700, 701, 1500, 1501, 1502])
    w = StreamWindower('imu', WindowSpec(1.0, 0.5), 100.0)
    feed(w, stamps)
    tl = Timeline.from_stamps(stamps)
    assert (w.stats.pauses, w.stats.gaps, w.stats.missing_samples) == (
        len(tl.pauses),
        tl.gaps,
        tl.lost,
    )
    assert w.stats.paused_seconds == pytest.approx(tl.paused_seconds, abs=1e-6)


@pytest.mark.parametrize('pause', [1.0, 1.5, 3.0])
def test_windows_before_a_pause_are_kept_whatever_its_length(pause):
    """The windows a trial completes are emitted when the first sample after the pause
    arrives, before it pushes the trial's samples out of the buffer: a longer pause loses
    none of them."""
    stamps, t = [], 100.0
    for length in (3.0, 2.0, 5.0, 4.0):
        stamps.append(t + np.arange(0, length, 0.02))
        t += length + pause
    w = StreamWindower('imu', WindowSpec(1.0, 0.5), 50.0)
    ends = [
        win.end for x in np.concatenate(stamps) for win in w.push(np.array([x]), np.zeros((1, 6)))
    ]
    assert len(ends) == len(set(ends))
    # Every window that lies wholly inside a trial (they start on the grid): 5, 3, 9 and 7 (the
    # last trial's last one closes on its own last sample: the stream is steady).
    inside = [
        sum(1 for e in ends if s[0] - 1e-6 <= e - 1.0 and e <= s[-1] + 0.02 + 1e-6)
        for s in stamps
    ]
    assert inside == [5, 3, 9, 7]
