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

"""Calibration in the evaluation report (unknown labels, curve, unseen classes) and in
training (the checkpoint's calibration fitted on the validation windows)."""

import json

import numpy as np
import pytest

from hybrid_fusion_ros.core.calibration import Calibration
from hybrid_fusion_ros.core.calibration import UNKNOWN_LABEL
from hybrid_fusion_tools.evaluation.calibration import calibration_block
from hybrid_fusion_tools.evaluation.calibration import CURVE_POINTS
from hybrid_fusion_tools.evaluation.calibration import plot_coverage
from hybrid_fusion_tools.evaluation.report import BagOutcomes
from hybrid_fusion_tools.evaluation.report import score
from hybrid_fusion_tools.evaluation.report import WindowOutcome
from hybrid_fusion_tools.evaluation.report import write_bags_report
from hybrid_fusion_tools.evaluation.report import write_report

CLASSES = ['walk', 'sit', 'stand']
THRESHOLD = 0.6


def _window(end, truth, probs, threshold=THRESHOLD):
    """A window as the graph publishes it: the argmax, or unknown below the threshold."""
    probs = tuple(float(p) for p in probs)
    best = int(np.argmax(probs))
    label = CLASSES[best] if probs[best] >= threshold else UNKNOWN_LABEL
    return WindowOutcome(end, truth, label, probs[best], 5.0, probs)


def _outcomes():
    """Sure and right, unsure and wrong, and an activity the model never learned ('jump')."""
    out = [
        _window(1.0, 'walk', (0.9, 0.05, 0.05)),
        _window(1.5, 'walk', (0.8, 0.1, 0.1)),
        _window(2.0, 'sit', (0.1, 0.85, 0.05)),
        _window(2.5, 'sit', (0.5, 0.4, 0.1)),  # unknown (wrong argmax)
        _window(3.0, 'stand', (0.1, 0.2, 0.7)),
        _window(3.5, 'stand', (0.1, 0.65, 0.25)),  # labelled, wrong
        _window(4.0, 'jump', (0.4, 0.3, 0.3)),  # unknown
        _window(4.5, 'jump', (0.35, 0.35, 0.3)),  # unknown
        _window(5.0, 'jump', (0.7, 0.2, 0.1)),  # called walk
        WindowOutcome(5.5, 'walk', None),
    ]
    return out


def test_unknown_labels_are_counted_but_not_scored():
    m = score(_outcomes(), CLASSES, unknown_threshold=THRESHOLD)
    assert (m['windows'], m['labelled_windows'], m['unknown_windows']) == (10, 9, 3)
    # Scored: windows with a model-class truth and a class label (walk, walk, sit, stand, stand).
    assert m['scored_windows'] == 5
    assert m['accuracy'] == pytest.approx(4 / 5)
    assert m['predicted'] == {'walk': 3, 'sit': 2, 'stand': 1}
    assert m['truth_not_a_model_class'] == ['jump']

    cal = m['calibration']
    assert cal['windows'] == 6  # the labelled windows whose truth is a model class
    probs = np.array([o.probabilities for o in _outcomes()[:6]])
    truth = np.array([0, 0, 1, 1, 2, 2])
    conf, right = probs.max(axis=1), probs.argmax(axis=1) == truth
    assert cal['ece'] == pytest.approx(
        sum(abs(c - r) for c, r in zip(conf, right)) / 6  # one window per bin here
    )
    assert cal['chosen'] == {
        'threshold': THRESHOLD,
        'coverage': pytest.approx(5 / 6),
        'selective_accuracy': pytest.approx(4 / 5),
    }
    curve = cal['curve']
    assert curve['coverage'][0] == 1.0 and curve['selective_accuracy'][0] == pytest.approx(4 / 6)
    assert curve['threshold'] == sorted(curve['threshold'])
    # The deployed point lies on the curve at its threshold.
    at = next(i for i, t in enumerate(curve['threshold']) if t >= THRESHOLD)
    assert curve['coverage'][at] == pytest.approx(5 / 6)

    unseen = m['unseen_classes']
    assert unseen['windows'] == 3
    assert unseen['unknown_share'] == pytest.approx(2 / 3)
    assert unseen['labelled_as'] == {UNKNOWN_LABEL: 2, 'walk': 1}


def test_without_probabilities_or_unseen_classes_the_blocks_are_none():
    plain = [WindowOutcome(1.0, 'walk', 'walk', 0.9, 5.0), WindowOutcome(1.5, 'sit', 'walk')]
    m = score(plain, CLASSES)
    assert m['calibration'] is None and m['unseen_classes'] is None
    assert m['unknown_windows'] == 0 and m['accuracy'] == pytest.approx(0.5)
    # The threshold is not known unless the report is told of it.
    assert score(_outcomes(), CLASSES)['calibration']['chosen']['threshold'] is None


def test_curve_is_downsampled_for_the_report():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=500)
    outcomes = [
        _window(0.5 * i, CLASSES[int(rng.integers(3))], p, 0.0) for i, p in enumerate(probs)
    ]
    block = calibration_block(outcomes, CLASSES, 0.0)
    curve = block['curve']
    assert 50 <= len(curve['threshold']) <= CURVE_POINTS
    assert len(curve['coverage']) == len(curve['selective_accuracy']) == len(curve['threshold'])
    assert curve['coverage'][0] == 1.0 and block['chosen']['coverage'] == 1.0
    assert curve['threshold'][-1] == pytest.approx(probs.max(axis=1).max())


def test_report_writes_the_coverage_plot_and_the_section(tmp_path):
    meta = {'bag': 'hand-made', 'fusion_mode': 'early', 'unknown_threshold': THRESHOLD}
    report = write_report(tmp_path, _outcomes(), CLASSES, meta)
    assert (tmp_path / 'coverage.png').stat().st_size > 0
    on_disk = json.loads((tmp_path / 'report.json').read_text())
    assert on_disk['metrics']['unknown_windows'] == 3
    assert on_disk['metrics']['calibration']['chosen']['threshold'] == THRESHOLD
    md = (tmp_path / 'report.md').read_text()
    assert '## Calibration' in md
    assert 'expected calibration error of the published probabilities' in md
    assert 'unknown below 0.600: coverage 83.3%, accuracy on the windows given a class 80.0%' in md
    assert f'windows labelled {UNKNOWN_LABEL}: 3' in md
    assert '3 windows, 66.7% labelled unknown; the rest as walk 1' in md
    assert '![accuracy against coverage](coverage.png)' in md
    assert report['metrics']['accuracy'] == pytest.approx(0.8)

    # A later report without probabilities leaves no stale plot behind, and no section.
    plain = [WindowOutcome(1.0, 'walk', 'walk', 0.9, 5.0)]
    write_report(tmp_path, plain, CLASSES, {'bag': 'x'})
    assert not (tmp_path / 'coverage.png').exists()
    assert '## Calibration' not in (tmp_path / 'report.md').read_text()

    bags = [BagOutcomes('a', _outcomes(), {}), BagOutcomes('b', plain, {})]
    over = write_bags_report(tmp_path / 'bags', bags, CLASSES, meta)
    assert over['metrics']['unknown_windows'] == 3
    assert over['per_bag'][0]['metrics']['calibration']['chosen']['threshold'] == THRESHOLD
    assert over['per_bag'][1]['metrics']['calibration'] is None
    assert (tmp_path / 'bags' / 'coverage.png').exists()

    empty = plot_coverage({}, None, tmp_path / 'empty.png', 'nothing')
    assert empty.stat().st_size > 0


def _sequence(labels, seed):
    """IMU windows whose mean says the class: learnable in a couple of epochs."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    x = rng.normal(size=(len(labels), 6, 16)).astype(np.float32)
    x += (2.0 * labels - 1.0)[:, None, None].astype(np.float32)
    from hybrid_fusion_tools.data.dataset import SequenceData

    return SequenceData({'imu': x}, labels, 0.5 * np.arange(1, len(labels) + 1))


def test_training_fits_the_checkpoint_calibration_on_the_validation_windows(tmp_path):
    pytest.importorskip('torch')
    from hybrid_fusion_ros.core.checkpoint import Checkpoint
    from hybrid_fusion_tools.training.train import train
    from hybrid_fusion_tools.training.train import TrainConfig

    small = {'length': 16, 'base_channels': 4, 'feature_dim': 8}
    config = TrainConfig(
        encoders={'imu': 'imu_cnn1d'},
        encoder_configs={'imu': small},
        epochs=2,
        seq_len=8,
        batch_size=2,
        extra_strategies=[],
    )
    pattern = [0] * 6 + [1] * 6
    train_seqs = [_sequence(pattern * 3, 1), _sequence(pattern[::-1] * 3, 2)]
    val_seqs = [_sequence(pattern * 3, 3)]
    result = train(config, train_seqs, val_seqs, classes=['a', 'b'], progress=False)
    fitted = result.val_report['calibration']
    assert fitted['fitted_on'] == 36 and fitted['ece_after'] is not None
    ckpt = Checkpoint.load(result.checkpoint.save(tmp_path / 'calibrated.pt'))
    assert ckpt.calibration == fitted == ckpt.metadata['calibration']
    cal = Calibration.from_dict(ckpt.calibration)
    assert cal.temperature > 0 and 0.0 <= cal.threshold < 1.0
    assert 'keep=0.95' in cal.rule or 'no validation window' in cal.rule
    # The figures of the report are still the argmax's, which no temperature changes.
    assert 0.0 <= result.val_report['accuracy'] <= 1.0


def test_a_class_left_out_of_training_is_answered_unknown_more_often(tmp_path):
    """Trained on three classes (windows of three levels), the deployed runtime (the checkpoint's
    calibration, the fusion node's code) meets windows of a fourth it never saw (wild motion
    about the middle level): it says unknown for far more of them than for the classes it
    knows. (A left-out class that looks like a known one, e.g. a level between two, is labelled
    with confidence: confidence-based rejection cannot see it; docs/guides/robot-outputs.md.)"""
    pytest.importorskip('torch')
    import torch

    from hybrid_fusion_ros.core.checkpoint import Checkpoint
    from hybrid_fusion_ros.core.fusion_runtime import build_fusion
    from hybrid_fusion_ros.core.fusion_runtime import Feature
    from hybrid_fusion_tools.training.train import train
    from hybrid_fusion_tools.training.train import TrainConfig

    small = {'length': 16, 'base_channels': 4, 'feature_dim': 8}
    config = TrainConfig(
        encoders={'imu': 'imu_cnn1d'},
        encoder_configs={'imu': small},
        epochs=6,
        seq_len=8,
        batch_size=2,
        extra_strategies=[],
    )
    means = np.array([-3.0, 0.0, 3.0])

    def windows(labels, seed, spread=1.0):
        rng = np.random.default_rng(seed)
        labels = np.asarray(labels)
        x = spread * rng.normal(size=(len(labels), 6, 16)) + means[labels][:, None, None]
        from hybrid_fusion_tools.data.dataset import SequenceData

        return SequenceData({'imu': x.astype(np.float32)}, labels, 0.5 * np.arange(1, len(x) + 1))

    pattern = [0] * 6 + [1] * 6 + [2] * 6
    train_seqs = [windows(pattern * 4, s) for s in (1, 2, 3)]
    val_seqs = [windows(pattern * 3, 4)]
    result = train(config, train_seqs, val_seqs, classes=['a', 'b', 'c'], progress=False)
    path = result.checkpoint.save(tmp_path / 'three.pt')
    threshold = Checkpoint.load(path).calibration['threshold']
    assert threshold > 1 / 3
    setup = build_fusion({'checkpoint': str(path), 'reset_after': 100.0})
    encoder = Checkpoint.load(path).build_encoder('imu')[0]

    def unknown_share(seq):
        runtime = setup.runtime
        runtime.reset('next stream')
        with torch.no_grad():
            feats = encoder(torch.from_numpy(seq.inputs['imu'])).numpy()
        labels = []
        for k, f in enumerate(feats):
            stamp = int((1000 + 0.5 * k) * 1e9)
            labels += runtime.on_feature('imu', Feature(f, stamp, stamp, 'imu'), stamp)
        return np.mean([label.class_id == -1 for label in labels])

    seen = unknown_share(windows(pattern * 2, 5))
    unseen = unknown_share(windows([1] * 36, 6, spread=3.0))
    assert unseen >= seen + 0.3, (seen, unseen, threshold)
