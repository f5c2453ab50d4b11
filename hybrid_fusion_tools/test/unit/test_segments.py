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

"""Segment-level scoring (one result per ground-truth interval), on a hand-made recording
whose answers are worked out below; and the segments block of the eval report. No ROS."""

import csv
import json
import math

import numpy as np
import pytest

from hybrid_fusion_ros.core.metrics import segment_outcomes
from hybrid_fusion_ros.core.metrics import segment_report
from hybrid_fusion_tools.cli.eval import summary
from hybrid_fusion_tools.data.truth import GroundTruth
from hybrid_fusion_tools.data.truth import Interval
from hybrid_fusion_tools.evaluation.report import BagOutcomes
from hybrid_fusion_tools.evaluation.report import score
from hybrid_fusion_tools.evaluation.report import WindowOutcome
from hybrid_fusion_tools.evaluation.report import write_bags_report
from hybrid_fusion_tools.evaluation.report import write_report

CLASSES = ['walk', 'run', 'sit']
LENGTH = 1.0  # windows of 1 s every 0.5 s: window end e has its centre at e - 0.5
NAN = [math.nan] * 3
# Window end -> its label's probabilities (walk, run, sit).
WINDOWS = {
    # walk [0, 2): centres 0.5, 1.0, 1.5. Two of three windows say run, but the summed
    # probabilities say walk (1.8 against 1.2); the first walk window ends at 2.0.
    1.0: [0.4, 0.6, 0.0],
    1.5: [0.4, 0.6, 0.0],
    2.0: [1.0, 0.0, 0.0],
    # run [2, 3): centres 2.0, 2.5; neither window got a label.
    2.5: NAN,
    3.0: NAN,
    # sit [3, 4.5): centres 3.0, 3.5, 4.0; sums walk 0.6, run 0.3, sit 1.1 (the unlabelled
    # window does not vote); the first sit window ends at 4.0.
    3.5: [0.5, 0.2, 0.3],
    4.0: [0.1, 0.1, 0.8],
    4.5: NAN,
    # jump [4.5, 5.5): a class the model does not know.
    5.0: [0.2, 0.7, 0.1],
    5.5: [0.2, 0.7, 0.1],
    # run [5.5, 6.5): the first window is right (at 6.0), the sum says sit (1.4 against 0.6).
    6.0: [0.0, 0.6, 0.4],
    6.5: [0.0, 0.0, 1.0],
}
INTERVALS = [
    (0.0, 2.0, 'walk'),
    (2.0, 3.0, 'run'),
    (3.0, 4.5, 'sit'),
    (4.5, 5.5, 'jump'),
    (5.5, 6.5, 'run'),
    (10.0, 11.0, 'walk'),  # after the last window: no window is centred in it
]


def _arrays():
    ends = np.array(list(WINDOWS), dtype=np.float64)
    return ends, np.array(list(WINDOWS.values()), dtype=np.float64)


def _check_hand_made(seg):
    """The answers worked out in the comments of ``WINDOWS``."""
    assert seg['segments'] == 4  # walk, run, sit, run; not jump, not the late walk
    assert seg['segments_with_labels'] == 3
    assert seg['segments_without_labels'] == 1
    assert seg['segments_without_windows'] == 1
    assert seg['segments_not_a_model_class'] == 1
    # Right: walk [0, 2) and sit; wrong: run [2, 3) (no label) and run [5.5, 6.5) (sit).
    assert seg['accuracy'] == pytest.approx(2 / 4)
    assert seg['accuracy_with_labels'] == pytest.approx(2 / 3)
    # F1: walk 1, run 0 (two misses), sit 2/3 (precision 1/2, recall 1).
    assert seg['macro_f1'] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert seg['per_class']['walk'] == {
        'segments': 1,
        'correct': 1,
        'recall': 1.0,
        'precision': 1.0,
        'f1': 1.0,
    }
    assert (seg['per_class']['run']['segments'], seg['per_class']['run']['correct']) == (2, 0)
    assert seg['per_class']['sit']['precision'] == pytest.approx(0.5)
    # Delays: walk 2.0 - 0.0, sit 4.0 - 3.0, run 6.0 - 5.5; run [2, 3) never detected.
    assert seg['delay_s']['p50'] == pytest.approx(1.0)
    assert seg['delay_s']['p90'] == pytest.approx(1.8)  # between 1.0 and 2.0, as np.percentile
    assert seg['delay_s']['max'] == pytest.approx(2.0)
    assert (seg['detected_segments'], seg['detected']) == (3, pytest.approx(0.75))


def test_hand_made_recording_scores_each_segment():
    ends, probs = _arrays()
    walk = probs[:3]
    # A majority of the windows' own decisions would call the first segment run.
    assert [CLASSES[i] for i in walk.argmax(axis=1)].count('run') == 2
    _check_hand_made(segment_report(INTERVALS, ends, LENGTH, probs, CLASSES))


def test_segments_follow_time_not_input_order_and_take_interval_objects():
    ends, probs = _arrays()
    order = np.random.default_rng(0).permutation(len(ends))
    intervals = [Interval(*i) for i in reversed(INTERVALS)]
    _check_hand_made(segment_report(intervals, ends[order], LENGTH, probs[order], CLASSES))


def test_segment_outcomes_one_per_interval():
    ends, probs = _arrays()
    found = segment_outcomes(INTERVALS, ends, LENGTH, probs, CLASSES)
    assert [(s.truth, s.windows, s.labelled_windows, s.predicted) for s in found] == [
        ('walk', 3, 3, 'walk'),
        ('run', 2, 0, None),
        ('sit', 3, 2, 'sit'),
        ('jump', 2, 2, 'run'),
        ('run', 2, 2, 'sit'),
        ('walk', 0, 0, None),
    ]
    assert [s.delay_s for s in found] == pytest.approx([2.0, None, 1.0, None, 0.5, None])


def test_no_scored_segment_and_bad_shapes():
    empty = segment_report([(0.0, 1.0, 'walk')], [], LENGTH, np.zeros((0, 3)), CLASSES)
    assert empty['segments'] == 0 and empty['segments_without_windows'] == 1
    assert empty['accuracy'] is None and empty['detected'] is None
    assert math.isnan(empty['delay_s']['p50'])
    with pytest.raises(ValueError, match='probabilities must be'):
        segment_report(INTERVALS, [1.0, 1.5], LENGTH, np.zeros((2, 2)), CLASSES)


def _outcomes():
    truth = GroundTruth([Interval(*i) for i in INTERVALS], 'hand-made')
    out = []
    for end, p in WINDOWS.items():
        t = truth.at(end - LENGTH / 2)
        if math.isnan(p[0]):
            out.append(WindowOutcome(end, t, None))
        else:
            best = int(np.argmax(p))
            out.append(WindowOutcome(end, t, CLASSES[best], p[best], 5.0, tuple(p)))
    return truth, out


def test_report_carries_the_segments_block(tmp_path):
    truth, outcomes = _outcomes()
    meta = {'bag': 'hand-made', 'fusion_mode': 'early'}
    assert score(outcomes, CLASSES)['segments'] is None  # no ground truth given
    report = write_report(
        tmp_path, outcomes, CLASSES, meta, intervals=truth.intervals, window_length=LENGTH
    )
    _check_hand_made(report['metrics']['segments'])
    on_disk = json.loads((tmp_path / 'report.json').read_text())
    assert on_disk['metrics']['segments']['segments'] == 4
    md = (tmp_path / 'report.md').read_text()
    assert '## Segments' in md and '| segment accuracy | 50.0% (4 segments' in md
    assert '| detection delay p50 / p90 | 1.00 / 1.80 s |' in md
    with (tmp_path / 'windows.csv').open() as f:
        header = next(csv.reader(f))
    assert header == ['end', 'truth', 'label', 'confidence', 'latency_ms']
    line = summary(report['metrics'], True)
    assert 'segments 50.0% (4), delay p50 1.00 s' in line


def test_report_over_bags_pools_segments_of_bags_sharing_stamps(tmp_path):
    truth, outcomes = _outcomes()
    bags = [
        BagOutcomes('monday', outcomes, {}, truth.intervals),
        BagOutcomes('tuesday', outcomes, {}, truth.intervals),
        BagOutcomes('no_truth', outcomes, {}),
    ]
    report = write_bags_report(tmp_path, bags, CLASSES, {'bag': '3 bags'}, window_length=LENGTH)
    pooled = report['metrics']['segments']
    assert (pooled['segments'], pooled['segments_without_labels']) == (8, 2)
    assert pooled['accuracy'] == pytest.approx(0.5)
    assert pooled['segments_not_a_model_class'] == 2
    _check_hand_made(report['per_bag'][0]['metrics']['segments'])
    assert report['per_bag'][2]['metrics']['segments'] is None


def test_label_without_probabilities_votes_one_hot():
    truth, outcomes = _outcomes()
    # The sit segment's windows without their probabilities: walk, sit and no label.
    bare = [
        WindowOutcome(o.end, o.truth, o.label, o.confidence, o.latency_ms)
        if 3.0 <= o.end - LENGTH / 2 < 4.5
        else o
        for o in outcomes
    ]
    m = score(bare, CLASSES, truth.intervals, LENGTH)['segments']
    # One vote each for walk and sit: the tie goes to the first class, walk.
    assert m['per_class']['sit']['correct'] == 0 and m['per_class']['walk']['precision'] == 0.5
    with pytest.raises(ValueError, match='window length'):
        score(outcomes, CLASSES, truth.intervals)
