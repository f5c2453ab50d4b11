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

"""Activity events scored against hand-made ground truth, and the timeline figure."""

import numpy as np
import pytest

from hybrid_fusion_tools.data.truth import Interval
from hybrid_fusion_tools.evaluation.events import events_markdown
from hybrid_fusion_tools.evaluation.events import plot_timeline
from hybrid_fusion_tools.evaluation.events import score_events
from hybrid_fusion_tools.evaluation.report import WindowOutcome

CLASSES = ['walk', 'wave', 'fall']
TRUTH = [
    Interval(10.0, 20.0, 'walk'),
    Interval(25.0, 30.0, 'wave'),
    Interval(40.0, 50.0, 'walk'),
]


def event(label, start, end, decided):
    return {'label': label, 'start': start, 'end': end, 'stamp': end + 1.0, 'decided': decided}


def test_perfect_events_score_one_with_the_onset_delay_by_hand():
    events = [
        event('walk', 9.5, 20.0, 11.0),
        event('wave', 24.5, 30.0, 26.0),
        event('walk', 39.5, 50.5, 41.5),
    ]
    s = score_events(events, TRUTH, CLASSES)
    o = s['overall']
    assert (o['precision'], o['recall'], o['f1']) == (1.0, 1.0, 1.0)
    assert (o['events'], o['truth'], o['matched']) == (3, 3, 3)
    # Delays 1.0, 1.0, 1.5: p50 1.0, p90 1.0 + 0.8 * 0.5 = 1.4, mean 3.5 / 3.
    assert o['onset_delay_s']['p50'] == pytest.approx(1.0)
    assert o['onset_delay_s']['p90'] == pytest.approx(1.4)
    assert o['onset_delay_s']['mean'] == pytest.approx(3.5 / 3)
    assert o['fragmentation'] == 1.0 and o['macro_f1'] == 1.0
    walk = s['per_class']['walk']
    assert (walk['events'], walk['truth'], walk['matched']) == (2, 2, 2)
    assert walk['onset_delay_s']['p50'] == pytest.approx(1.25)
    # A class with neither events nor truth scores nothing.
    assert s['per_class']['fall']['precision'] is None and s['per_class']['fall']['f1'] is None
    assert s['truth_not_a_model_class'] == 0
    md = events_markdown(s)
    assert '## Events' in md and '| walk | 2 | 2 | 2 | 1.000 | 1.000 | 1.000 | 1.25' in md


def test_a_split_event_lowers_precision_and_shows_fragmentation():
    # The first walk is reported in two pieces: IoU 4/10 and 5.5/10; only the second matches.
    events = [
        event('walk', 10.0, 14.0, 11.0),
        event('walk', 14.5, 20.0, 15.5),
        event('wave', 25.0, 30.0, 26.0),
        event('walk', 40.0, 50.0, 41.0),
    ]
    s = score_events(events, TRUTH, CLASSES)
    walk = s['per_class']['walk']
    assert (walk['events'], walk['matched']) == (3, 2)
    assert walk['precision'] == pytest.approx(2 / 3) and walk['recall'] == 1.0
    assert walk['fragmentation'] == pytest.approx(1.5)  # 2 pieces, 1 piece
    assert s['overall']['precision'] == pytest.approx(3 / 4)
    assert s['overall']['fragmentation'] == pytest.approx(4 / 3)
    assert walk['onset_delay_s']['p50'] == pytest.approx((5.5 + 1.0) / 2)
    # At a lower overlap, the better piece still wins the interval, and only once.
    assert score_events(events, TRUTH, CLASSES, min_overlap=0.3)['per_class']['walk'][
        'matched'
    ] == 2


def test_a_wrong_label_is_not_matched_and_unknown_truth_is_counted_apart():
    truth = TRUTH + [Interval(60.0, 70.0, 'sit')]
    events = [event('wave', 10.0, 20.0, 11.0), event('unknown', 25.0, 30.0, 26.0)]
    s = score_events(events, truth, CLASSES)
    o = s['overall']
    assert (o['events'], o['truth'], o['matched']) == (1, 3, 0)
    assert (o['precision'], o['recall'], o['f1']) == (0.0, 0.0, 0.0)
    assert o['onset_delay_s'] == {'n': 0, 'p50': None, 'p90': None, 'mean': None}
    assert s['per_class']['walk']['fragmentation'] is None  # no walk event overlaps it
    assert s['truth_not_a_model_class'] == 1
    assert s['truth_not_a_model_class_labels'] == {'sit': 1}
    assert 'sit' in events_markdown(s)
    with pytest.raises(ValueError, match='min_overlap'):
        score_events(events, truth, CLASSES, min_overlap=0.0)


def test_without_decided_the_started_stamp_gives_the_delay():
    events = [{'label': 'wave', 'start': 25.0, 'end': 30.0, 'stamp': 26.5, 'state': 'started'}]
    s = score_events(events, TRUTH[1:2])
    assert s['classes'] == ['wave']
    assert s['overall']['onset_delay_s']['p50'] == pytest.approx(1.5)


@pytest.mark.parametrize('seconds, hop', [(60.0, 0.5), (3600.0, 0.5)])
def test_the_timeline_figure_is_written(tmp_path, seconds, hop):
    rng = np.random.default_rng(0)
    ends = np.arange(1.0, seconds, hop)
    truth = [Interval(float(t), float(t + 8.0), CLASSES[k % 3]) for k, t in
             enumerate(np.arange(0.0, seconds - 8.0, 10.0))] + [Interval(seconds - 2, seconds,
                                                                         'sit')]
    windows = []
    for k, end in enumerate(ends):
        p = rng.dirichlet(np.ones(3))
        label = None if k % 17 == 0 else ('unknown' if p.max() < 0.5 else CLASSES[p.argmax()])
        windows.append(WindowOutcome(float(end), None, label, float(p.max()), 5.0,
                                     None if label is None else tuple(p)))
    events = [event(t.label, t.start + 0.5, t.end, t.start + 1.5) for t in truth[::2]]
    path = plot_timeline(tmp_path / 'timeline.png', truth, windows, events, CLASSES,
                         title='a run', top_k=2)
    assert path.is_file() and path.stat().st_size > 5000
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_the_timeline_figure_copes_with_nothing(tmp_path):
    path = plot_timeline(tmp_path / 'empty.png', [], [], [], CLASSES)
    assert path.is_file() and path.stat().st_size > 0
