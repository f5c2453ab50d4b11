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

"""What one stream's stamps say about it: its nominal rate, its continuous runs, the pauses
between them and the samples lost inside them. ROS-free.

Recordings come as long sessions or as short trials recorded back to back with the sensors
silent in between. Message count over bag duration averages those silences in (a 50 Hz IMU
read as 39 Hz); here the rate is measured *within* runs, as one over the median interval
between consecutive stamps, which silences and the odd lost message do not move.

An interval between consecutive stamps is one of (``period`` the median interval, per message):

- a *pause*, when it is longer than :func:`pause_threshold`: ``max(0.5 s, 5 periods)``. A
  best-effort transport loses a message or two (an interval of 2-3 periods) or a short
  burst; a sensor silent for half a second or for five of its periods was stopped (a trial
  ended, a driver paused), which says nothing about samples lost on the way. The streaming
  windower (``core/windows.py``) uses the same rule, so what ``hybrid-fusion inspect`` reads
  in a bag is what training and the encoder nodes will count;
- a *gap* inside a run, when it is longer than 1.5 periods: ``round(interval / period) - 1``
  samples were lost (the live windower waits for 2.5 periods, so that stamp jitter is never
  a loss; it lets a single missing sample pass);
- otherwise ordinary jitter.

Chunked streams (audio, one message per 0.1 s of samples): pass the message stamps with each
message's sample count (``samples``). Intervals are then compared per message and the rate is
in samples per second (one over the median of ``interval / samples``); a gap loses
``round(interval * rate) - samples`` samples. Without counts, every stamp is one sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

PAUSE_SECONDS = 0.5  # a silence this long is a pause whatever the rate
PAUSE_PERIODS = 5.0  # ... and so is one of this many periods of a slow sensor
LOSS_PERIODS = 1.5  # an interval this many periods long inside a run lost samples


def pause_threshold(period: float, longest: Optional[float] = None) -> float:
    """The shortest silence (s) that is a pause for a stream whose messages come every
    ``period`` seconds: ``max(PAUSE_SECONDS, PAUSE_PERIODS * period)``, at most ``longest``
    (the windower passes its window length: a silence longer than a window always was an
    interruption, not a loss)."""
    threshold = max(PAUSE_SECONDS, PAUSE_PERIODS * period)
    return threshold if longest is None else min(threshold, longest)


@dataclass(frozen=True)
class Run:
    """A continuous stretch of a stream: it covers ``[start, end)``, ``end`` being one message
    duration after its last stamp, so a clean run lasts ``samples / rate`` seconds."""

    start: float
    end: float
    samples: int

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Pause:
    """A silence from the end of one run to the start of the next."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Timeline:
    """One stream's runs, pauses and losses (see the module docstring for the rules).

    ``rate`` is in samples per second and ``period`` is the median interval between messages
    (both None with fewer than two distinct stamps); ``lost`` is the number of samples
    estimated lost inside runs over ``gaps`` intervals; ``duplicates`` counts stamps equal
    to the one before (left out, as the windower leaves them out).
    """

    rate: Optional[float]
    period: Optional[float]
    threshold: float
    messages: int
    runs: List[Run] = field(default_factory=list)
    pauses: List[Pause] = field(default_factory=list)
    lost: int = 0
    gaps: int = 0
    duplicates: int = 0

    @classmethod
    def from_stamps(
        cls,
        stamps: Union[Sequence[float], np.ndarray],
        samples: Union[None, int, Sequence[int], np.ndarray] = None,
    ) -> 'Timeline':
        """The timeline of ``stamps`` (seconds, in any order). ``samples``: per-stamp sample
        counts for chunked messages (one number for all, or one per stamp); None: one each."""
        t = np.asarray(stamps, dtype=np.float64).ravel()
        counts = np.broadcast_to(
            np.asarray(1 if samples is None else samples, dtype=np.int64), t.shape
        )
        if (counts < 1).any():
            raise ValueError('every message needs at least one sample')
        order = np.argsort(t, kind='stable')
        t, counts = t[order], counts[order]
        keep = np.r_[True, np.diff(t) > 0] if t.size else np.ones(0, bool)
        duplicates = int(t.size - keep.sum())
        t, counts = t[keep], counts[keep]
        if t.size < 2:
            runs = [Run(float(t[0]), float(t[0]), int(counts[0]))] if t.size else []
            return cls(
                None, None, PAUSE_SECONDS, int(t.size + duplicates), runs, duplicates=duplicates
            )
        intervals = np.diff(t)
        period = float(np.median(intervals))
        sample_period = float(np.median(intervals / counts[:-1]))
        threshold = pause_threshold(period)
        # How long each message lasts: its samples at the nominal rate.
        durations = counts * sample_period
        pause_at = np.flatnonzero(intervals > threshold)
        in_run = intervals <= threshold
        gap = in_run & (intervals > LOSS_PERIODS * durations[:-1])
        lost = np.rint(intervals[gap] / sample_period).astype(np.int64) - counts[:-1][gap]
        bounds = [0, *(pause_at + 1).tolist(), t.size]
        cumulative = np.r_[0, np.cumsum(counts)]
        runs = [
            Run(
                float(t[a]), float(t[b - 1] + durations[b - 1]), int(cumulative[b] - cumulative[a])
            )
            for a, b in zip(bounds, bounds[1:])
        ]
        pauses = [Pause(a.end, b.start) for a, b in zip(runs, runs[1:])]
        return cls(
            1.0 / sample_period,
            period,
            threshold,
            int(t.size + duplicates),
            runs,
            pauses,
            int(np.maximum(lost, 0).sum()),
            int(gap.sum()),
            duplicates,
        )

    @property
    def samples(self) -> int:
        return sum(r.samples for r in self.runs)

    @property
    def start(self) -> Optional[float]:
        return self.runs[0].start if self.runs else None

    @property
    def end(self) -> Optional[float]:
        return self.runs[-1].end if self.runs else None

    @property
    def paused_seconds(self) -> float:
        return float(sum(p.seconds for p in self.pauses))

    @property
    def median_pause(self) -> Optional[float]:
        return float(np.median([p.seconds for p in self.pauses])) if self.pauses else None

    @property
    def lost_fraction(self) -> float:
        """Samples lost inside runs, as a fraction of those the runs should have held."""
        return self.lost / max(self.samples + self.lost, 1)

    def coverage(
        self, starts: Union[Sequence[float], np.ndarray], ends: Union[Sequence[float], np.ndarray]
    ) -> np.ndarray:
        """Seconds of each interval ``[starts[i], ends[i])`` that the runs cover."""
        lo = np.asarray(starts, dtype=np.float64)
        hi = np.asarray(ends, dtype=np.float64)
        covered = np.zeros(np.broadcast(lo, hi).shape)
        for run in self.runs:
            covered += np.clip(np.minimum(hi, run.end) - np.maximum(lo, run.start), 0.0, None)
        return covered

    def to_dict(self) -> Dict[str, Any]:
        """Plain numbers and lists (JSON): the figures, then every run and pause."""
        return {
            'rate_hz': self.rate,
            'period_s': self.period,
            'pause_threshold_s': self.threshold,
            'messages': self.messages,
            'samples': self.samples,
            'start': self.start,
            'end': self.end,
            'run_count': len(self.runs),
            'pause_count': len(self.pauses),
            'paused_seconds': self.paused_seconds,
            'median_pause_s': self.median_pause,
            'lost_samples': self.lost,
            'lost_fraction': self.lost_fraction,
            'gaps': self.gaps,
            'duplicates': self.duplicates,
            'runs': [
                {'start': r.start, 'end': r.end, 'samples': r.samples} for r in self.runs
            ],
            'pauses': [{'start': p.start, 'end': p.end} for p in self.pauses],
        }
