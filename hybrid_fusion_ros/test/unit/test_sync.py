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

"""The synchronizer and the other message filters, tested as ros2/message_filters specifies them.

Every expectation below comes from upstream's Python implementation (humble, jazzy, kilted and
rolling agree unless a test says otherwise): plain fake messages, no rclpy.init, except the one
test that runs the Subscriber adapter on a real node in its own context.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest

from hybrid_fusion_ros.core import sync as mf

NS = 1_000_000_000


def stamp(t: float) -> SimpleNamespace:
    """A builtin_interfaces/Time look-alike (``sec``/``nanosec``) for ``t`` seconds."""
    ns = int(round(t * NS))
    return SimpleNamespace(sec=ns // NS, nanosec=ns % NS)


def msg(t: float, tag: str = '') -> SimpleNamespace:
    """A stamped message; ``.t`` keeps the stamp in seconds for readable assertions."""
    return SimpleNamespace(header=SimpleNamespace(stamp=stamp(t)), tag=tag, t=t)


def ts(msgs: Sequence[Optional[SimpleNamespace]]) -> Tuple[Optional[float], ...]:
    return tuple(None if m is None else m.t for m in msgs)


def collect(filt: mf.SimpleFilter) -> List[Tuple[Optional[float], ...]]:
    out: List[Tuple[Optional[float], ...]] = []
    filt.registerCallback(lambda *msgs: out.append(ts(msgs)))
    return out


def run(
    arrivals: Sequence[Tuple[int, float]],
    n_inputs: int,
    queue_size: int = 10,
    slop: Any = 0.05,
    **kwargs: Any,
) -> Tuple[List[Tuple[Optional[float], ...]], mf.ApproximateTimeSynchronizer]:
    """arrivals: (input index, stamp) in arrival order; returns the matched stamp tuples and the
    sync."""
    inputs = [mf.Input() for _ in range(n_inputs)]
    sync = mf.ApproximateTimeSynchronizer(inputs, queue_size, slop, **kwargs)
    out = collect(sync)
    for i, t in arrivals:
        inputs[i].add(msg(t))
    return out, sync


def queued(sync: mf.TimeSynchronizer) -> List[List[float]]:
    """Stamps (s) left in each queue, in queue order."""
    return [[s / NS for s in q] for q in sync.queues]


# --- ApproximateTimeSynchronizer: matching ------------------------------------------------------

CASES = [
    # name, inputs, arrivals, expected matches
    ('exact', 2, [(0, 1.0), (1, 1.0), (0, 2.0), (1, 2.0)], [(1.0, 1.0), (2.0, 2.0)]),
    (
        'imperfect within slop',
        2,
        [(0, 1.0), (1, 1.03), (0, 2.0), (1, 1.98)],
        [(1.0, 1.03), (2.0, 1.98)],
    ),
    ('outside slop never matches', 2, [(0, 1.0), (1, 1.2)], []),
    ('closest candidate wins', 2, [(1, 0.98), (1, 1.01), (0, 1.0)], [(1.0, 1.01)]),
    (
        'dropped message leaves that set unmatched',
        3,
        [(0, 1.0), (1, 1.0), (0, 2.0), (1, 2.0), (2, 2.0)],
        [(2.0, 2.0, 2.0)],
    ),
    ('four inputs', 4, [(i, t) for t in (1.0, 1.5) for i in range(4)], [(1.0,) * 4, (1.5,) * 4]),
]


@pytest.mark.parametrize('name, n, arrivals, expected', CASES, ids=[c[0] for c in CASES])
def test_matching(name, n, arrivals, expected):
    out, _ = run(arrivals, n)
    assert out == expected


UPSTREAM_CASES = [
    # name, queue_size, slop, arrivals, expected sets, stats.dropped, stamps left per queue
    # A message older than everything in its full queue is evicted on arrival; upstream then finds
    # no set that holds it (the new stamp is no longer queued) and the waiting partner stays
    # queued.
    (
        'evicted on arrival, partner queued on an earlier input',
        2,
        0.05,
        [(0, 1.0), (1, 2.0), (1, 3.0), (1, 1.0)],
        [],
        [0, 1],
        [[1.0], [2.0, 3.0]],
    ),
    (
        'evicted on arrival, partner queued on a later input',
        2,
        0.05,
        [(1, 1.0), (0, 2.0), (0, 3.0), (0, 1.0)],
        [],
        [1, 0],
        [[2.0, 3.0], [1.0]],
    ),
    (
        'the partner still matches once its set arrives',
        2,
        0.05,
        [(0, 1.0), (1, 2.0), (1, 3.0), (1, 1.0), (0, 3.01)],
        [(3.01, 3.0)],
        [0, 1],
        [[1.0], [2.0]],
    ),
    # Candidates are ranked by distance with a stable sort over the queue's insertion order.
    (
        'equal distances: the one queued first wins (later stamp first)',
        10,
        0.05,
        [(1, 1.02), (1, 0.98), (0, 1.0)],
        [(1.0, 1.02)],
        [0, 0],
        [[], [0.98]],
    ),
    (
        'equal distances: the one queued first wins (earlier stamp first)',
        10,
        0.05,
        [(1, 0.98), (1, 1.02), (0, 1.0)],
        [(1.0, 0.98)],
        [0, 0],
        [[], [1.02]],
    ),
    # Candidates need |delta| <= slop, the set needs max - min < slop: with slop 0 nothing matches.
    (
        'slop 0 never matches, even equal stamps',
        10,
        0.0,
        [(0, 1.0), (1, 1.0)],
        [],
        [0, 0],
        [[1.0], [1.0]],
    ),
    (
        'a spread of exactly slop does not match',
        10,
        0.05,
        [(0, 1.0), (1, 1.05)],
        [],
        [0, 0],
        [[1.0], [1.05]],
    ),
]


@pytest.mark.parametrize(
    'name, queue_size, slop, arrivals, expected, dropped, left',
    UPSTREAM_CASES,
    ids=[c[0] for c in UPSTREAM_CASES],
)
def test_matching_as_upstream(name, queue_size, slop, arrivals, expected, dropped, left):
    out, sync = run(arrivals, 2, queue_size=queue_size, slop=slop)
    assert out == expected
    assert sync.stats.dropped == dropped
    assert queued(sync) == left


def _rclpy_stamp(t: float) -> Any:
    from rclpy.time import Time

    return Time(nanoseconds=int(round(t * NS)))


def _msg_stamp(t: float) -> Any:
    from builtin_interfaces.msg import Time as TimeMsg

    s = stamp(t)
    return TimeMsg(sec=s.sec, nanosec=s.nanosec)


STAMP_KINDS = [
    # name, header stamp factory (upstream's own tests use rclpy Time and builtin_interfaces Time)
    ('builtin_interfaces Time message', _msg_stamp),
    ('sec/nanosec look-alike', stamp),
    ('rclpy Time', _rclpy_stamp),
    ('object with nanoseconds', lambda t: SimpleNamespace(nanoseconds=int(round(t * NS)))),
]


@pytest.mark.parametrize('name, make_stamp', STAMP_KINDS, ids=[c[0] for c in STAMP_KINDS])
def test_header_stamp_kinds(name, make_stamp):
    inputs = [mf.Input(), mf.Input()]
    sync = mf.ApproximateTimeSynchronizer(inputs, 5, 0.05)
    out = collect(sync)
    for i, t in [(0, 1.0), (1, 1.5), (1, 1.02), (0, 1.49)]:
        inputs[i].add(SimpleNamespace(header=SimpleNamespace(stamp=make_stamp(t)), t=t))
    assert out == [(1.0, 1.02), (1.49, 1.5)]


def test_scrambled_arrival_order_still_matches_every_set():
    import random

    rng = random.Random(3)
    arrivals = [(i, round(0.5 * k, 3)) for k in range(1, 21) for i in range(3)]
    rng.shuffle(arrivals)
    out, sync = run(arrivals, 3, queue_size=60)
    assert sorted(out) == [(0.5 * k,) * 3 for k in range(1, 21)]
    assert sync.stats.matched == 20


def test_long_queue_evicts_oldest_and_counts_it():
    out, sync = run([(0, float(k)) for k in range(15)], 2, queue_size=10)
    assert out == []
    assert sync.stats.dropped == [5, 0]
    assert len(sync.queues[0]) == 10 and min(sync.queues[0]) == 5 * NS


DROP_CASES = [
    # name, queue size, arrivals on input 0, expected drop reports
    ('oldest leaves a full queue', 2, [1.0, 2.0, 3.0], [(0, 1.0, 'queue full')]),
    ('an older arrival is itself evicted', 2, [2.0, 3.0, 1.0], [(0, 1.0, 'queue full')]),
    ('the same stamp replaces the queued one', 5, [1.0, 1.0], [(0, 1.0, 'duplicate stamp')]),
]


@pytest.mark.parametrize(
    'name, queue_size, stamps, expected', DROP_CASES, ids=[c[0] for c in DROP_CASES]
)
def test_drop_callback_reports_reason(name, queue_size, stamps, expected):
    inputs = [mf.Input(), mf.Input()]
    sync = mf.ApproximateTimeSynchronizer(inputs, queue_size, 0.05)
    drops = []
    sync.registerDropCallback(lambda i, m, reason: drops.append((i, m.t, reason)))
    for t in stamps:
        inputs[0].add(msg(t))
    assert drops == expected


HEADERLESS = [
    # name, message without a usable stamp
    ('no header', lambda: SimpleNamespace(t=0.0)),
    ('header is None', lambda: SimpleNamespace(header=None, t=0.0)),
    ('header without stamp', lambda: SimpleNamespace(header=SimpleNamespace(frame_id='x'), t=0.0)),
]


@pytest.mark.parametrize('name, make', HEADERLESS, ids=[c[0] for c in HEADERLESS])
def test_headerless_dropped_unless_allowed(name, make):
    inputs = [mf.Input(), mf.Input()]
    sync = mf.ApproximateTimeSynchronizer(inputs, 5, 0.1)
    out = collect(sync)
    inputs[0].add(make())  # upstream: a warning, no exception
    inputs[1].add(msg(0.0))
    assert out == [] and sync.stats.headerless == [1, 0] and queued(sync) == [[], [0.0]]

    now = [5 * NS]
    inputs = [mf.Input(), mf.Input()]
    sync = mf.ApproximateTimeSynchronizer(
        inputs, 5, 0.1, allow_headerless=True, clock=lambda: now[0]
    )
    out = collect(sync)
    inputs[0].add(make())  # stamped with the clock: 5.0 s
    inputs[1].add(msg(5.02))
    assert out == [(0.0, 5.02)] and sync.stats.headerless == [0, 0]


def _add_unindexed(sync: mf.TimeSynchronizer, i: int, t: float) -> None:
    sync.add(msg(t), sync.queues[i])


def _add_indexed(sync: mf.TimeSynchronizer, i: int, t: float) -> None:
    sync.add(msg(t), sync.queues[i], i)


UNINDEXED = [
    # name, calls (adder, input, stamp), expected sets, received per input
    # Two empty queues compare equal: the queue must be told apart by identity, not equality.
    (
        'into the second of two empty queues',
        [(_add_unindexed, 1, 1.0), (_add_unindexed, 0, 1.0)],
        [(1.0, 1.0)],
        [1, 1],
    ),
    (
        'without index after one with index',
        [(_add_indexed, 1, 2.0), (_add_unindexed, 0, 2.02)],
        [(2.02, 2.0)],
        [1, 1],
    ),
    (
        'with index after one without',
        [(_add_unindexed, 1, 3.0), (_add_indexed, 0, 3.01)],
        [(3.01, 3.0)],
        [1, 1],
    ),
    ('no partner yet', [(_add_unindexed, 1, 1.0), (_add_unindexed, 1, 1.01)], [], [0, 2]),
]


@pytest.mark.parametrize(
    'name, calls, expected, received', UNINDEXED, ids=[c[0] for c in UNINDEXED]
)
def test_add_without_queue_index_searches_every_queue(name, calls, expected, received):
    sync = mf.ApproximateTimeSynchronizer([mf.Input(), mf.Input()], 5, 0.05)
    out = collect(sync)
    for add, i, t in calls:
        add(sync, i, t)
    assert out == expected
    assert sync.stats.received == received


def _duration(seconds: float) -> Any:
    from rclpy.duration import Duration

    return Duration(seconds=seconds)


SLOPS = [
    # name, slop as given, matches (1.0, 1.08)
    ('float seconds', 0.1, True),
    ('int seconds', 1, True),
    ('object with nanoseconds', SimpleNamespace(nanoseconds=100_000_000), True),
    ('rclpy Duration', 'duration 0.1', True),
    ('rclpy Duration too small', 'duration 0.05', False),
]


@pytest.mark.parametrize('name, slop, matches', SLOPS, ids=[c[0] for c in SLOPS])
def test_slop_accepts_seconds_or_a_duration(name, slop, matches):
    if isinstance(slop, str):
        slop = _duration(float(slop.split()[1]))
    out, sync = run([(0, 1.0), (1, 1.08)], 2, slop=slop)
    assert (out == [(1.0, 1.08)]) is matches
    assert sync.slop is slop  # the same kind the user gave back


@pytest.mark.parametrize('new_slop', [0.1, 'duration'], ids=['float', 'rclpy Duration'])
def test_slop_can_change_at_run_time(new_slop):
    out, sync = run([(0, 1.0), (1, 1.08)], 2, slop=0.05)
    assert out == []
    sync.slop = _duration(0.1) if new_slop == 'duration' else new_slop
    sync.add(msg(2.0), sync.queues[0], 0)
    sync.add(msg(2.08), sync.queues[1], 1)
    assert out == [(2.0, 2.08)]


class FakeClock:
    """An rclpy Clock look-alike: ``now()`` returns an object with ``nanoseconds``."""

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def now(self) -> SimpleNamespace:
        return SimpleNamespace(nanoseconds=self.ns)


ARRIVAL_CLOCKS = [
    # name, factory(list holding the current ns) -> clock argument
    ('callable returning ns', lambda now: (lambda: now[0])),
    ('callable returning a Time-like', lambda now: (lambda: SimpleNamespace(nanoseconds=now[0]))),
    ('object with now()', 'fake clock'),
]


@pytest.mark.parametrize('name, make_clock', ARRIVAL_CLOCKS, ids=[c[0] for c in ARRIVAL_CLOCKS])
@pytest.mark.parametrize(
    'sync_arrival_time, expected',
    [(True, [(1.0, 100.0, 0.0)]), (False, [])],
    ids=['arrival time', 'header stamps'],
)
def test_sync_arrival_time_stamps_by_the_clock(name, make_clock, sync_arrival_time, expected):
    now = [50 * NS]
    if make_clock == 'fake clock':
        fake = FakeClock(now[0])
        clock: Any = fake
    else:
        fake = None
        clock = make_clock(now)
    inputs = [mf.Input() for _ in range(3)]
    sync = mf.ApproximateTimeSynchronizer(
        inputs, 5, 0.05, sync_arrival_time=sync_arrival_time, clock=clock
    )
    out = collect(sync)
    for i, m, at in [
        (0, msg(1.0), 50.0),
        (1, msg(100.0), 50.02),
        (2, SimpleNamespace(t=0.0), 50.03),
    ]:
        now[0] = int(at * NS)
        if fake is not None:
            fake.ns = now[0]
        inputs[i].add(m)
    assert out == expected
    # Arrival time needs no header, even with allow_headerless off.
    assert sync.stats.headerless == [0, 0, 0 if sync_arrival_time else 1]


@pytest.mark.parametrize('rate_a, rate_b', [(30.0, 200.0), (10.0, 50.0)])
def test_rate_bounds_pair_each_slow_message_once(rate_a, rate_b):
    """A slow stream against a fast one: each slow message finds its nearest fast partner."""
    slow = [round(k / rate_a, 6) for k in range(1, 31)]
    fast = [round(k / rate_b, 6) for k in range(1, int(31 * rate_b / rate_a))]
    arrivals = sorted([(0, t) for t in slow] + [(1, t) for t in fast], key=lambda x: x[1])
    out, _ = run(arrivals, 2, queue_size=int(rate_b), slop=0.5 / rate_b + 1e-6)
    assert len(out) == len(slow)
    assert all(abs(a - b) <= 0.5 / rate_b + 1e-6 for a, b in out)


# --- ApproximateTimeSynchronizer: per-input timeouts (this project's addition) ----------------


def test_timed_out_input_stops_holding_the_others_back():
    inputs = [mf.Input(), mf.Input(), mf.Input()]
    sync = mf.ApproximateTimeSynchronizer(inputs, 10, 0.05, timeouts=[None, None, 1.0])
    out = collect(sync)
    for t in (1.0, 1.5):  # all three present
        for i in range(3):
            inputs[i].add(msg(t))
    for t in (2.0, 2.5, 3.0):  # input 2 goes silent
        inputs[0].add(msg(t))
        inputs[1].add(msg(t))
    # 2.0 and 2.5 wait (input 2 silent for <= 1 s); from 3.0 on it has timed out.
    assert out == [(1.0, 1.0, 1.0), (1.5, 1.5, 1.5), (3.0, 3.0, None)]
    assert sync.stats.partial == 1
    inputs[2].add(msg(3.5))  # it speaks again: full sets resume
    inputs[0].add(msg(3.5))
    inputs[1].add(msg(3.5))
    assert out[-1] == (3.5, 3.5, 3.5)


def test_without_timeouts_a_silent_input_blocks_as_in_message_filters():
    out, _ = run(
        [(0, t) for t in (1.0, 2.0, 30.0)] + [(1, t) for t in (1.0, 2.0, 30.0)] + [(2, 1.0)], 3
    )
    assert out == [(1.0, 1.0, 1.0)]


def test_reset_drops_and_counts_every_queued_message():
    out, sync = run([(0, 1.0), (0, 2.0), (1, 5.0)], 2)
    drops = []
    sync.registerDropCallback(lambda i, m, reason: drops.append((i, m.t, reason)))
    sync.reset()
    assert queued(sync) == [[], []] and sync.stats.dropped == [2, 1]
    assert sorted(drops) == [(0, 1.0, 'reset'), (0, 2.0, 'reset'), (1, 5.0, 'reset')]


@pytest.mark.parametrize(
    'queue_size, slop, timeouts',
    [(0, 0.1, None), (5, -0.1, None), (5, 0.1, [1.0])],
    ids=['queue size 0', 'negative slop', 'timeouts for 1 of 2 inputs'],
)
def test_invalid_arguments_are_refused(queue_size, slop, timeouts):
    with pytest.raises(ValueError):
        mf.ApproximateTimeSynchronizer(
            [mf.Input(), mf.Input()], queue_size, slop, timeouts=timeouts
        )


# --- TimeSynchronizer (exact stamps) ----------------------------------------------------------

EXACT_CASES = [
    # name, queue_size, arrivals, expected sets, stats.dropped, stamps left per queue
    (
        'needs exact stamps',
        5,
        [(0, 1.0), (1, 1.001), (1, 1.0)],
        [(1.0, 1.0)],
        [0, 0],
        [[], [1.001]],
    ),
    (
        'pairs in order',
        3,
        [(0, t) for t in (0.0, 1.0, 2.0)] + [(1, t) for t in (0.0, 1.0, 2.0)],
        [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)],
        [0, 0],
        [[], []],
    ),
    # ros2/message_filters#238 (all distros since January 2026): after a set is emitted, every
    # queued message older than it is dropped, so a late partner of an older stamp never matches.
    (
        'older messages leave after a match',
        10,
        [(0, 0.0), (1, 1.0), (0, 1.0), (1, 0.0)],
        [(1.0, 1.0)],
        [1, 0],
        [[], [0.0]],
    ),
    (
        'shifted arrivals',
        10,
        [(0, 0.0), (0, 1.0), (1, 0.0), (1, 1.0)],
        [(0.0, 0.0), (1.0, 1.0)],
        [0, 0],
        [[], []],
    ),
    (
        'evicted on arrival while a partner waits',
        2,
        [(0, 1.0), (1, 2.0), (1, 3.0), (1, 1.0)],
        [],
        [0, 1],
        [[1.0], [2.0, 3.0]],
    ),
]


@pytest.mark.parametrize(
    'name, queue_size, arrivals, expected, dropped, left',
    EXACT_CASES,
    ids=[c[0] for c in EXACT_CASES],
)
def test_time_synchronizer_as_upstream(name, queue_size, arrivals, expected, dropped, left):
    inputs = [mf.Input(), mf.Input()]
    sync = mf.TimeSynchronizer(inputs, queue_size)
    out = collect(sync)
    for i, t in arrivals:
        inputs[i].add(msg(t))
    assert out == expected
    assert sync.stats.dropped == dropped
    assert queued(sync) == left


def test_time_synchronizer_refuses_a_message_without_stamp():
    inputs = [mf.Input(), mf.Input()]
    sync = mf.TimeSynchronizer(inputs, 5)
    with pytest.raises(ValueError):
        inputs[0].add(SimpleNamespace(header=SimpleNamespace()))
    assert sync.stats.headerless == [1, 0]


def test_synchronizers_keep_upstreams_class_tree_and_connect_input():
    a, b, c = mf.Input(), mf.Input(), mf.Input()
    sync = mf.ApproximateTimeSynchronizer([a, b], 5, 0.05)
    assert isinstance(sync, mf.TimeSynchronizer)
    sync.connectInput([b, c])
    assert len(sync.queues) == 2 and sync.stats.received == [0, 0]
    out = collect(sync)
    b.add(msg(1.0))
    c.add(msg(1.0))
    assert out == [(1.0, 1.0)]


# --- SimpleFilter, Chain -------------------------------------------------------------------------


def test_register_and_unregister_callbacks():
    f = mf.Input()
    got: List[Tuple[Any, ...]] = []
    first = f.registerCallback(lambda m, *extra: got.append(('first', m) + extra), 'x', 'y')
    second = f.registerCallback(lambda m: got.append(('second', m)))
    f.add(1)
    f.unregisterCallback(first)
    f.unregisterCallback(first)  # unknown connection: ignored
    # Deliberately unlike upstream, whose len(callbacks) numbering would now reuse the number of
    # 'second' and replace it: numbers are never reused.
    third = f.registerCallback(lambda m: got.append(('third', m)))
    f.add(2)
    assert got == [('first', 1, 'x', 'y'), ('second', 1), ('second', 2), ('third', 2)]
    assert len({first, second, third}) == 3


CHAINS = [
    # name, number of caches in the chain, whether the chain has an input filter
    ('empty chain passes messages through', 0, True),
    ('one filter', 1, True),
    ('three filters', 3, True),
    ('fed by add()', 2, False),
]


@pytest.mark.parametrize('name, n_filters, connected', CHAINS, ids=[c[0] for c in CHAINS])
def test_chain_runs_messages_through_its_filters_in_order(name, n_filters, connected):
    source = mf.Input()
    chain = mf.Chain(source) if connected else mf.Chain()
    caches = [mf.Cache(mf.Input(), cache_size=5) for _ in range(n_filters)]
    seen: List[str] = []
    for k, cache in enumerate(caches):
        cache.registerCallback(lambda m, k=k: seen.append(f'cache {k}'))
        chain.addFilter(cache)
    out: List[float] = []
    chain.registerCallback(lambda m: (seen.append('chain'), out.append(m.t)))
    for t in (1.0, 2.0):
        (source.add if connected else chain.add)(msg(t))
    assert out == [1.0, 2.0]
    assert seen == ([f'cache {k}' for k in range(n_filters)] + ['chain']) * 2
    assert all([m.t for m in c.cache_msgs] == [1.0, 2.0] for c in caches)
    assert [chain.getFilter(k) for k in range(n_filters)] == caches
    with pytest.raises(KeyError):
        chain.getFilter(n_filters)


def test_chain_connects_one_input_only():
    chain = mf.Chain(mf.Input())
    with pytest.raises(RuntimeError):
        chain.connectInput(mf.Input())


# --- Cache -------------------------------------------------------------------------------------


def filled_cache(stamps: Sequence[float], cache_size: int = 10) -> mf.Cache:
    source = mf.Input()
    cache = mf.Cache(source, cache_size)
    for t in stamps:
        source.add(msg(t))
    return cache


CACHE_SIZES = [
    # cache_size, stamps added, stamps kept
    (0, [1.0, 2.0, 3.0], []),
    (1, [1.0, 2.0, 3.0], [3.0]),
    (3, [1.0, 2.0, 3.0, 4.0, 5.0], [3.0, 4.0, 5.0]),
    (5, [1.0, 2.0], [1.0, 2.0]),
]


@pytest.mark.parametrize(
    'cache_size, added, kept', CACHE_SIZES, ids=[f'size {c[0]}' for c in CACHE_SIZES]
)
def test_cache_keeps_the_last_n(cache_size, added, kept):
    source = mf.Input()
    cache = mf.Cache(source, cache_size)
    signalled: List[float] = []
    cache.registerCallback(lambda m: signalled.append(m.t))
    for t in added:
        source.add(msg(t))
    assert [m.t for m in cache.cache_msgs] == kept
    assert len(cache.cache_times) == len(kept)
    assert signalled == added  # every message is passed on, kept or not


def _as(kind: str, t: float) -> Any:
    """A query stamp of the given kind: rclpy Time, int nanoseconds or a Time-like object."""
    if kind == 'rclpy':
        from rclpy.clock import ClockType
        from rclpy.time import Time

        return Time(nanoseconds=int(round(t * NS)), clock_type=ClockType.ROS_TIME)
    if kind == 'int':
        return int(round(t * NS))
    return SimpleNamespace(nanoseconds=int(round(t * NS)))


def _seconds(t: Any) -> float:
    """A time the Cache gave back, in seconds: an rclpy Time, or int nanoseconds where rclpy is
    not installed (the module's fallback; CI's Python 3.10 lane has no rclpy)."""
    if isinstance(t, int):
        assert (
            importlib.util.find_spec('rclpy') is None
        ), 'int nanoseconds although rclpy is installed'
        return t / NS
    return t.nanoseconds / NS


CACHE_QUERIES = [
    # name, stamps in arrival order, method, query stamps (s), expected (message stamps or a time
    # in s)
    ('interval inside', [0, 1, 2, 3, 4], 'getInterval', (2.5, 3.5), [3]),
    ('interval bounds are inclusive', [0, 1, 2, 3, 4], 'getInterval', (2, 3), [2, 3]),
    ('interval over everything', [0, 1, 2, 3, 4], 'getInterval', (0, 4), [0, 1, 2, 3, 4]),
    ('interval keeps arrival order', [3, 1, 2], 'getInterval', (0, 5), [3, 1, 2]),
    ('elem after: oldest at or after', [0, 1, 2, 3, 4], 'getElemAfterTime', (2.5,), 3),
    ('elem after: equal counts', [0, 1, 2, 3, 4], 'getElemAfterTime', (0,), 0),
    ('elem after: none', [0, 1, 2], 'getElemAfterTime', (5,), None),
    ('elem after: first in arrival order', [3, 1, 2], 'getElemAfterTime', (1.5,), 3),
    ('elem before: newest at or before', [0, 1, 2, 3, 4], 'getElemBeforeTime', (3.5,), 3),
    ('elem before: none', [2, 3], 'getElemBeforeTime', (1,), None),
    ('elem before: last in arrival order', [1, 3, 2], 'getElemBeforeTime', (5,), 2),
    # getLast is getElemAfterTime(getLatestTime()): with stamps out of order it is not the last
    # arrival.
    ('last, in order', [1, 2, 3], 'getLast', (), 3),
    ('last, out of order', [3, 1], 'getLast', (), 3),
    ('last, three out of order', [1, 3, 2], 'getLast', (), 3),
    ('last, empty', [], 'getLast', (), None),
    ('latest time is the last arrival', [1, 3, 2], 'getLatestTime', (), 2.0),
    ('latest time (upstream spelling)', [1, 3, 2], 'getLastestTime', (), 2.0),
    ('oldest time is the first arrival', [2, 1, 3], 'getOldestTime', (), 2.0),
    ('latest time, empty', [], 'getLatestTime', (), None),
    ('oldest time, empty', [], 'getOldestTime', (), None),
]


@pytest.mark.parametrize('kind', ['rclpy', 'int', 'time-like'])
@pytest.mark.parametrize(
    'name, stamps, method, args, expected', CACHE_QUERIES, ids=[c[0] for c in CACHE_QUERIES]
)
def test_cache_queries(name, stamps, method, args, expected, kind):
    cache = filled_cache([float(t) for t in stamps])
    result = getattr(cache, method)(*[_as(kind, a) for a in args])
    if method == 'getInterval':
        assert [m.t for m in result] == expected
    elif method.endswith('Time') and not method.startswith('getElem'):
        assert (None if result is None else _seconds(result)) == expected
    else:
        assert (None if result is None else result.t) == expected


@pytest.mark.parametrize('kind', ['rclpy', 'int', 'time-like'])
def test_cache_interval_with_from_after_to_asserts(kind):
    cache = filled_cache([1.0, 2.0])
    with pytest.raises(AssertionError):
        cache.getInterval(_as(kind, 2.0), _as(kind, 1.0))


CACHE_TIME_KINDS = [
    # name, header stamp factory, whether the cache gives the very stamp object back
    # (upstream: Time.from_msg, a ROS_TIME Time, for a message; an rclpy Time is kept as it is)
    ('builtin_interfaces Time message', _msg_stamp, False),
    ('sec/nanosec look-alike', stamp, False),
    ('rclpy Time', _rclpy_stamp, True),
]


@pytest.mark.parametrize(
    'name, make_stamp, same_object', CACHE_TIME_KINDS, ids=[c[0] for c in CACHE_TIME_KINDS]
)
def test_cache_returns_rclpy_time(name, make_stamp, same_object):
    from rclpy.clock import ClockType
    from rclpy.time import Time

    source = mf.Input()
    cache = mf.Cache(source, 5)
    given = [make_stamp(t) for t in (1.0, 2.5)]
    for s in given:
        source.add(SimpleNamespace(header=SimpleNamespace(stamp=s)))
    latest, oldest = cache.getLatestTime(), cache.getOldestTime()
    assert isinstance(latest, Time) and isinstance(oldest, Time)
    assert (latest.nanoseconds, oldest.nanoseconds) == (2_500_000_000, NS)
    assert latest.clock_type == (given[-1].clock_type if same_object else ClockType.ROS_TIME)
    assert (latest is given[-1]) is same_object
    assert cache.cache_times == [oldest, latest]


def test_cache_returns_int_nanoseconds_without_rclpy(monkeypatch):
    monkeypatch.setitem(sys.modules, 'rclpy.time', None)  # "import rclpy.time" now fails
    cache = filled_cache([1.0, 2.5])
    assert cache.getLatestTime() == 2_500_000_000 and cache.getOldestTime() == NS
    assert [m.t for m in cache.getInterval(NS, 3 * NS)] == [1.0, 2.5]


HEADERLESS_CACHE = [
    # name, allow_headerless, cached stamps (s)
    ('rejected', False, []),
    ('stamped with the clock', True, [7.0]),
]


@pytest.mark.parametrize('make', [c[1] for c in HEADERLESS], ids=[c[0] for c in HEADERLESS])
@pytest.mark.parametrize(
    'name, allow, cached', HEADERLESS_CACHE, ids=[c[0] for c in HEADERLESS_CACHE]
)
def test_cache_headerless(name, allow, cached, make):
    source = mf.Input()
    cache = mf.Cache(source, 5, allow_headerless=allow, clock=lambda: 7 * NS)
    signalled = []
    cache.registerCallback(signalled.append)
    source.add(make())
    assert [_seconds(t) for t in cache.cache_times] == cached
    assert len(signalled) == len(cached) == len(cache.cache_msgs)


def test_cache_connect_input():
    first, second = mf.Input(), mf.Input()
    cache = mf.Cache(first, 5)
    cache.connectInput(second)
    first.add(msg(1.0))
    second.add(msg(2.0))
    assert [m.t for m in cache.cache_msgs] == [1.0, 2.0]


# --- TimeSequencer -----------------------------------------------------------------------------

SEQUENCES = [
    # name, delay (s), queue size, steps: ('add', stamp) or ('dispatch', clock time), expected
    # output
    (
        'waits for the delay, then in stamp order',
        0.5,
        10,
        [('add', 2.0), ('add', 1.0), ('dispatch', 1.4), ('dispatch', 1.5), ('dispatch', 9.0)],
        [1.0, 2.0],
    ),
    (
        'older than the last dispatched: thrown away',
        0.5,
        10,
        [
            ('add', 2.0),
            ('dispatch', 3.0),
            ('add', 1.0),
            ('add', 2.0),
            ('add', 3.0),
            ('dispatch', 9.0),
        ],
        [2.0, 2.0, 3.0],
    ),
    (
        'queue size drops the earliest',
        0.0,
        2,
        [('add', 3.0), ('add', 1.0), ('add', 2.0), ('dispatch', 9.0)],
        [2.0, 3.0],
    ),
    (
        'queue size 0: no limit',
        0.0,
        0,
        [('add', float(t)) for t in range(5)] + [('dispatch', 9.0)],
        [0.0, 1.0, 2.0, 3.0, 4.0],
    ),
    (
        'equal stamps keep arrival order',
        0.0,
        10,
        [('add', 1.0), ('add', 1.0), ('dispatch', 9.0)],
        [1.0, 1.0],
    ),
]


@pytest.mark.parametrize('delay_kind', ['seconds', 'duration'])
@pytest.mark.parametrize(
    'name, delay, queue_size, steps, expected', SEQUENCES, ids=[c[0] for c in SEQUENCES]
)
def test_time_sequencer(name, delay, queue_size, steps, expected, delay_kind):
    now = [0]
    source = mf.Input()
    delay_arg = SimpleNamespace(nanoseconds=int(delay * NS)) if delay_kind == 'duration' else delay
    seq = mf.TimeSequencer(source, delay_arg, 0.01, queue_size, clock=lambda: now[0])
    out: List[float] = []
    seq.registerCallback(lambda m: out.append(m.t))
    for step, t in steps:
        if step == 'add':
            source.add(msg(t))
        else:
            now[0] = int(t * NS)
            seq.dispatch()
    assert out == expected


def test_time_sequencer_discards_messages_without_stamp():
    source = mf.Input()
    seq = mf.TimeSequencer(source, 0.0, 0.01, 10, clock=lambda: 10 * NS)
    out = collect(seq)
    source.add(SimpleNamespace(t=1.0))
    source.add(SimpleNamespace(header=SimpleNamespace(), t=2.0))
    source.add(msg(3.0))
    seq.dispatch()
    assert out == [(3.0,)]


class FakeNode:
    """Records what the adapters ask of an rclpy node."""

    def __init__(self) -> None:
        self.subscriptions: List[Dict[str, Any]] = []
        self.timers: List[Tuple[float, Callable[[], None]]] = []

    def create_subscription(
        self,
        msg_type: Any,
        topic: str,
        callback: Callable[[Any], None],
        qos_profile: Any,
        **kwargs: Any,
    ) -> SimpleNamespace:
        self.subscriptions.append(
            dict(msg_type=msg_type, topic=topic, qos_profile=qos_profile, **kwargs)
        )
        return SimpleNamespace(topic_name='/resolved' + topic, callback=callback)

    def create_timer(self, period: float, callback: Callable[[], None]) -> SimpleNamespace:
        self.timers.append((period, callback))
        return SimpleNamespace(cancel=lambda: None)

    def destroy_timer(self, timer: Any) -> None:
        self.timers.clear()

    def get_clock(self) -> FakeClock:
        return FakeClock(5 * NS)


def test_time_sequencer_dispatches_on_a_node_timer():
    node = FakeNode()
    source = mf.Input()
    seq = mf.TimeSequencer(source, 1.0, 0.25, 10, node)
    out = collect(seq)
    source.add(msg(3.0))
    source.add(msg(4.5))
    [(period, tick)] = node.timers
    assert period == 0.25
    tick()  # node clock at 5 s: only 3.0 is 1 s old
    assert out == [(3.0,)]
    seq.shutdown()
    assert node.timers == []


# --- Subscriber ---------------------------------------------------------------------------------

SUBSCRIBER_ARGS = [
    # name, positional args after the topic, keyword args, expected qos, expected extra keywords
    ('default qos', (), {}, 10, {}),
    ('qos by keyword', (), {'qos_profile': 3}, 3, {}),
    ('qos positional', (5,), {}, 5, {}),
    (
        'extra keywords reach create_subscription',
        (),
        {'callback_group': 'group'},
        10,
        {'callback_group': 'group'},
    ),
]


@pytest.mark.parametrize(
    'name, args, kwargs, qos, extra', SUBSCRIBER_ARGS, ids=[c[0] for c in SUBSCRIBER_ARGS]
)
def test_subscriber_adapter_with_a_fake_node(name, args, kwargs, qos, extra):
    node = FakeNode()
    sub = mf.Subscriber(node, 'MsgType', '/topic', *args, **kwargs)
    assert node.subscriptions == [
        dict(msg_type='MsgType', topic='/topic', qos_profile=qos, **extra)
    ]
    assert sub.getTopic() == '/topic' and sub.node is node
    assert sub.topic_name == '/resolved/topic'  # passed through to the subscription
    out = collect(sub)
    sub.sub.callback(msg(1.0))
    assert out == [(1.0,)]
    with pytest.raises(AttributeError):
        sub.no_such_attribute


def test_subscriber_adapter_on_a_real_node(ros):
    from conftest import wait_until
    from rclpy.clock import ClockType
    from rclpy.time import Time
    from sensor_msgs.msg import FluidPressure
    from sensor_msgs.msg import Temperature

    node = ros.node('sync_adapter')
    temp = mf.Subscriber(node, Temperature, 'temp')
    fluid = mf.Subscriber(node, FluidPressure, 'fluid', qos_profile=10)
    assert temp.getTopic() == 'temp' and temp.topic_name == f'{ros.namespace}/temp'
    sync = mf.ApproximateTimeSynchronizer([temp, fluid], 10, 0.05)
    pairs: List[Tuple[float, float]] = []
    sync.registerCallback(lambda a, b: pairs.append((a.temperature, b.fluid_pressure)))
    cache = mf.Cache(temp, 5)
    pubs = [
        node.create_publisher(Temperature, 'temp', 10),
        node.create_publisher(FluidPressure, 'fluid', 10),
    ]
    wait_until(
        lambda: all(p.get_subscription_count() > 0 for p in pubs), what='subscriptions matched'
    )
    a, b = Temperature(temperature=21.5), FluidPressure(fluid_pressure=101.3)
    a.header.stamp.sec, b.header.stamp.sec, b.header.stamp.nanosec = 7, 7, 20_000_000
    pubs[0].publish(a)
    pubs[1].publish(b)
    wait_until(lambda: len(pairs) == 1, what='a synchronized pair')
    assert pairs == [(21.5, 101.3)]
    assert cache.getLatestTime() == Time(seconds=7, clock_type=ClockType.ROS_TIME)
    assert cache.getLast().temperature == 21.5


# --- import without rclpy -----------------------------------------------------------------------


def test_module_works_without_rclpy():
    code = textwrap.dedent("""
        import sys
        sys.modules['rclpy'] = None
        from types import SimpleNamespace as N
        from hybrid_fusion_ros.core import sync as mf
        m = lambda s: N(header=N(stamp=N(sec=s, nanosec=0)))
        a, b = mf.Input(), mf.Input()
        s = mf.ApproximateTimeSynchronizer([a, b], 5, N(nanoseconds=10))
        c = mf.Cache(a, 3)
        out = []
        s.registerCallback(lambda *x: out.append(x))
        a.add(m(1)); b.add(m(1))
        assert len(out) == 1 and c.getLatestTime() == 1_000_000_000, (out, c.cache_times)
        assert 'rclpy' not in {k.split('.')[0] for k, v in sys.modules.items() if v is not None}
        print('ok')
    """)
    result = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stdout.strip() == 'ok', result.stderr
