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

"""Activity events from hand-made label streams: hysteresis, minimum duration, gaps,
restarts and settings. No torch, no rclpy (the Python 3.10 lane runs it)."""

import math
from typing import List, Optional, Sequence, Tuple

import pytest

from hybrid_fusion_ros.core.events import ENDED
from hybrid_fusion_ros.core.events import EventSettings
from hybrid_fusion_ros.core.events import EventTracker
from hybrid_fusion_ros.core.events import ONGOING
from hybrid_fusion_ros.core.events import STARTED

NS = 1_000_000_000
HOP = NS // 2  # 0.5 s
LENGTH = NS  # 1 s windows
T0 = 100 * NS  # first window end
IDS = {'wave': 0, 'walk': 1, 'fall': 2, 'unknown': -1}
Label = Tuple[str, float]  # (label, confidence); None: no label for that window


def feed(
    tracker: EventTracker, labels: Sequence[Optional[Label]], t0: int = T0, hop: int = HOP
) -> List[Tuple[int, object]]:
    """Feed one label per window on a hop grid; return (window index, event) of every event."""
    out = []
    for i, item in enumerate(labels):
        if item is None:
            continue
        label, conf = item
        end = t0 + i * hop
        for event in tracker.update(end - LENGTH, end, label, IDS[label], conf):
            out.append((i, event))
    return out


def end_of(i: int) -> int:
    return T0 + i * HOP


def settings(**kw) -> EventSettings:
    return EventSettings(**{'min_duration': 1.0, 'enter_confidence': 0.5, **kw})


def test_a_clean_activity_gives_one_start_and_one_end_with_a_retroactive_start():
    tracker = EventTracker(settings())
    stream = [('unknown', 0.3)] * 3 + [('wave', 0.9)] * 6 + [('unknown', 0.2)] * 4
    got = feed(tracker, stream)
    assert [e.state for _, e in got] == [STARTED, ENDED]
    (i_start, started), (i_end, ended) = got
    # Two windows of 0.5 s hold 1.0 s: decided at the second wave window, started at the
    # start of the first one.
    assert i_start == 4 and started.stamp == end_of(4)
    assert started.start == end_of(3) - LENGTH == ended.start
    assert started.label == 'wave' and started.class_id == 0
    assert started.confidence == pytest.approx(0.9)
    # Ended after two unknown windows (1.0 s), at the end of the last wave window.
    assert i_end == 10 and ended.stamp == end_of(10)
    assert ended.end == end_of(8)
    assert ended.confidence == pytest.approx(0.9)
    assert tracker.current is None


def test_flicker_shorter_than_min_duration_makes_no_event():
    tracker = EventTracker(settings())
    stream = [('unknown', 0.2), ('wave', 0.9), ('unknown', 0.2), ('walk', 0.9),
              ('unknown', 0.3), ('wave', 0.9), ('walk', 0.9), ('unknown', 0.1)] * 5
    assert feed(tracker, stream) == []
    # ... and a short interruption of an open event neither ends nor restarts it.
    tracker = EventTracker(settings())
    stream = [('walk', 0.8)] * 4 + [('wave', 0.9)] + [('walk', 0.8)] * 4 + [('unknown', 0.1)]
    got = feed(tracker, stream)
    assert [e.state for _, e in got] == [STARTED]
    assert tracker.current.label == 'walk' and tracker.current.end == end_of(8)


def test_low_confidence_does_not_start_until_the_run_mean_reaches_the_threshold():
    tracker = EventTracker(settings(enter_confidence=0.59))
    assert feed(tracker, [('fall', 0.4)] * 6) == []
    # After a gap, a new run keeps growing: its mean (0.4 x 6 + 0.9 x k) / (6 + k) reaches
    # 0.59 at k = 4.
    got = feed(tracker, [('fall', 0.4)] * 6 + [('fall', 0.9)] * 5, t0=T0 + 20 * NS)
    assert [(i, e.state) for i, e in got] == [(9, STARTED)]
    assert got[0][1].start == T0 + 20 * NS - LENGTH  # the start of the run's first window


def test_one_activity_after_another_ends_the_first_then_starts_the_second():
    tracker = EventTracker(settings())
    got = feed(tracker, [('walk', 0.8)] * 5 + [('wave', 0.9)] * 5)
    assert [(i, e.state, e.label) for i, e in got] == [
        (2, STARTED, 'walk'), (6, ENDED, 'walk'), (6, STARTED, 'wave')
    ]
    assert got[1][1].end == end_of(4)
    assert got[2][1].start == end_of(5) - LENGTH


def test_unknown_ends_an_event_after_min_duration():
    tracker = EventTracker(settings(min_duration=1.5))
    got = feed(tracker, [('wave', 0.9)] * 5 + [('unknown', 0.1)] * 2)
    assert [e.state for _, e in got] == [STARTED]
    got = feed(tracker, [('unknown', 0.1)], t0=end_of(7))
    assert [(e.state, e.end, e.stamp) for _, e in got] == [(ENDED, end_of(4), end_of(7))]


def test_a_gap_ends_the_event_through_expire_or_the_next_label():
    tracker = EventTracker(settings(max_gap=2.0))
    feed(tracker, [('walk', 0.8)] * 4)
    assert tracker.current is not None
    assert tracker.expire(end_of(3) + 2 * NS) == []  # not yet more than max_gap
    got = tracker.expire(end_of(3) + 2 * NS + 1)
    assert [(e.state, e.end, e.stamp) for e in got] == [(ENDED, end_of(3), end_of(3) + 2 * NS + 1)]
    assert tracker.current is None and tracker.expire(end_of(3) + 10 * NS) == []
    # Without expire, the next label after the gap ends it, and starts nothing by itself.
    tracker = EventTracker(settings(max_gap=2.0))
    feed(tracker, [('walk', 0.8)] * 4)
    got = feed(tracker, [('walk', 0.8)], t0=end_of(3) + 3 * NS)
    assert [(e.state, e.end) for _, e in got] == [(ENDED, end_of(3))]
    got = feed(tracker, [('walk', 0.8)], t0=end_of(3) + 3 * NS + HOP)
    assert [(e.state, e.start) for _, e in got] == [(STARTED, end_of(3) + 3 * NS - LENGTH)]
    # A silence shorter than max_gap neither ends the event nor counts as a label.
    tracker = EventTracker(settings(max_gap=2.0))
    feed(tracker, [('walk', 0.8)] * 4)
    assert feed(tracker, [('walk', 0.8)], t0=end_of(3) + int(1.5 * NS)) == []
    assert tracker.current.end == end_of(3) + int(1.5 * NS)


def test_a_stamp_going_backwards_flushes_and_restarts_cleanly():
    tracker = EventTracker(settings())
    feed(tracker, [('wave', 0.9)] * 6)
    got = feed(tracker, [('walk', 0.8)] * 3, t0=T0)  # the bag replay restarted
    assert [(i, e.state, e.label) for i, e in got] == [
        (0, ENDED, 'wave'), (1, STARTED, 'walk')
    ]
    assert got[0][1].stamp == end_of(5) and got[0][1].end == end_of(5)
    assert got[1][1].start == T0 - LENGTH
    # A second label for the same window is ignored.
    assert tracker.update(end_of(2) - LENGTH, end_of(2), 'wave', 0, 1.0) == []


def test_ongoing_repeats_at_the_period():
    tracker = EventTracker(settings(ongoing_period=2.0))
    got = feed(tracker, [('wave', 0.9)] * 12 + [('unknown', 0.1)] * 2)
    assert [(i, e.state) for i, e in got] == [
        (2, STARTED), (6, ONGOING), (10, ONGOING), (13, ENDED)
    ]
    assert all(e.start == T0 - LENGTH for _, e in got)
    assert got[1][1].end == end_of(6) and got[1][1].stamp == end_of(6)
    assert got[3][1].end == end_of(11)


def test_min_duration_zero_makes_every_change_an_event():
    tracker = EventTracker(settings(min_duration=0.0, enter_confidence=0.0))
    got = feed(tracker, [('wave', 0.9), ('walk', 0.9), ('unknown', 0.1), ('walk', 0.9)])
    assert [(i, e.state, e.label) for i, e in got] == [
        (0, STARTED, 'wave'), (1, ENDED, 'wave'), (1, STARTED, 'walk'),
        (2, ENDED, 'walk'), (3, STARTED, 'walk'),
    ]


def test_flush_ends_the_open_event_and_forgets_the_runs():
    tracker = EventTracker(settings())
    feed(tracker, [('wave', 0.9)] * 3)
    got = tracker.flush(end_of(2) + 7)
    assert [(e.state, e.stamp, e.end) for e in got] == [(ENDED, end_of(2) + 7, end_of(2))]
    assert tracker.flush(end_of(3)) == []
    # After the flush, one more wave window is a fresh run: it lasts one hop, not enough.
    assert feed(tracker, [('wave', 0.9)], t0=end_of(3)) == []


def test_a_nan_confidence_counts_as_zero():
    tracker = EventTracker(settings(enter_confidence=0.5))
    assert feed(tracker, [('walk', math.nan), ('walk', 0.9), ('walk', 0.5)]) == []
    tracker = EventTracker(settings(enter_confidence=0.5))
    got = feed(tracker, [('walk', math.nan), ('walk', 0.9), ('walk', 0.6)])
    assert [(i, e.state) for i, e in got] == [(2, STARTED)]
    assert got[0][1].confidence == pytest.approx(0.5)


@pytest.mark.parametrize(
    'kw, word',
    [
        ({'min_duration': -1.0}, 'min_duration'),
        ({'min_duration': math.nan}, 'min_duration'),
        ({'min_duration': math.inf}, 'min_duration'),
        ({'enter_confidence': 1.5}, 'enter_confidence'),
        ({'enter_confidence': -0.1}, 'enter_confidence'),
        ({'max_gap': -2.0}, 'max_gap'),
        ({'ongoing_period': math.nan}, 'ongoing_period'),
        ({'max_gap': 'soon'}, 'max_gap'),
    ],
)
def test_bad_settings_are_refused_with_their_name(kw, word):
    with pytest.raises(ValueError, match=word):
        EventSettings(**kw).check()
    tracker = EventTracker()
    with pytest.raises(ValueError, match=word):
        tracker.set_settings(EventSettings(**kw))
    assert tracker.settings == EventSettings()


def test_settings_change_at_run_time():
    tracker = EventTracker(settings(min_duration=5.0))
    assert feed(tracker, [('walk', 0.8)] * 4) == []
    tracker.set_settings(settings(min_duration=1.0))
    got = feed(tracker, [('walk', 0.8)], t0=end_of(4))
    assert [(e.state, e.start) for _, e in got] == [(STARTED, T0 - LENGTH)]


def test_durations_are_counted_in_hops_and_a_window_counts_at_most_its_length():
    tracker = EventTracker(settings(min_duration=1.5))
    # The first window ever has no window before it and counts 0; each next one a hop.
    got = feed(tracker, [('unknown', 0.1)] + [('wave', 0.9)] * 3)
    assert [(i, e.state) for i, e in got] == [(3, STARTED)]
    assert tracker.current.state == ONGOING and tracker.current.stamp == end_of(3)
    # Windows missing inside a run (shorter than max_gap): the next one counts for its length.
    tracker = EventTracker(settings(min_duration=2.0, max_gap=5.0))
    stream = [('unknown', 0.1), ('walk', 0.9), None, None, None, ('walk', 0.9), ('walk', 0.9)]
    assert [(i, e.state) for i, e in feed(tracker, stream)] == [(6, STARTED)]
