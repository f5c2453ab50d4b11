"""Time synchronization of several inputs, with message_filters' Python API.

``message_filters`` is not on PyPI, so this module provides the policy a message_filters
user knows, with the same names and matching semantics: ``SimpleFilter.registerCallback``,
``ApproximateTimeSynchronizer(fs, queue_size, slop, allow_headerless=False)`` and
``TimeSynchronizer`` (exact stamps). What it adds, because its users ask for it: counts of
matched and dropped messages per input, a drop callback that says why a message left a
queue unmatched, and per-input timeouts: an input silent for longer than its timeout (in
stamp time: the newest stamp seen on any input minus that input's newest) no longer holds
the others back, and sets are emitted with ``None`` in its place until it speaks again.

Matching (as in message_filters' Python ApproximateTimeSynchronizer): each input keeps a
queue ``stamp -> message`` of at most ``queue_size`` (the oldest stamp is evicted first).
When a message arrives, the other inputs' queued stamps within ``slop`` of it are ranked by
distance; the first combination, in that order, whose spread (max - min stamp, the new
message included) is below ``slop`` is emitted and those messages leave their queues.

Stamps are integer nanoseconds internally. The policy needs no rclpy: a message is anything
with ``header.stamp`` carrying ``sec``/``nanosec`` (or ``nanoseconds``).
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence

DropCallback = Callable[[int, Any, str], None]


def stamp_ns(msg: Any) -> Optional[int]:
    """Header stamp of ``msg`` in nanoseconds, or None if it has no header."""
    header = getattr(msg, 'header', None)
    if header is None:
        return None
    stamp = header.stamp
    if hasattr(stamp, 'nanoseconds'):
        return int(stamp.nanoseconds)
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class SimpleFilter:
    """A message source other filters connect to (message_filters.SimpleFilter)."""

    def __init__(self) -> None:
        self.callbacks: Dict[int, tuple] = {}

    def registerCallback(self, cb: Callable[..., Any], *args: Any) -> int:  # noqa: N802 - upstream name
        conn = len(self.callbacks)
        self.callbacks[conn] = (cb, args)
        return conn

    def signalMessage(self, *msg: Any) -> None:  # noqa: N802 - upstream name
        for cb, args in list(self.callbacks.values()):
            cb(*(msg + args))


class Input(SimpleFilter):
    """A plain input to feed by hand (tests, or a non-ROS source): ``input.add(msg)``."""

    def add(self, msg: Any) -> None:
        self.signalMessage(msg)


@dataclass
class SyncStats:
    received: List[int]
    matched: int = 0
    dropped: List[int] = field(default_factory=list)      # left a full queue unmatched
    headerless: List[int] = field(default_factory=list)   # rejected: no header and not allowed
    duplicate: List[int] = field(default_factory=list)    # same stamp again: replaced the queued one
    partial: int = 0                                      # sets emitted without a timed-out input

    @classmethod
    def for_inputs(cls, n: int) -> 'SyncStats':
        return cls([0] * n, 0, [0] * n, [0] * n, [0] * n)


class ApproximateTimeSynchronizer(SimpleFilter):
    """Emit one message per input whose stamps lie within ``slop`` seconds of each other."""

    def __init__(self, fs: Sequence[SimpleFilter], queue_size: int, slop: float,
                 allow_headerless: bool = False, clock_ns: Callable[[], int] = time.time_ns,
                 timeouts: Optional[Sequence[Optional[float]]] = None) -> None:
        """``timeouts``: per input, seconds of silence after which sets are emitted without
        it (``None``: wait for it forever, message_filters' behaviour)."""
        super().__init__()
        if timeouts is not None and len(timeouts) != len(fs):
            raise ValueError(f'{len(timeouts)} timeouts for {len(fs)} inputs')
        self._timeouts_ns = [None if t is None else int(t * 1e9) for t in (timeouts or [None] * len(fs))]
        self._newest_ns: List[Optional[int]] = [None] * len(fs)
        self._first_ns: Optional[int] = None
        if queue_size < 1:
            raise ValueError(f'queue_size must be >= 1, got {queue_size}')
        if slop < 0:
            raise ValueError(f'slop must be >= 0, got {slop}')
        self.queue_size = queue_size
        self.slop = slop
        self.allow_headerless = allow_headerless
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self.queues: List[Dict[int, Any]] = [{} for _ in fs]
        self.stats = SyncStats.for_inputs(len(fs))
        self._drop_callbacks: List[DropCallback] = []
        self.input_connections = [f.registerCallback(self.add, q, i) for i, (f, q) in enumerate(zip(fs, self.queues))]

    @property
    def slop(self) -> float:
        return self._slop_ns / 1e9

    @slop.setter
    def slop(self, seconds: float) -> None:
        self._slop_ns = int(round(seconds * 1e9))

    def registerDropCallback(self, cb: DropCallback) -> None:  # noqa: N802 - matches registerCallback
        """``cb(input_index, msg, reason)`` for every message that leaves unmatched."""
        self._drop_callbacks.append(cb)

    def reset(self) -> None:
        """Forget every queued message (after a clock jump); they are counted as dropped."""
        with self._lock:
            dropped = [(i, m) for i, q in enumerate(self.queues) for m in q.values()]
            for i, _ in dropped:
                self.stats.dropped[i] += 1
            for q in self.queues:
                q.clear()
        for i, m in dropped:
            self._signal_drop(i, m, 'reset')

    def _signal_drop(self, index: int, msg: Any, reason: str) -> None:
        for cb in self._drop_callbacks:
            cb(index, msg, reason)

    def add(self, msg: Any, my_queue: Dict[int, Any], my_queue_index: Optional[int] = None) -> None:
        index = self.queues.index(my_queue) if my_queue_index is None else my_queue_index
        stamp = stamp_ns(msg)
        evicted = []
        matched = None
        with self._lock:
            self.stats.received[index] += 1
            if stamp is None:
                if not self.allow_headerless:
                    self.stats.headerless[index] += 1
                    evicted.append((index, msg, 'headerless'))
                    stamp = None
                else:
                    stamp = self._clock_ns()
            if stamp is not None:
                if self._first_ns is None:
                    self._first_ns = stamp
                if self._newest_ns[index] is None or stamp > self._newest_ns[index]:
                    self._newest_ns[index] = stamp
                if stamp in my_queue:
                    self.stats.duplicate[index] += 1
                    evicted.append((index, my_queue[stamp], 'duplicate stamp'))
                my_queue[stamp] = msg
                while len(my_queue) > self.queue_size:
                    oldest = min(my_queue)
                    self.stats.dropped[index] += 1
                    evicted.append((index, my_queue.pop(oldest), 'queue full'))
                matched = self._match(index, stamp)
        for i, m, reason in evicted:
            self._signal_drop(i, m, reason)
        if matched is not None:
            self.signalMessage(*matched)

    def timed_out(self) -> List[bool]:
        """Per input: silent for longer than its timeout, in stamp time."""
        known = [s for s in self._newest_ns if s is not None]
        if not known:
            return [False] * len(self.queues)
        newest = max(known)
        return [t is not None and newest - (last if last is not None else self._first_ns) > t
                for t, last in zip(self._timeouts_ns, self._newest_ns)]

    def _match(self, index: int, stamp: int) -> Optional[tuple]:
        candidates = []
        skipped = set()
        timed_out = self.timed_out()
        for i, queue in enumerate(self.queues):
            if i == index:
                continue
            near = sorted((abs(s - stamp), s) for s in queue if abs(s - stamp) <= self._slop_ns)
            if not near:
                if not timed_out[i]:
                    return None
                skipped.add(i)
                continue
            candidates.append([s for _, s in near])
        for combo in itertools.product(*candidates):
            present = list(combo)
            present.insert(sum(1 for i in range(index) if i not in skipped), stamp)
            # Strictly below slop, as message_filters' Python policy compares.
            if max(present) - min(present) < self._slop_ns or (self._slop_ns == 0 and max(present) == min(present)):
                it = iter(present)
                msgs = tuple(None if i in skipped else q.pop(next(it)) for i, q in enumerate(self.queues))
                self.stats.matched += 1
                self.stats.partial += bool(skipped)
                return msgs
        return None


class TimeSynchronizer(ApproximateTimeSynchronizer):
    """Exact stamp matching (message_filters.TimeSynchronizer)."""

    def __init__(self, fs: Sequence[SimpleFilter], queue_size: int) -> None:
        super().__init__(fs, queue_size, slop=0.0)


class Cache(SimpleFilter):
    """Keeps the last ``cache_size`` messages of an input (message_filters.Cache)."""

    def __init__(self, f: SimpleFilter, cache_size: int = 1, allow_headerless: bool = False) -> None:
        super().__init__()
        self.cache_size = cache_size
        self.allow_headerless = allow_headerless
        self.cache_msgs: List[Any] = []
        self.cache_times: List[int] = []
        f.registerCallback(self.add)

    def add(self, msg: Any) -> None:
        stamp = stamp_ns(msg)
        if stamp is None:
            if not self.allow_headerless:
                return
            stamp = time.time_ns()
        self.cache_msgs.append(msg)
        self.cache_times.append(stamp)
        del self.cache_msgs[:-self.cache_size]
        del self.cache_times[:-self.cache_size]
        self.signalMessage(msg)

    def getLast(self) -> Any:  # noqa: N802 - upstream name
        return self.cache_msgs[-1] if self.cache_msgs else None

    def getLastestTime(self) -> Optional[int]:  # noqa: N802 - upstream spelling
        return self.cache_times[-1] if self.cache_times else None

    def getInterval(self, from_ns: int, to_ns: int) -> List[Any]:  # noqa: N802 - upstream name
        return [m for m, t in zip(self.cache_msgs, self.cache_times) if from_ns <= t <= to_ns]
