"""The synchronizer policy, tested as message_filters tests its own: plain fake messages,
no rclpy."""
import itertools
import random
from types import SimpleNamespace

import pytest

from hybrid_fusion_ros.core.sync import ApproximateTimeSynchronizer, Cache, Input, TimeSynchronizer


def msg(t, tag=''):
    sec = int(t)
    return SimpleNamespace(header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=int(round((t - sec) * 1e9)))),
                           tag=tag, t=t)


def run(arrivals, n_inputs, queue_size=10, slop=0.05):
    """arrivals: list of (input index, stamp); returns matched stamp tuples and the sync."""
    inputs = [Input() for _ in range(n_inputs)]
    sync = ApproximateTimeSynchronizer(inputs, queue_size, slop)
    out = []
    sync.registerCallback(lambda *msgs: out.append(tuple(m.t for m in msgs)))
    for i, t in arrivals:
        inputs[i].add(msg(t))
    return out, sync


CASES = [
    # name, inputs, arrivals, expected matches
    ('exact', 2, [(0, 1.0), (1, 1.0), (0, 2.0), (1, 2.0)], [(1.0, 1.0), (2.0, 2.0)]),
    ('imperfect within slop', 2, [(0, 1.0), (1, 1.03), (0, 2.0), (1, 1.98)], [(1.0, 1.03), (2.0, 1.98)]),
    ('outside slop never matches', 2, [(0, 1.0), (1, 1.2)], []),
    ('closest candidate wins', 2, [(1, 0.98), (1, 1.01), (0, 1.0)], [(1.0, 1.01)]),
    ('dropped message leaves that set unmatched', 3,
     [(0, 1.0), (1, 1.0), (0, 2.0), (1, 2.0), (2, 2.0)], [(2.0, 2.0, 2.0)]),
    ('four inputs', 4, [(i, t) for t in (1.0, 1.5) for i in range(4)], [(1.0,) * 4, (1.5,) * 4]),
]


@pytest.mark.parametrize('name, n, arrivals, expected', CASES, ids=[c[0] for c in CASES])
def test_matching(name, n, arrivals, expected):
    out, _ = run(arrivals, n)
    assert out == expected


def test_scrambled_arrival_order_still_matches_every_set():
    random.seed(3)
    arrivals = [(i, round(0.5 * k, 3)) for k in range(1, 21) for i in range(3)]
    random.shuffle(arrivals)
    out, sync = run(arrivals, 3, queue_size=60)
    assert sorted(out) == [(0.5 * k,) * 3 for k in range(1, 21)]
    assert sync.stats.matched == 20


def test_long_queue_evicts_oldest_and_counts_it():
    arrivals = [(0, float(k)) for k in range(15)]
    out, sync = run(arrivals, 2, queue_size=10)
    assert out == []
    assert sync.stats.dropped == [5, 0]
    assert len(sync.queues[0]) == 10 and min(sync.queues[0]) == 5 * 10 ** 9


def test_drop_callback_reports_reason():
    inputs = [Input(), Input()]
    sync = ApproximateTimeSynchronizer(inputs, 2, 0.05)
    drops = []
    sync.registerDropCallback(lambda i, m, reason: drops.append((i, m.t, reason)))
    for t in (1.0, 2.0, 3.0):
        inputs[0].add(msg(t))
    assert drops == [(0, 1.0, 'queue full')]


def test_headerless_rejected_unless_allowed():
    inputs = [Input(), Input()]
    sync = ApproximateTimeSynchronizer(inputs, 5, 0.1)
    inputs[0].add(SimpleNamespace(t=0))
    assert sync.stats.headerless == [1, 0]
    now = [5_000_000_000]
    inputs = [Input(), Input()]
    sync = ApproximateTimeSynchronizer(inputs, 5, 0.1, allow_headerless=True, clock_ns=lambda: now[0])
    out = []
    sync.registerCallback(lambda *m: out.append(m))
    inputs[0].add(SimpleNamespace(t=0))
    inputs[1].add(msg(5.02))
    assert len(out) == 1


@pytest.mark.parametrize('rate_a, rate_b', [(30.0, 200.0), (10.0, 50.0)])
def test_rate_bounds_pair_each_slow_message_once(rate_a, rate_b):
    """A slow stream against a fast one: each slow message finds its nearest fast partner."""
    slow = [round(k / rate_a, 6) for k in range(1, 31)]
    fast = [round(k / rate_b, 6) for k in range(1, int(31 * rate_b / rate_a))]
    arrivals = sorted([(0, t) for t in slow] + [(1, t) for t in fast], key=lambda x: x[1])
    out, _ = run(arrivals, 2, queue_size=int(rate_b), slop=0.5 / rate_b + 1e-6)
    assert len(out) == len(slow)
    assert all(abs(a - b) <= 0.5 / rate_b + 1e-6 for a, b in out)


def test_time_synchronizer_needs_exact_stamps():
    inputs = [Input(), Input()]
    sync = TimeSynchronizer(inputs, 5)
    out = []
    sync.registerCallback(lambda *m: out.append(tuple(x.t for x in m)))
    for i, t in [(0, 1.0), (1, 1.001), (1, 1.0)]:
        inputs[i].add(msg(t))
    assert out == [(1.0, 1.0)]


def test_cache_keeps_last_n():
    src = Input()
    cache = Cache(src, cache_size=3)
    for t in itertools.islice(itertools.count(1.0, 1.0), 5):
        src.add(msg(t))
    assert [m.t for m in cache.cache_msgs] == [3.0, 4.0, 5.0]
    assert cache.getLast().t == 5.0
    assert [m.t for m in cache.getInterval(3_500_000_000, 5_000_000_000)] == [4.0, 5.0]


def test_slop_can_change_at_run_time():
    out, sync = run([(0, 1.0), (1, 1.08)], 2, slop=0.05)
    assert out == []
    sync.slop = 0.1
    got = []
    sync.registerCallback(lambda *m: got.append(m))
    sync.add(msg(2.0), sync.queues[0], 0)
    sync.add(msg(2.08), sync.queues[1], 1)
    assert len(got) == 1


def test_timed_out_input_stops_holding_the_others_back():
    inputs = [Input(), Input(), Input()]
    sync = ApproximateTimeSynchronizer(inputs, 10, 0.05, timeouts=[None, None, 1.0])
    out = []
    sync.registerCallback(lambda *m: out.append(tuple(None if x is None else x.t for x in m)))
    for t in (1.0, 1.5):                      # all three present
        for i in range(3):
            inputs[i].add(msg(t))
    for t in (2.0, 2.5, 3.0):                 # input 2 goes silent
        inputs[0].add(msg(t))
        inputs[1].add(msg(t))
    # 2.0 and 2.5 wait (input 2 silent for <= 1 s); from 3.0 on it has timed out.
    assert out == [(1.0, 1.0, 1.0), (1.5, 1.5, 1.5), (3.0, 3.0, None)]
    assert sync.stats.partial == 1
    inputs[2].add(msg(3.5))                   # it speaks again: full sets resume
    inputs[0].add(msg(3.5))
    inputs[1].add(msg(3.5))
    assert out[-1] == (3.5, 3.5, 3.5)


def test_without_timeouts_a_silent_input_blocks_as_in_message_filters():
    out, _ = run([(0, t) for t in (1.0, 2.0, 30.0)] + [(1, t) for t in (1.0, 2.0, 30.0)] + [(2, 1.0)], 3)
    assert out == [(1.0, 1.0, 1.0)]
