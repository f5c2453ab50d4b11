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

"""Time windows on a grid in sensor time, and the bounded buffers they are cut from.

Every modality cuts windows ``[end - length, end)`` whose ends sit on the grid
``end = k * hop`` (k an integer, times in seconds of sensor time). Because the grid does not
depend on when a stream started, the camera, IMU and audio features of one window carry the
same stamp, and a synchronizer can match them exactly.

A window is *due* once a sample stamped at or after its end has arrived: from then on no
sample that belongs in it can still come (streams are in stamp order per sensor).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from dataclasses import field
import math
from typing import Callable, Deque, List, Optional, Sequence, Tuple

import numpy as np

from .timeline import pause_threshold


@dataclass
class SensorWindow:
    """Samples of one modality that fall in ``[start, end)``.

    ``stamps`` has shape ``(N,)`` (seconds); ``samples`` has shape ``(N, ...)``: IMU rows of
    6 values, audio samples (one per stamp), or camera frames ``(H, W, 3)``.
    """

    modality: str
    start: float
    end: float
    stamps: np.ndarray
    samples: np.ndarray
    sample_rate: Optional[float] = None

    @property
    def length(self) -> float:
        return self.end - self.start

    @property
    def newest_stamp(self) -> float:
        return float(self.stamps[-1]) if len(self.stamps) else self.start


@dataclass(frozen=True)
class WindowSpec:
    """Window length and hop in seconds; ``min_fill`` is the fraction of the expected
    samples a window needs to be encoded (fewer and it is dropped as incomplete)."""

    length: float = 1.0
    hop: float = 0.5
    min_fill: float = 0.5

    def __post_init__(self) -> None:
        if not (self.length > 0 and self.hop > 0):
            raise ValueError(f'window length and hop must be > 0, got {self.length}, {self.hop}')
        if self.hop > self.length:
            raise ValueError(f'window hop ({self.hop}) must not exceed its length ({self.length})')
        if not 0.0 <= self.min_fill <= 1.0:
            raise ValueError(f'min_fill must be in [0, 1], got {self.min_fill}')


# Window lengths training chooses from when the labelled segments are too short for the
# default: round values, so that checkpoints of one dataset share them.
WINDOW_LADDER = (1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1)


def derive_window(
    lengths: Sequence[float], default: WindowSpec = WindowSpec()
) -> Tuple[WindowSpec, str]:
    """The window for labelled segments of ``lengths`` seconds, and why.

    The default window is kept when at least 90 % of the segments are as long as it. Shorter
    segments (spoken words, gestures, sound events) get the longest window of
    :data:`WINDOW_LADDER` that 90 % of them hold, every half window: a window longer than its
    segment mostly sees silence, or the next class."""
    lengths = np.asarray([x for x in lengths if x > 0], dtype=np.float64)
    if lengths.size == 0:
        return default, f'{default.length:g} s every {default.hop:g} s (the default)'
    short = float(np.percentile(lengths, 10))
    median = float(np.median(lengths))
    if short >= default.length:
        return default, (
            f'{default.length:g} s every {default.hop:g} s (the default): 90 % of the'
            f' {lengths.size} labelled segments are at least that long (median {median:.2f} s)'
        )
    fit = next((w for w in WINDOW_LADDER if w <= short + 1e-9), WINDOW_LADDER[-1])
    held = float((lengths >= default.length).mean())
    return WindowSpec(fit, fit / 2, default.min_fill), (
        f'{fit:g} s every {fit / 2:g} s, derived from the data: the {lengths.size} labelled'
        f' segments are short (median {median:.2f} s, 10th percentile {short:.2f} s) and only'
        f' {held:.0%} of them hold the default {default.length:g} s window'
        ' (set window_length and window_hop to choose)'
    )


def window_ends_between(spec: WindowSpec, after: float, upto: float) -> np.ndarray:
    """Grid window ends ``e`` with ``after < e <= upto``."""
    first = math.floor(after / spec.hop + 1e-9) + 1
    last = math.floor(upto / spec.hop + 1e-9)
    if last < first:
        return np.empty(0)
    return np.arange(first, last + 1) * spec.hop


class WindowGrid:
    """Decides which grid windows are due as a stream's stamps advance."""

    def __init__(self, spec: WindowSpec, max_backlog: int = 8) -> None:
        self.spec = spec
        self.max_backlog = max_backlog
        self._last_end: Optional[float] = None
        self.closed_until: Optional[float] = None  # end of the last window closed

    def reset(self) -> None:
        self._last_end = None
        self.closed_until = None

    def due(self, first_stamp: float, newest_stamp: float) -> List[Tuple[float, float]]:
        """Windows that became due now that no sample can be stamped before ``newest_stamp``.

        ``first_stamp`` is the oldest stamp still buffered: windows starting before it are
        never emitted when the stream (re)starts, so the first window is fully covered.
        After a long gap only the newest ``max_backlog`` windows are returned.
        """
        if self._last_end is None:
            # First window: the earliest grid end whose window starts at or after first_stamp.
            self._last_end = (
                math.ceil((first_stamp + self.spec.length) / self.spec.hop - 1e-9) - 1
            ) * self.spec.hop
        # A window [e - L, e) is due once no sample stamped before e can come any more
        # (``newest_stamp``: the earliest the next sample can be stamped). After a jump forward
        # (a driver switching from time since boot to epoch time) only the newest windows can
        # hold samples: never list the ones in between (10^9 of them for a jump to the epoch).
        skip = math.floor((newest_stamp - self._last_end) / self.spec.hop) - self.max_backlog
        if skip > 0:
            self._last_end += skip * self.spec.hop
        ends = window_ends_between(self.spec, self._last_end, newest_stamp)
        if len(ends) == 0:
            return []
        self._last_end = self.closed_until = float(ends[-1])
        ends = ends[-self.max_backlog :]
        return [(float(e - self.spec.length), float(e)) for e in ends]


@dataclass
class _Chunk:
    stamps: np.ndarray
    samples: np.ndarray


@dataclass
class BufferStats:
    overflowed_chunks: int = 0
    reshaped_chunks: int = 0  # dropped because a chunk of another sample shape came after them


class ChunkBuffer:
    """A bounded buffer of stamped chunks (one IMU sample, one frame, one audio chunk...).

    Chunks older than ``horizon`` seconds behind the newest stamp are discarded; at most
    ``max_chunks`` are kept, and chunks pushed out by that bound are counted in
    ``stats.overflowed_chunks`` (they would otherwise be lost silently).
    """

    def __init__(self, horizon: float, max_chunks: int) -> None:
        if horizon <= 0 or max_chunks <= 0:
            raise ValueError('horizon and max_chunks must be > 0')
        self.horizon = horizon
        self.max_chunks = max_chunks
        self._chunks: Deque[_Chunk] = deque()
        self.stats = BufferStats()

    def __len__(self) -> int:
        return len(self._chunks)

    def clear(self) -> None:
        self._chunks.clear()

    @property
    def sample_shape(self) -> Optional[Tuple[int, ...]]:
        """Shape of one buffered sample (None when empty): all chunks share it."""
        return tuple(self._chunks[-1].samples.shape[1:]) if self._chunks else None

    def convert(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        """Replace every buffered chunk's samples by ``fn(samples)`` (e.g. frames resized to
        a camera's new resolution), so that windows can still be cut across the change."""
        for chunk in self._chunks:
            chunk.samples = fn(chunk.samples)

    @property
    def oldest_stamp(self) -> Optional[float]:
        return float(self._chunks[0].stamps[0]) if self._chunks else None

    @property
    def newest_stamp(self) -> Optional[float]:
        return float(self._chunks[-1].stamps[-1]) if self._chunks else None

    def push(self, stamps: np.ndarray, samples: np.ndarray) -> None:
        """Append a chunk; ``stamps`` (N,) must be ascending and not older than the newest.

        Chunks whose samples have another shape cannot share a window with it: they are
        dropped and counted in ``stats.reshaped_chunks`` (see :meth:`convert` to keep them)."""
        shape = self.sample_shape
        if shape is not None and shape != tuple(samples.shape[1:]):
            self.stats.reshaped_chunks += len(self._chunks)
            self._chunks.clear()
        self._chunks.append(_Chunk(np.asarray(stamps, dtype=np.float64), samples))
        newest = float(self._chunks[-1].stamps[-1])
        while self._chunks and float(self._chunks[0].stamps[-1]) < newest - self.horizon:
            self._chunks.popleft()
        while len(self._chunks) > self.max_chunks:
            self._chunks.popleft()
            self.stats.overflowed_chunks += 1

    def window(
        self, modality: str, start: float, end: float, sample_rate: Optional[float] = None
    ) -> SensorWindow:
        """All buffered samples with ``start <= stamp < end``, as one window."""
        stamps_parts = []
        sample_parts = []
        for chunk in self._chunks:
            if chunk.stamps[-1] < start or chunk.stamps[0] >= end:
                continue
            lo, hi = np.searchsorted(chunk.stamps, [start, end], side='left')
            stamps_parts.append(chunk.stamps[lo:hi])
            sample_parts.append(chunk.samples[lo:hi])
        if stamps_parts:
            stamps = np.concatenate(stamps_parts)
            samples = np.concatenate(sample_parts)
        else:
            stamps = np.empty(0)
            sample_shape = self._chunks[0].samples.shape[1:] if self._chunks else (0,)
            dtype = self._chunks[0].samples.dtype if self._chunks else np.float32
            samples = np.empty((0,) + tuple(sample_shape), dtype=dtype)
        return SensorWindow(modality, start, end, stamps, samples, sample_rate)


@dataclass
class WindowerStats:
    """Counts a windower keeps for diagnostics."""

    windows: int = 0
    incomplete: int = 0  # windows dropped with fewer than min_fill of the expected samples
    out_of_order: int = 0
    time_jumps: int = 0  # clock jumps, back or forward: the buffer restarted
    last_jump: float = 0.0  # size (s) of the latest jump, negative when back
    gaps: int = 0  # breaks longer than 2.5 sample periods, shorter than a pause
    missing_samples: int = 0  # samples those gaps should have held, estimated from the rate
    interruptions: int = 0  # breaks longer than a window: the sensor was silent
    late_samples: int = 0  # samples stamped inside a window already closed (jitter)
    pauses: int = 0  # breaks longer than the pause threshold (interruptions included)
    paused_seconds: float = 0.0  # how long those pauses were silent, in all
    # Windows too sparse only because a pause fell in them: full enough on the time the
    # stream was not paused (counted here instead of in ``incomplete``).
    straddles_pause: int = 0


# Intervals a windower judges a stream's jitter on, and the slack (s) below which a stamp
# counts as on a window's end.
JITTER_HISTORY = 30
STAMP_SLACK = 1e-6


@dataclass
class StreamWindower:
    """Buffers one modality's stream and yields its grid windows as they become due.

    ``expected_rate`` (samples per second) decides when a window is too sparse to encode.
    A stamp more than ``jump_tolerance`` seconds older than the newest is treated as a clock
    jump backwards (a bag loop, a simulator reset): the buffer and the grid restart. A
    slightly older stamp is out of order: that chunk is dropped and counted.

    Forward, a break between consecutive stamps longer than 2.5 sample periods is one of:

    - a clock jump forward, when the stamps advanced ``jump_tolerance`` seconds more than the
      arrival times passed to :meth:`push` did (a driver switching from time since boot to
      epoch time, a clock stepped by an hour): the buffer and the grid restart, and no sample
      is counted lost;
    - a pause, when it is longer than :attr:`pause_threshold`: ``max(0.5 s, 5 message
      periods)``, at most a window (``core/timeline.py``'s rule, which ``hybrid-fusion
      inspect`` applies to bags). The sensor was silent (a trial ended, a driver paused),
      which says nothing about samples lost on the way: it is counted in ``stats.pauses``
      and ``stats.paused_seconds``, and when longer than a window also in
      ``stats.interruptions``, as it always was;
    - otherwise a gap, counted with the samples it should have held (a best-effort transport
      loses a message or two, or a short burst, without telling anyone: 2-3 periods, under
      the threshold at any rate). They are estimated from the recent sample period, so that
      a stream running faster than its nominal rate is counted right.

    A window dropped as too sparse that a pause overlaps (it holds the pause's start or end,
    or lies inside it) is counted in ``stats.straddles_pause`` instead of ``incomplete`` when
    it holds ``min_fill`` of the samples expected over its unpaused time (the part still
    buffered): its data are whole, the sensor was only off for part of it. A window also
    sparse from losses stays ``incomplete``.

    A window is closed as soon as nothing more can fall in it: when the next sample, expected
    one sample period after the newest, cannot be stamped before the window's end even
    ``jitter`` sample periods early. Waiting for that sample (a camera frame that is not even
    in the window, the next 0.1 s audio chunk) would only add latency. ``jitter`` is the most
    allowed; once :data:`JITTER_HISTORY` intervals between single-sample messages have been
    seen, the margin is three times the largest deviation among them from the sample period
    (``effective_jitter``): a camera or IMU stamped on a steady clock closes a window on its
    last sample inside it, rather than on the next one, which for a frame stamped on the
    window's end would cost a whole frame period. Audio stamps are computed from the sample
    rate, so they have no jitter. A sample that still arrives for a closed window (a stamp
    jittered by more than that) is kept for the windows after it and counted in
    ``stats.late_samples``.
    """

    modality: str
    spec: WindowSpec
    expected_rate: float
    sample_rate: Optional[float] = None
    max_chunks: int = 4096
    jump_tolerance: float = 1.0
    jitter: float = 0.25  # stamp jitter tolerated, in sample periods (not for audio)
    stats: WindowerStats = field(default_factory=WindowerStats)

    def __post_init__(self) -> None:
        self.buffer = ChunkBuffer(
            horizon=self.spec.length + self.spec.hop, max_chunks=self.max_chunks
        )
        self.grid = WindowGrid(self.spec)
        self._period = 1.0 / self.expected_rate  # recent sample period, never above nominal
        self._last_arrival: Optional[float] = None
        # Seconds of samples per message at the nominal rate (an audio chunk's 0.1 s): the
        # period that the pause threshold counts in.
        self._message_period = 1.0 / self.expected_rate
        # Silences (last stamp before, first stamp after) that a window still due may hold.
        self._pauses: Deque[Tuple[float, float]] = deque()
        # Recent deviations of single-sample intervals from the period, in periods.
        self._deviations: Deque[float] = deque(maxlen=JITTER_HISTORY)

    @property
    def effective_jitter(self) -> float:
        """The jitter margin in use (sample periods): ``jitter`` until the stream's own
        intervals are known, then three times their largest recent deviation, at most
        ``jitter``; 0 for sample-rate (audio) stamps."""
        if self.sample_rate:
            return 0.0
        if len(self._deviations) < JITTER_HISTORY:
            return self.jitter
        return min(self.jitter, 3.0 * max(self._deviations))

    @property
    def pause_threshold(self) -> float:
        """The shortest break (s) between consecutive stamps counted as a pause."""
        return pause_threshold(self._message_period, self.spec.length)

    def reset(self) -> None:
        self.buffer.clear()
        self.grid.reset()
        self._pauses.clear()
        self._deviations.clear()

    def _jump(self, size: float) -> None:
        self.stats.time_jumps += 1
        self.stats.last_jump = size
        self.reset()

    def _forward_break(self, last: float, gap: float, arrived: Optional[float]) -> bool:
        """Classify a forward break of ``gap`` seconds after the stamp ``last``; True if it
        was a clock jump."""
        if arrived is not None and gap - arrived > self.jump_tolerance:
            self._jump(gap)
            return True
        if gap > self.pause_threshold:
            nominal = 1.0 / self.expected_rate
            self.stats.pauses += 1
            self.stats.paused_seconds += gap - nominal
            self._pauses.append((last, last + gap))
            if gap > self.spec.length:
                self.stats.interruptions += 1
        else:
            self.stats.gaps += 1
            self.stats.missing_samples += max(0, int(round(gap / self._period)) - 1)
        return False

    def push(
        self, stamps: np.ndarray, samples: np.ndarray, arrival: Optional[float] = None
    ) -> List[SensorWindow]:
        """Add a chunk and return the windows that are now due (usually zero or one).

        ``arrival`` is the receiver's clock (s) when the chunk arrived; with it, a jump
        forward in the stamps is told from a sensor that was silent for as long."""
        newest = self.buffer.newest_stamp
        flushed: List[SensorWindow] = []
        arrived = None
        if arrival is not None and self._last_arrival is not None:
            arrived = arrival - self._last_arrival
        if arrival is not None:
            self._last_arrival = arrival
        if newest is not None and stamps[0] <= newest:
            if stamps[0] < newest - self.jump_tolerance:
                self._jump(float(stamps[0]) - newest)
            else:
                self.stats.out_of_order += 1
                return []
        elif newest is not None:
            gap = float(stamps[0]) - newest
            nominal = 1.0 / self.expected_rate
            if gap > 2.5 * nominal:
                if not self._forward_break(newest, gap, arrived):
                    # The new chunk proves that nothing more is stamped before it: close the
                    # windows the buffered samples complete now, before the chunk pushes them
                    # out of the buffer (after a pause longer than its horizon it would).
                    flushed = self._cut(self.buffer.oldest_stamp, float(stamps[0]))
            elif len(stamps) == 1:
                self._deviations.append(abs(gap - self._period) / nominal)
                self._period = min(nominal, 0.9 * self._period + 0.1 * gap)
        if len(stamps) > 1:
            self._period = min(1.0 / self.expected_rate, float(stamps[1] - stamps[0]))
        self._message_period = len(stamps) / self.expected_rate
        closed = self.grid.closed_until
        if closed is not None and stamps[0] < closed:
            self.stats.late_samples += int(np.searchsorted(stamps, closed, side='left'))
        self.buffer.push(stamps, samples)
        oldest = self.buffer.oldest_stamp
        assert oldest is not None
        # A microsecond of slack: a frame stamped exactly on a window's end (a steady camera
        # whose period divides the hop) does not belong in it, nor need it be waited for.
        next_earliest = float(stamps[-1]) + self._period * (1.0 - self.effective_jitter)
        return flushed + self._cut(oldest, next_earliest + STAMP_SLACK)

    def _cut(self, oldest: Optional[float], next_earliest: float) -> List[SensorWindow]:
        """The windows due once no sample can be stamped before ``next_earliest``, cut from the
        buffer (``oldest``: its oldest stamp); sparse ones are counted and left out."""
        windows: List[SensorWindow] = []
        if oldest is None:
            return windows
        fill = self.spec.min_fill * self.expected_rate  # samples a window needs per second
        for start, end in self.grid.due(oldest, next_earliest):
            window = self.buffer.window(self.modality, start, end, self.sample_rate)
            if len(window.stamps) < fill * self.spec.length:
                # Judged on the time the stream was on and the buffer still holds (a long
                # pause pushes a window's oldest samples out before it is due).
                seen_from = max(start, oldest)
                paused = self._paused_within(start, end)
                unpaused = max(0.0, end - seen_from) - self._paused_within(seen_from, end)
                if paused > 0.0 and len(window.stamps) >= fill * unpaused:
                    self.stats.straddles_pause += 1
                else:
                    self.stats.incomplete += 1
                continue
            self.stats.windows += 1
            windows.append(window)
        if self.grid.closed_until is not None:
            # A window still to come ends after the last one closed: it starts after this.
            earliest = self.grid.closed_until - self.spec.length
            while self._pauses and self._pauses[0][1] < earliest:
                self._pauses.popleft()
        return windows

    def _paused_within(self, start: float, end: float) -> float:
        """Seconds of ``[start, end)`` that a pause kept silent."""
        return sum(max(0.0, min(end, b) - max(start, a)) for a, b in self._pauses)
