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

"""ros2/message_filters' Python filters, without message_filters (it is not on PyPI).

The classes carry upstream's names, signatures and matching semantics, so that code written for
``message_filters`` runs unchanged: :class:`SimpleFilter` (``registerCallback``,
``unregisterCallback``, ``signalMessage``), :class:`Subscriber` (an rclpy subscription as a filter
source), :class:`Cache`, :class:`Chain`, :class:`TimeSequencer`, :class:`TimeSynchronizer` and
:class:`ApproximateTimeSynchronizer`. :class:`Input` is a source to feed by hand.

Upstream, as followed here (its Python code; humble, jazzy, kilted and rolling agree unless noted)
------------------------------------------------------------------------------------------------
* A message without ``header`` or without ``header.stamp`` is headerless. The synchronizer and the
  cache drop it with a warning unless ``allow_headerless``; then it is stamped with the clock.
* Every input of a synchronizer keeps a queue ``{stamp_ns: message}`` of at most ``queue_size``;
  the smallest stamp leaves first, even when it is the message that just arrived. A second message
  with a queued stamp replaces the first one and keeps its place in the queue.
* ApproximateTimeSynchronizer, on each arrival: the candidates of every other input are its queued
  stamps at most ``slop`` away from the new stamp, ranked by that distance with a stable sort (on
  a tie, the one queued first comes first). If an input has no candidate nothing is emitted.
  Otherwise the combinations are tried in ``itertools.product`` order, the new stamp inserted at
  its input's place, and the first one whose spread (max - min) is strictly below ``slop`` and
  whose stamps are all still queued is emitted and leaves the queues. So ``slop`` 0 never matches,
  and a new message that its full queue evicted at once is never part of a set.
  ``add(msg, queue)`` without an index (upstream's signature allows it) searches every queue,
  that input's own included, and need not emit the new message.
* ``sync_arrival_time`` (rolling, 2025): every message is stamped with the clock on arrival,
  header or not.
* TimeSynchronizer (exact stamps; ros2/message_filters#238, released to every distro in January
  2026): when all queues hold a stamp, the smallest such set is emitted, and every queued message
  older than it is dropped. A message without stamp raises ``ValueError`` (rolling's wording of
  what was an ``AttributeError`` before).
* Cache: a ring buffer of the last ``cache_size`` messages in arrival order (0 keeps none); every
  accepted message is passed on. Query results follow arrival order, not stamp order, as upstream:
  ``getLast`` is ``getElemAfterTime(getLatestTime())``, the first arrival at or after the stamp of
  the last arrival. ``getInterval(a, b)`` with ``a > b`` raises ``AssertionError``.
* Chain and TimeSequencer as in rolling; ``Cache.getLatestTime`` is rolling's name,
  ``getLastestTime`` (humble..kilted) is kept as an alias.

Times
-----
The module imports without rclpy. Internally every stamp is integer nanoseconds. A stamp (or a
query time, a slop, a delay) may be an rclpy ``Time``/``Duration`` or anything with
``nanoseconds``, a ``builtin_interfaces/Time`` or anything with ``sec`` and ``nanosec``, or an int
of nanoseconds (slop and delays: float or int seconds, as upstream). Where upstream gives a
``Time`` back: ``ApproximateTimeSynchronizer.slop`` returns the object it was given; the Cache
returns the header's own stamp object when it has ``nanoseconds`` (an rclpy ``Time``, as upstream),
otherwise an rclpy ``Time`` of clock type ROS_TIME (as ``Time.from_msg``) when rclpy is importable
and int nanoseconds when it is not. Clocks (``clock=``) are a zero-argument callable returning ns
or a Time, or an object with ``now()`` such as an rclpy ``Clock``; the default is the system time,
which is what upstream's ``ROSClock().now()`` reads when no time source is attached.

This project's additions (upstream has none of them)
----------------------------------------------------
* ``stats`` (:class:`SyncStats`) per synchronizer: received, matched, dropped (left a queue
  unmatched), headerless, duplicate, partial; ``registerDropCallback(cb(index, msg, reason))``.
  Where upstream drops silently, the message is counted and reported: ``'queue full'`` (also when
  the new message itself is evicted at once), ``'duplicate stamp'`` (the replaced message,
  counted in ``duplicate``, not in ``dropped``), ``'headerless'``, ``'older than a match'``
  (TimeSynchronizer, #238) and ``'reset'`` (:meth:`TimeSynchronizer.reset`, for clock jumps).
* Per-input ``timeouts`` of ApproximateTimeSynchronizer: an input silent for longer than its
  timeout, in stamp time (the newest stamp seen on any input minus that input's newest, or minus
  the first stamp ever seen if it has none), no longer holds the others back: when it has no
  candidate it is left out and the set is emitted with ``None`` in its place; when it has one, it
  takes part as usual. The spread and slop rules are upstream's, over the messages present. With
  ``sync_arrival_time`` the stamps, so the timeouts too, are arrival times.

Deliberate differences from upstream
------------------------------------
* Synchronizers emit sets and drop reports after releasing their lock (upstream calls back while
  holding it): the fusion node runs its model in the callback under a multi-threaded executor and
  must not block the other inputs meanwhile. A callback may therefore feed the synchronizer again.
* ``queue_size < 1``, negative ``slop`` and a ``timeouts`` list of the wrong length raise
  ``ValueError`` (upstream accepts them and then never matches). ``add`` with a queue that is not
  one of the synchronizer's raises ``ValueError``.
* ``registerCallback`` numbers connections from a counter; upstream uses ``len(callbacks)``, which
  after an ``unregisterCallback`` can hand out a live number and silently replace that callback.
* Stamps of different rclpy clock types are compared by nanoseconds (rclpy raises ``TypeError``);
  stamps need only ``sec``/``nanosec`` (upstream's ``Time.from_msg`` wants a builtin_interfaces
  message; its TimeSequencer even refuses an rclpy ``Time``).
* Headerless warnings go to Python's ``logging`` (loggers ``message_filters_approx``,
  ``message_filters_cache``, ``message_filters_sequencer``), not to the rclpy logger. The Cache
  drops a headerless message with that warning, as humble..kilted do; rolling now raises instead.
* ``getInterval`` raises ``AssertionError`` itself, so it also does under ``python -O``.
* TimeSequencer also works without a node (no timer: call :meth:`TimeSequencer.dispatch`), takes a
  ``clock``, and orders equal stamps by arrival (upstream compares the messages and raises).
* Not provided: rolling's ``queue_offset`` and ``time_getter`` arguments, LatestTime and the other
  C++-only policies, DeltaFilter, InputAligner.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from dataclasses import field
import itertools
import logging
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

DropCallback = Callable[[int, Any, str], None]
Clock = Any  # callable -> int ns | Time-like, or an object with now() -> Time-like
NS_PER_S = 1_000_000_000

_LOG_APPROX = logging.getLogger('message_filters_approx')
_LOG_CACHE = logging.getLogger('message_filters_cache')
_LOG_SEQUENCER = logging.getLogger('message_filters_sequencer')
_HEADERLESS_WARNING = (
    'can not use message filters messages without timestamp information when '
    '"allow_headerless" is disabled. auto assign ROSTIME to headerless messages once '
    'enabling constructor option of "allow_headerless".'
)


# --- times ---------------------------------------------------------------------------------------


def time_ns(value: Any) -> int:
    """Nanoseconds of a point in time: an int (ns), an object with ``nanoseconds`` (rclpy
    ``Time``) or with ``sec`` and ``nanosec`` (``builtin_interfaces/Time``)."""
    if hasattr(value, 'nanoseconds'):
        return int(value.nanoseconds)
    if hasattr(value, 'sec') and hasattr(value, 'nanosec'):
        return int(value.sec) * NS_PER_S + int(value.nanosec)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f'not a time: {value!r} (give int nanoseconds, a Time, or sec/nanosec)')


def duration_ns(value: Any) -> int:
    """Nanoseconds of a duration: float or int seconds (as ``Duration(seconds=...)`` truncates
    them), or an object with ``nanoseconds`` (rclpy ``Duration``)."""
    if hasattr(value, 'nanoseconds'):
        return int(value.nanoseconds)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * NS_PER_S)
    raise TypeError(f'not a duration: {value!r} (give seconds or a Duration)')


def header_stamp(msg: Any) -> Any:
    """``msg.header.stamp`` as it is, or None when the message has no header or no stamp."""
    return getattr(getattr(msg, 'header', None), 'stamp', None)


def stamp_ns(msg: Any) -> Optional[int]:
    """Header stamp of ``msg`` in nanoseconds, or None when it has no header or no stamp."""
    stamp = header_stamp(msg)
    return None if stamp is None else time_ns(stamp)


def clock_reader(clock: Clock = None) -> Callable[[], int]:
    """A zero-argument function giving ``clock``'s time in nanoseconds (default: system time)."""
    if clock is None:
        return time.time_ns
    now = getattr(clock, 'now', None)
    if callable(now):
        return lambda: time_ns(now())
    if callable(clock):
        return lambda: time_ns(clock())
    raise TypeError(f'not a clock: {clock!r} (give a callable or an object with now())')


def rclpy_time_factory() -> Callable[[int], Any]:
    """ns -> rclpy ``Time`` (ROS_TIME, as ``Time.from_msg``) if rclpy imports, else ns -> int."""
    try:
        from rclpy.clock import ClockType
        from rclpy.time import Time
    except ImportError:
        return int
    return lambda ns: Time(nanoseconds=ns, clock_type=ClockType.ROS_TIME)


# --- filters -------------------------------------------------------------------------------------


class SimpleFilter:
    """A message source other filters connect to (message_filters.SimpleFilter)."""

    def __init__(self) -> None:
        self.callbacks: Dict[int, Tuple[Callable[..., Any], tuple]] = {}
        self._next_connection = 0

    def registerCallback(
        self, cb: Callable[..., Any], *args: Any
    ) -> int:  # noqa: N802 - upstream name
        """Call ``cb(*output, *args)`` for every output of this filter; returns the connection."""
        conn = getattr(self, '_next_connection', len(self.callbacks))
        while conn in self.callbacks:
            conn += 1
        self._next_connection = conn + 1
        self.callbacks[conn] = (cb, args)
        return conn

    def unregisterCallback(self, conn: int) -> None:  # noqa: N802 - upstream name
        """Disconnect the callback ``registerCallback`` returned ``conn`` for (unknown:
        ignored)."""
        self.callbacks.pop(conn, None)

    def signalMessage(self, *msg: Any) -> None:  # noqa: N802 - upstream name
        """Pass ``msg`` to every registered callback, in registration order."""
        for cb, args in list(self.callbacks.values()):
            cb(*(msg + args))


class Input(SimpleFilter):
    """A plain input to feed by hand (tests, or a non-ROS source): ``input.add(msg)``."""

    def add(self, msg: Any) -> None:
        """Pass ``msg`` on to the connected filters."""
        self.signalMessage(msg)


class Subscriber(SimpleFilter):
    """An rclpy subscription as a filter source (message_filters.Subscriber).

    ``Subscriber(node, msg_type, topic, qos_profile=10, **kwargs)``: the keywords (callback_group,
    event_callbacks, ...) go to ``node.create_subscription``. Attributes it lacks are looked up on
    the subscription (``topic_name``, ``destroy``, ...). Needs no rclpy import of its own.
    """

    def __init__(
        self, node: Any, msg_type: Any, topic: str, qos_profile: Any = 10, **kwargs: Any
    ) -> None:
        super().__init__()
        self.node = node
        self.topic = topic
        self.sub = node.create_subscription(msg_type, topic, self.callback, qos_profile, **kwargs)

    def callback(self, msg: Any) -> None:
        """The subscription's callback: pass the message on."""
        self.signalMessage(msg)

    def getTopic(self) -> str:  # noqa: N802 - upstream name
        """The topic as given to the constructor."""
        return self.topic

    def __getattr__(self, key: str) -> Any:
        """Serve the subscription's API (upstream: 'same API as rospy.Subscriber')."""
        if key == 'sub' or (key.startswith('__') and key.endswith('__')):
            raise AttributeError(key)  # not constructed yet, or a special method
        return getattr(self.sub, key)


class Cache(SimpleFilter):
    """The last ``cache_size`` messages of an input, in arrival order (message_filters.Cache).

    ``cache_times`` holds the stamps the query methods return: see the module docstring.
    """

    def __init__(
        self,
        f: Optional[SimpleFilter],
        cache_size: int = 1,
        allow_headerless: bool = False,
        *,
        clock: Clock = None,
    ) -> None:
        """``f``: the input (None: connect later, or feed ``add``); ``clock`` stamps headerless
        messages when ``allow_headerless``."""
        super().__init__()
        self.cache_size = cache_size
        self.allow_headerless = allow_headerless
        self.cache_msgs: List[Any] = []
        self.cache_times: List[Any] = []
        self._times_ns: List[int] = []
        self._now = clock_reader(clock)
        self._make_time = rclpy_time_factory()
        self.incoming_connection: Optional[int] = None
        if f is not None:
            self.connectInput(f)

    def connectInput(self, f: SimpleFilter) -> None:  # noqa: N802 - upstream name
        """Cache what ``f`` outputs."""
        self.incoming_connection = f.registerCallback(self.add)

    def add(self, msg: Any) -> None:
        """Cache ``msg`` (the oldest arrival leaves when full) and pass it on."""
        stamp = header_stamp(msg)
        if stamp is None:
            if not self.allow_headerless:
                _LOG_CACHE.warning(_HEADERLESS_WARNING)
                return
            ns = self._now()
            stamp = self._make_time(ns)
        elif hasattr(stamp, 'nanoseconds'):
            ns = int(stamp.nanoseconds)
        else:
            ns = time_ns(stamp)
            stamp = self._make_time(ns)
        self.cache_msgs.append(msg)
        self.cache_times.append(stamp)
        self._times_ns.append(ns)
        if len(self.cache_msgs) > self.cache_size:
            del self.cache_msgs[0], self.cache_times[0], self._times_ns[0]
        self.signalMessage(msg)

    def getInterval(
        self, from_stamp: Any, to_stamp: Any
    ) -> List[Any]:  # noqa: N802 - upstream name
        """Messages stamped within ``[from_stamp, to_stamp]``, in arrival order."""
        lo, hi = time_ns(from_stamp), time_ns(to_stamp)
        if lo > hi:
            raise AssertionError(f'getInterval: from_stamp ({lo} ns) is after to_stamp ({hi} ns)')
        return [m for m, t in zip(self.cache_msgs, self._times_ns) if lo <= t <= hi]

    def getElemAfterTime(self, stamp: Any) -> Any:  # noqa: N802 - upstream name
        """The first arrival stamped at or after ``stamp``, or None."""
        ns = time_ns(stamp)
        return next((m for m, t in zip(self.cache_msgs, self._times_ns) if t >= ns), None)

    def getElemBeforeTime(self, stamp: Any) -> Any:  # noqa: N802 - upstream name
        """The last arrival stamped at or before ``stamp``, or None."""
        ns = time_ns(stamp)
        return next(
            (m for m, t in zip(reversed(self.cache_msgs), reversed(self._times_ns)) if t <= ns),
            None,
        )

    def getLatestTime(self) -> Any:  # noqa: N802 - upstream name
        """The stamp of the last arrival (not the newest stamp), or None."""
        return self.cache_times[-1] if self.cache_times else None

    getLastestTime = getLatestTime  # noqa: N815 - humble..kilted spelling

    def getOldestTime(self) -> Any:  # noqa: N802 - upstream name
        """The stamp of the first arrival still cached, or None."""
        return self.cache_times[0] if self.cache_times else None

    def getLast(self) -> Any:  # noqa: N802 - upstream name
        """``getElemAfterTime(getLatestTime())``, or None when empty."""
        latest = self.getLatestTime()
        return None if latest is None else self.getElemAfterTime(self._times_ns[-1])


@dataclass
class _ChainLink:
    message_filter: Any
    connection: int


def _connect_single_input(target: Any, source: SimpleFilter, already: str) -> None:
    """Feed ``target.add`` from ``source``, for filters of one input: a second connection raises
    ``RuntimeError(already)``, with the message upstream gives for that filter."""
    if target.incoming_connection is not None:
        raise RuntimeError(already)
    target.incoming_connection = source.registerCallback(target.add)


class Chain(SimpleFilter):
    """Filters run one after the other; the last one's output is the chain's
    (message_filters.Chain)."""

    def __init__(self, message_filter: Optional[SimpleFilter] = None) -> None:
        super().__init__()
        self.incoming_connection: Optional[int] = None
        self._message_filters: Dict[int, _ChainLink] = {}
        if message_filter is not None:
            self.connectInput(message_filter)

    def connectInput(self, message_filter: SimpleFilter) -> None:  # noqa: N802 - upstream name
        """Feed the chain from ``message_filter``; a chain has one input (else
        ``RuntimeError``)."""
        _connect_single_input(self, message_filter, 'Already connected')

    def add(self, message: Any) -> None:
        """Run ``message`` through the chain (with no filters, pass it straight on)."""
        if self._message_filters:
            self._message_filters[0].message_filter.add(message)
        else:
            self.signalMessage(message)

    def addFilter(self, message_filter: Any) -> None:  # noqa: N802 - upstream name
        """Append a filter (anything with ``add`` and ``registerCallback``) to the chain."""
        index = len(self._message_filters)
        connection = message_filter.registerCallback(self.signalMessage)
        self._message_filters[index] = _ChainLink(message_filter, connection)
        if index > 0:
            last = self._message_filters[index - 1]
            last.message_filter.unregisterCallback(last.connection)
            last.connection = last.message_filter.registerCallback(message_filter.add)

    def getFilter(self, index: int) -> Any:  # noqa: N802 - upstream name
        """The filter at ``index`` (``KeyError`` when there is none)."""
        return self._message_filters[index].message_filter


class TimeSequencer(SimpleFilter):
    """Passes messages on in stamp order, each once it is ``delay`` old
    (message_filters.TimeSequencer).

    A message stamped before the last one passed on is thrown away. ``queue_size`` (0: no limit)
    bounds the waiting messages; the earliest stamp leaves first. With a ``node``, a timer every
    ``update_rate`` calls :meth:`dispatch` and the node's clock is used; without one, call
    :meth:`dispatch` yourself (``clock`` defaults to the system time).
    """

    def __init__(
        self,
        input_filter: Optional[SimpleFilter],
        delay: Any,
        update_rate: Any,
        queue_size: int,
        node: Any = None,
        msg_stamp_attr: str = 'header.stamp',
        *,
        clock: Clock = None,
    ) -> None:
        super().__init__()
        self.delay_ns = duration_ns(delay)
        self.update_rate_ns = duration_ns(update_rate)
        self.queue_size = queue_size
        self.node = node
        self.msg_stamp_attrs = msg_stamp_attr.split('.')
        self.lock = threading.Lock()
        self.messages: List[Tuple[int, Any]] = []
        self.last_time_ns = 0
        self._now = clock_reader(clock if clock is not None or node is None else node.get_clock())
        self.update_timer = (
            None
            if node is None
            else node.create_timer(self.update_rate_ns / NS_PER_S, self.dispatch)
        )
        self.incoming_connection: Optional[int] = None
        if input_filter is not None:
            self.connectInput(input_filter)

    def connectInput(self, input_filter: SimpleFilter) -> None:  # noqa: N802 - upstream name
        """Sequence what ``input_filter`` outputs; one input only (else ``RuntimeError``)."""
        _connect_single_input(self, input_filter, 'Already connected to an input filter.')

    def _stamp(self, msg: Any) -> Optional[int]:
        obj = msg
        for attr in self.msg_stamp_attrs:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return time_ns(obj)

    def add(self, msg: Any) -> None:
        """Queue ``msg`` by stamp (upstream: ``_add``)."""
        stamp = self._stamp(msg)
        if stamp is None:
            _LOG_SEQUENCER.warning('Cannot use message without timestamp; discarding message.')
            return
        with self.lock:
            if stamp < self.last_time_ns:
                return
            keys = [s for s, _ in self.messages]
            self.messages.insert(bisect.bisect_right(keys, stamp), (stamp, msg))
            if self.queue_size != 0 and len(self.messages) > self.queue_size:
                del self.messages[0]

    _add = add

    def dispatch(self) -> None:
        """Pass on, in stamp order, every queued message at least ``delay`` old (upstream:
        ``_dispatch``)."""
        ready = []
        now = self._now()
        with self.lock:
            while self.messages and self.messages[0][0] + self.delay_ns <= now:
                self.last_time_ns, msg = self.messages.pop(0)
                ready.append(msg)
        for msg in ready:
            self.signalMessage(msg)

    _dispatch = dispatch

    def shutdown(self) -> None:
        """Stop and destroy the node timer."""
        if self.update_timer is not None:
            self.update_timer.cancel()
            self.node.destroy_timer(self.update_timer)
            self.update_timer = None


# --- synchronizers -------------------------------------------------------------------------------


@dataclass
class SyncStats:
    """Per-input counts of a synchronizer (this project's addition)."""

    received: List[int]
    matched: int = 0
    dropped: List[int] = field(default_factory=list)  # left a queue unmatched
    headerless: List[int] = field(default_factory=list)  # rejected: no stamp and not allowed
    duplicate: List[int] = field(default_factory=list)  # same stamp again: replaced the queued one
    partial: int = 0  # sets emitted without a timed-out input

    @classmethod
    def for_inputs(cls, n: int) -> 'SyncStats':
        return cls([0] * n, 0, [0] * n, [0] * n, [0] * n)


_Drops = List[Tuple[int, Any, str]]


class TimeSynchronizer(SimpleFilter):
    """Emit one message per input when all inputs hold the same stamp
    (message_filters.TimeSynchronizer).

    Also the base of :class:`ApproximateTimeSynchronizer`: queues, lock, stats, drop reports,
    reset.
    """

    def __init__(self, fs: Sequence[SimpleFilter], queue_size: int) -> None:
        super().__init__()
        if queue_size < 1:
            raise ValueError(f'queue_size must be >= 1, got {queue_size}')
        self.queue_size = queue_size
        self.lock = threading.Lock()
        self._drop_callbacks: List[DropCallback] = []
        self.connectInput(fs)

    def connectInput(self, fs: Sequence[SimpleFilter]) -> None:  # noqa: N802 - upstream name
        """Synchronize the outputs of ``fs``: new, empty queues and stats (earlier inputs stay
        connected, as upstream, but no longer have a queue here)."""
        fs = list(fs)
        self._check_inputs(len(fs))
        with self.lock:
            self.queues: List[Dict[int, Any]] = [{} for _ in fs]
            self.stats = SyncStats.for_inputs(len(fs))
            self._newest_ns: List[Optional[int]] = [None] * len(fs)
            self._first_ns: Optional[int] = None
        self.input_connections = [
            f.registerCallback(self.add, q, i) for i, (f, q) in enumerate(zip(fs, self.queues))
        ]

    def _check_inputs(self, n: int) -> None:
        """Hook: refuse a number of inputs (ApproximateTimeSynchronizer checks its timeouts)."""

    def registerDropCallback(
        self, cb: DropCallback
    ) -> None:  # noqa: N802 - matches registerCallback
        """``cb(input_index, msg, reason)`` for every message that leaves unmatched."""
        self._drop_callbacks.append(cb)

    def reset(self) -> None:
        """Forget every queued message (after a clock jump); they are counted as dropped."""
        drops: _Drops = []
        with self.lock:
            for i, q in enumerate(self.queues):
                self.stats.dropped[i] += len(q)
                drops.extend((i, m, 'reset') for m in q.values())
                q.clear()
        self._emit(drops, None)

    def _emit(self, drops: _Drops, matched: Optional[Tuple[Any, ...]]) -> None:
        """Report drops, then emit the matched set, outside the lock."""
        for i, m, reason in drops:
            for cb in list(self._drop_callbacks):
                cb(i, m, reason)
        if matched is not None:
            self.signalMessage(*matched)

    def _queue_index(self, my_queue: Dict[int, Any], my_queue_index: Optional[int]) -> int:
        if my_queue_index is not None:
            return my_queue_index
        for i, q in enumerate(self.queues):
            if q is my_queue:  # by identity: two empty queues are equal
                return i
        raise ValueError("add(): the queue is not one of this synchronizer's queues")

    def _enqueue(
        self, index: int, my_queue: Dict[int, Any], stamp: int, msg: Any, drops: _Drops
    ) -> None:
        """Queue ``msg`` under ``stamp``; evict the smallest stamps beyond ``queue_size`` (caller
        locks)."""
        if self._first_ns is None:
            self._first_ns = stamp
        if self._newest_ns[index] is None or stamp > self._newest_ns[index]:
            self._newest_ns[index] = stamp
        if stamp in my_queue:
            self.stats.duplicate[index] += 1
            drops.append((index, my_queue[stamp], 'duplicate stamp'))
        my_queue[stamp] = msg
        while len(my_queue) > self.queue_size:
            self.stats.dropped[index] += 1
            drops.append((index, my_queue.pop(min(my_queue)), 'queue full'))

    def add(
        self, msg: Any, my_queue: Dict[int, Any], my_queue_index: Optional[int] = None
    ) -> None:
        """An input's message (connected by ``connectInput``; ``ValueError`` if it has no
        stamp)."""
        index = self._queue_index(my_queue, my_queue_index)
        stamp = stamp_ns(msg)
        drops: _Drops = []
        matched = None
        with self.lock:
            self.stats.received[index] += 1
            if stamp is None:
                self.stats.headerless[index] += 1
            else:
                self._enqueue(index, my_queue, stamp, msg, drops)
                common = set.intersection(*(set(q) for q in self.queues))
                if common:
                    t = min(common)
                    matched = tuple(q.pop(t) for q in self.queues)
                    self.stats.matched += 1
                    for i, q in enumerate(self.queues):  # ros2/message_filters#238
                        for s in [s for s in q if s < t]:
                            self.stats.dropped[i] += 1
                            drops.append((i, q.pop(s), 'older than a match'))
        if stamp is None:
            self._emit([(index, msg, 'headerless')], None)
            raise ValueError(
                'TimeSynchronizer: the message has no header stamp; use '
                'ApproximateTimeSynchronizer '
                'with allow_headerless=True'
            )
        self._emit(drops, matched)


class ApproximateTimeSynchronizer(TimeSynchronizer):
    """Emit one message per input whose stamps lie within ``slop`` of each other
    (message_filters.ApproximateTimeSynchronizer; semantics in the module docstring)."""

    def __init__(
        self,
        fs: Sequence[SimpleFilter],
        queue_size: int,
        slop: Any,
        allow_headerless: bool = False,
        *,
        sync_arrival_time: bool = False,
        clock: Clock = None,
        timeouts: Optional[Sequence[Optional[float]]] = None,
        clock_ns: Optional[Callable[[], int]] = None,
    ) -> None:
        """``slop``: seconds or a Duration. ``allow_headerless``: stamp headerless messages with
        the clock. ``sync_arrival_time``: stamp every message with the clock. ``clock``: see the
        module docstring (``clock_ns``: its older name). ``timeouts``: per input, seconds of
        silence after which sets are emitted without it (``None``: wait for it forever, as
        upstream)."""
        self._timeouts_ns = (
            None if timeouts is None else [None if t is None else duration_ns(t) for t in timeouts]
        )
        self.slop = slop
        self.allow_headerless = allow_headerless
        self.sync_arrival_time = sync_arrival_time
        self._now = clock_reader(clock if clock is not None else clock_ns)
        super().__init__(fs, queue_size)

    def _check_inputs(self, n: int) -> None:
        if self._timeouts_ns is not None and len(self._timeouts_ns) != n:
            raise ValueError(f'{len(self._timeouts_ns)} timeouts for {n} inputs')

    @property
    def slop(self) -> Any:
        """The slop as it was given (seconds or a Duration)."""
        return self._slop

    @slop.setter
    def slop(self, value: Any) -> None:
        ns = duration_ns(value)
        if ns < 0:
            raise ValueError(f'slop must be >= 0, got {value!r}')
        self._slop, self._slop_ns = value, ns

    def add(
        self, msg: Any, my_queue: Dict[int, Any], my_queue_index: Optional[int] = None
    ) -> None:
        """An input's message (connected by ``connectInput``)."""
        index = self._queue_index(my_queue, my_queue_index)
        if self.sync_arrival_time:
            stamp: Optional[int] = self._now()
        else:
            stamp = stamp_ns(msg)
            if stamp is None and self.allow_headerless:
                stamp = self._now()
        drops: _Drops = []
        matched = None
        with self.lock:
            self.stats.received[index] += 1
            if stamp is None:
                self.stats.headerless[index] += 1
                drops.append((index, msg, 'headerless'))
            else:
                self._enqueue(index, my_queue, stamp, msg, drops)
                matched = self._match(my_queue_index, stamp)
        if stamp is None:
            _LOG_APPROX.warning(_HEADERLESS_WARNING)
        self._emit(drops, matched)

    def timed_out(self) -> List[bool]:
        """Per input: silent for longer than its timeout, in stamp time."""
        n = len(self.queues)
        known = [s for s in self._newest_ns if s is not None]
        if self._timeouts_ns is None or not known:
            return [False] * n
        newest = max(known)
        return [
            t is not None and newest - (last if last is not None else self._first_ns) > t
            for t, last in zip(self._timeouts_ns, self._newest_ns)
        ]

    def _match(self, my_queue_index: Optional[int], stamp: int) -> Optional[Tuple[Any, ...]]:
        """Upstream's search (caller locks): the first set in candidate order, popped, or None."""
        timed_out = self.timed_out()
        fixed: Dict[int, int] = {} if my_queue_index is None else {my_queue_index: stamp}
        searched: List[int] = []
        candidates: List[List[int]] = []
        skipped = False
        for i, queue in enumerate(self.queues):
            if i == my_queue_index:
                continue
            near = sorted(
                (s for s in queue if abs(s - stamp) <= self._slop_ns), key=lambda s: abs(s - stamp)
            )
            if near:
                searched.append(i)
                candidates.append(near)
            elif timed_out[i]:
                skipped = True  # this project's timeouts: emit the set without this input
            else:
                return None
        for combo in itertools.product(*candidates):
            chosen = dict(fixed)
            chosen.update(zip(searched, combo))
            if not chosen:
                return None
            if max(chosen.values()) - min(chosen.values()) < self._slop_ns and all(
                s in self.queues[i] for i, s in chosen.items()
            ):
                self.stats.matched += 1
                self.stats.partial += skipped
                return tuple(
                    q.pop(chosen[i]) if i in chosen else None for i, q in enumerate(self.queues)
                )
        return None


__all__ = [
    'ApproximateTimeSynchronizer',
    'Cache',
    'Chain',
    'DropCallback',
    'Input',
    'SimpleFilter',
    'Subscriber',
    'SyncStats',
    'TimeSequencer',
    'TimeSynchronizer',
    'clock_reader',
    'duration_ns',
    'header_stamp',
    'stamp_ns',
    'time_ns',
]
