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

import numpy as np
import pytest

from hybrid_fusion_ros.core.windows import ChunkBuffer
from hybrid_fusion_ros.core.windows import JITTER_HISTORY
from hybrid_fusion_ros.core.windows import StreamWindower
from hybrid_fusion_ros.core.windows import window_ends_between
from hybrid_fusion_ros.core.windows import WindowGrid
from hybrid_fusion_ros.core.windows import WindowSpec


def feed(windower, stamps, samples=None, chunk=1):
    samples = np.zeros((len(stamps), 2)) if samples is None else samples
    out = []
    for i in range(0, len(stamps), chunk):
        out += windower.push(stamps[i : i + chunk], samples[i : i + chunk])
    return out


@pytest.mark.parametrize('fast_hz, slow_hz', [(100.0, 15.0), (200.0, 30.0)])
def test_window_ends_sit_on_the_grid_regardless_of_stream_start(fast_hz, slow_hz):
    """A high-rate stream (IMU) and a low-rate one (camera) are cut into windows with the
    same ends, whatever their start times and rates."""
    spec = WindowSpec(1.0, 0.5)
    a = StreamWindower('imu', spec, expected_rate=fast_hz)
    b = StreamWindower('camera', spec, expected_rate=slow_hz)
    wa = feed(a, 10.013 + np.arange(int(5 * fast_hz)) / fast_hz)
    wb = feed(b, 10.301 + np.arange(int(4.7 * slow_hz)) / slow_hz)
    ends_a = {w.end for w in wa}
    ends_b = {w.end for w in wb}
    assert all(abs(e / 0.5 - round(e / 0.5)) < 1e-9 for e in ends_a | ends_b)
    assert len(ends_a & ends_b) >= 7
    first = min(ends_b)
    assert first - 1.0 >= 10.301 - 1e-9, 'the first window must be fully covered by the stream'


def test_window_holds_exactly_the_samples_in_start_end():
    spec = WindowSpec(1.0, 0.5)
    w = StreamWindower('imu', spec, expected_rate=100.0)
    stamps = np.arange(0, 300) / 100.0
    samples = np.stack([stamps, stamps], axis=1)
    windows = feed(w, stamps, samples)
    for win in windows:
        assert np.all((win.stamps >= win.start) & (win.stamps < win.end))
        expected = stamps[(stamps >= win.start) & (stamps < win.end)]
        np.testing.assert_allclose(win.stamps, expected)
        np.testing.assert_allclose(win.samples[:, 0], expected)


@pytest.mark.parametrize(
    'case, stamps, expect',
    [
        (
            'out of order is dropped and counted',
            [0.0, 0.01, 0.02, 0.015, 0.03],
            {'out_of_order': 1, 'time_jumps': 0},
        ),
        ('duplicate stamp counts as out of order', [0.0, 0.01, 0.01, 0.02], {'out_of_order': 1}),
        ('a jump back resets', [5.0, 5.01, 5.02, 1.0, 1.01], {'time_jumps': 1, 'out_of_order': 0}),
        (
            'a gap is counted with its missing samples',
            [0.0, 0.01, 0.02, 0.10, 0.11],
            {'gaps': 1, 'missing_samples': 7},
        ),
        (
            'a break longer than a window is an interruption, not a loss',
            [0.0, 0.01, 3.0, 3.01],
            {'interruptions': 1, 'gaps': 0, 'missing_samples': 0},
        ),
    ],
)
def test_stream_anomalies_are_counted(case, stamps, expect):
    w = StreamWindower('imu', WindowSpec(1.0, 0.5), expected_rate=100.0)
    feed(w, np.array(stamps))
    for key, value in expect.items():
        assert getattr(w.stats, key) == value, case


def test_sparse_window_is_dropped_as_incomplete():
    w = StreamWindower('imu', WindowSpec(1.0, 0.5, min_fill=0.5), expected_rate=100.0)
    # [1.0, 2.0) holds one sample and [1.5, 2.5) thirty: both under half of the 100 expected.
    stamps = np.concatenate([np.arange(0, 100) / 100.0, [1.3], np.arange(220, 400) / 100.0])
    windows = feed(w, stamps)
    assert w.stats.incomplete >= 1
    assert all(len(x.stamps) >= 50 for x in windows)


def test_buffer_is_bounded_and_counts_overflow():
    buf = ChunkBuffer(horizon=100.0, max_chunks=10)
    for i in range(25):
        buf.push(np.array([float(i)]), np.zeros((1, 3)))
    assert len(buf) == 10
    assert buf.stats.overflowed_chunks == 15


def test_grid_limits_backlog_after_a_long_gap():
    grid = WindowGrid(WindowSpec(1.0, 0.5), max_backlog=3)
    assert grid.due(0.0, 1.0) == [(0.0, 1.0)]
    assert len(grid.due(0.0, 100.0)) == 3


def test_window_ends_between():
    np.testing.assert_allclose(
        window_ends_between(WindowSpec(1.0, 0.5), 1.0, 2.6), [1.5, 2.0, 2.5]
    )


@pytest.mark.parametrize(
    'length, hop, fill', [(0, 0.5, 0.5), (1.0, 0, 0.5), (1.0, 2.0, 0.5), (1.0, 0.5, 1.5)]
)
def test_invalid_window_spec_is_rejected(length, hop, fill):
    with pytest.raises(ValueError):
        WindowSpec(length, hop, fill)


def test_a_clock_jump_to_the_epoch_lists_only_the_newest_windows():
    """A driver stamping time since boot, then epoch time: the grid must not list the ~3e9
    windows in between (which once meant a 27 GB array)."""
    grid = WindowGrid(WindowSpec(1.0, 0.5), max_backlog=8)
    assert grid.due(0.0, 5.0)[-1] == (4.0, 5.0)
    due = grid.due(0.0, 1_700_000_000.2)
    assert len(due) == 8 and due[-1] == (1_699_999_999.0, 1_700_000_000.0)
    assert grid.due(0.0, 1_700_000_000.6) == [(1_699_999_999.5, 1_700_000_000.5)]


def test_a_jump_forward_is_a_jump_not_millions_of_samples_lost():
    """A clock stepped by an hour between two chunks that arrived 0.1 s apart: a jump."""
    w = StreamWindower('audio', WindowSpec(1.0, 0.5), expected_rate=16000.0, sample_rate=16000.0)
    t = np.arange(1600) / 16000.0
    for k in range(12):
        w.push(100.0 + k * 0.1 + t, np.zeros(1600, np.float32), arrival=5.0 + k * 0.1)
    windows = w.push(3700.0 + 1.2 + t, np.zeros(1600, np.float32), arrival=6.2)
    assert (w.stats.time_jumps, w.stats.missing_samples, w.stats.gaps) == (1, 0, 0)
    assert w.stats.last_jump == pytest.approx(3600.0, abs=0.2)
    assert windows == [] and w.buffer.oldest_stamp == pytest.approx(3701.2)
    # A sensor silent for as long as its stamps say is not a jump.
    w.push(3710.0 + t, np.zeros(1600, np.float32), arrival=15.0)
    assert (w.stats.time_jumps, w.stats.interruptions) == (1, 1)


def test_samples_lost_in_a_burst_are_counted_at_the_burst_rate():
    """A 100 Hz IMU bursting at 1 kHz loses 50 consecutive samples: 50 are counted, not 4."""
    w = StreamWindower('imu', WindowSpec(1.0, 0.5), expected_rate=100.0)
    nominal = np.arange(0, 1.0, 0.01)
    burst = 1.0 + np.arange(300) / 1000.0
    stamps = np.concatenate([nominal, burst[:100], burst[150:]])
    feed(w, stamps)
    assert w.stats.missing_samples == 50 and w.stats.gaps == 1


def test_a_chunk_of_another_sample_shape_drops_the_buffered_ones_counted():
    buf = ChunkBuffer(horizon=100.0, max_chunks=100)
    for i in range(3):
        buf.push(np.array([float(i)]), np.zeros((1, 4, 6, 3), np.uint8))
    assert buf.sample_shape == (4, 6, 3)
    buf.convert(lambda s: s[:, :2, :3])
    assert buf.sample_shape == (2, 3, 3) and len(buf) == 3
    buf.push(np.array([3.0]), np.zeros((1, 8, 8, 3), np.uint8))
    assert buf.stats.reshaped_chunks == 3 and len(buf) == 1


def _closed_on(windower, stamps, samples, chunk):
    """For each window: the index of the chunk whose push closed it."""
    closed = {}
    for k, i in enumerate(range(0, len(stamps), chunk)):
        for win in windower.push(stamps[i : i + chunk], samples[i : i + chunk]):
            closed[win.end] = k
    return closed


@pytest.mark.parametrize(
    'case, rate, chunk, sample_rate, closed_early',
    [
        ('camera at 15 fps: windows ending between frames and on frames', 15.0, 1, None, 13),
        ('imu at 100 Hz: every end is a sample instant', 100.0, 1, None, 15),
        ('audio in 0.1 s chunks: no jitter in sample-rate stamps', 16000.0, 1600, 16000.0, 15),
    ],
)
def test_a_window_closes_as_soon_as_no_sample_can_fall_in_it(
    case, rate, chunk, sample_rate, closed_early
):
    """Closed on the push after which the next sample, expected one period on, cannot be
    stamped before the end even a quarter period early while the stream's own jitter is not
    yet known (audio: not early at all); once JITTER_HISTORY steady intervals are in, on the
    last sample inside the window, not on the next frame or chunk (a frame stamped on the
    window's end is not waited for)."""
    spec = WindowSpec(1.0, 0.5)
    w = StreamWindower('x', spec, expected_rate=rate, sample_rate=sample_rate)
    stamps = np.arange(int(8 * rate)) / rate
    closed = _closed_on(w, stamps, np.zeros((len(stamps), 1)), chunk)
    assert closed, case
    # After sample j, j intervals are known; the margin of a push is its own.
    index = np.arange(len(stamps))
    jitter = np.where((index >= JITTER_HISTORY) | bool(sample_rate), 0.0, 0.25)
    on_last_inside = 0
    for end, k in closed.items():
        due = stamps + (1.0 - jitter) / rate + 1e-6 >= end
        assert k == int(np.argmax(due)) // chunk, f'{case}: window ending {end} on chunk {k}'
        on_last_inside += k == (int(np.searchsorted(stamps, end - 1e-9)) - 1) // chunk
    assert on_last_inside == closed_early, case


def test_a_jittery_stream_keeps_a_margin_of_its_own_jitter():
    """Frames jittered by up to 2 % of a period: the margin becomes three times the largest
    deviation seen (under the quarter period allowed), and no frame is late for its window."""
    rng = np.random.default_rng(3)
    stamps = np.arange(300) / 15.0 + rng.uniform(-0.02, 0.02, 300) / 15.0
    w = StreamWindower('camera', WindowSpec(1.0, 0.5), expected_rate=15.0)
    assert w.effective_jitter == 0.25
    windows = feed(w, stamps)
    assert 0.05 < w.effective_jitter < 0.25
    assert w.stats.late_samples == 0 and len(windows) == 38


def test_a_sample_jittered_into_a_closed_window_is_counted_not_lost():
    spec = WindowSpec(1.0, 0.5)
    w = StreamWindower('camera', spec, expected_rate=10.0)
    # Frames every 0.1 s, jittered: 1.46 closes the window ending at 1.5 (the next frame
    # cannot come before 1.535), then a frame stamped 1.49 arrives for it.
    stamps = np.array(
        [
            0.0,
            0.1,
            0.2,
            0.3,
            0.4,
            0.5,
            0.6,
            0.7,
            0.8,
            0.9,
            1.0,
            1.1,
            1.2,
            1.3,
            1.4,
            1.46,
            1.49,
            1.6,
            1.7,
            1.8,
            1.9,
            2.0,
            2.1,
        ]
    )
    windows = feed(w, stamps)
    assert w.stats.late_samples == 1
    later = [win for win in windows if win.end == 2.0]
    assert later and 1.49 in later[0].stamps, 'the late sample still serves the next window'


@pytest.mark.parametrize(
    'rate, chunk, sample_rate', [(15.0, 1, None), (100.0, 1, None), (16000.0, 1600, 16000.0)]
)
def test_streaming_windows_equal_batch_windows(rate, chunk, sample_rate):
    from hybrid_fusion_tools.data.dataset import cut_windows

    spec = WindowSpec(1.0, 0.5)
    w = StreamWindower('x', spec, expected_rate=rate, sample_rate=sample_rate)
    stamps = 3.2 + np.arange(int(6 * rate)) / rate
    samples = np.random.default_rng(0).normal(size=(len(stamps), 2))
    streamed = feed(w, stamps, samples, chunk)
    assert streamed
    batch = cut_windows({'x': (stamps, samples)}, spec, np.array([win.end for win in streamed]))
    for s, b in zip(streamed, batch['x']):
        np.testing.assert_array_equal(s.stamps, b.stamps)
        np.testing.assert_array_equal(s.samples, b.samples)
