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

"""Bounded run-time statistics for diagnostics: rates, ages, latency percentiles, counters."""

from __future__ import annotations

from collections import Counter
from collections import deque
import threading
from typing import Deque, Dict, Optional

from .metrics import percentiles


class RateMeter:
    """Message rate over the last ``window`` seconds (times passed in, so it is testable)."""

    def __init__(self, window: float = 5.0, max_events: int = 10_000) -> None:
        self.window = window
        self._times: Deque[float] = deque(maxlen=max_events)
        self.count = 0
        self.last: Optional[float] = None

    def tick(self, now: float) -> None:
        self._times.append(now)
        self.count += 1
        self.last = now

    def rate(self, now: float) -> float:
        while self._times and self._times[0] < now - self.window:
            self._times.popleft()
        if len(self._times) < 2:
            return 0.0
        span = max(now - self._times[0], self._times[-1] - self._times[0])
        return (len(self._times) - 1) / span if span > 0 else 0.0

    def age(self, now: float) -> float:
        """Seconds since the last event (inf if none)."""
        return float('inf') if self.last is None else now - self.last


class LatencyWindow:
    """The last ``size`` latency samples (ms) and their percentiles."""

    def __init__(self, size: int = 1000) -> None:
        self._values: Deque[float] = deque(maxlen=size)
        self.total = 0

    def add(self, ms: float) -> None:
        self._values.append(ms)
        self.total += 1

    def __len__(self) -> int:
        return len(self._values)

    def percentiles(self) -> Dict[str, float]:
        return percentiles(self._values, (50, 95, 99)) if self._values else {}


class DropCounter:
    """Thread-safe counts of dropped inputs by cause."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter = Counter()

    def add(self, cause: str, n: int = 1) -> None:
        with self._lock:
            self._counts[cause] += n

    def snapshot(self) -> Dict[str, int]:
        with self._lock:
            return dict(self._counts)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._counts.values())
