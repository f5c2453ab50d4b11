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

"""Calibration of the published labels in the evaluation report: how well the probabilities
the graph publishes match its accuracy, and what the ``unknown`` threshold does. ROS-free.

The fusion node publishes calibrated probabilities (``core.calibration``) and the label
``unknown`` where the calibrated top probability is below the checkpoint's threshold; the
report states, over the windows whose ground truth is a model class, the expected calibration
error of those probabilities, the accuracy-coverage curve of the threshold swept over them,
and the point the deployed threshold chose. Windows whose ground truth is a class the model
never learned are reported apart: how many of them the graph called unknown, and what it
called the rest.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from hybrid_fusion_ros.core.calibration import coverage_curve
from hybrid_fusion_ros.core.calibration import expected_calibration_error
from hybrid_fusion_ros.core.calibration import UNKNOWN_LABEL
from ..common.plots import _pyplot

CURVE_POINTS = 101  # at most this many points of the curve go into report.json


def _downsample(curve: Mapping[str, np.ndarray], points: int) -> Dict[str, List[float]]:
    """The curve as lists, at most ``points`` of its points, both ends kept."""
    n = len(curve['threshold'])
    pick = np.unique(np.round(np.linspace(0, n - 1, points)).astype(np.int64)) if n else []
    return {
        k: [float(v) for v in np.asarray(curve[k])[pick]]
        for k in ('threshold', 'coverage', 'selective_accuracy')
    }


def calibration_block(
    outcomes: Sequence[Any],
    classes: Sequence[str],
    threshold: Optional[float] = None,
) -> Optional[Dict[str, Any]]:
    """Calibration of ``outcomes`` (``report.WindowOutcome``) against their ground truth.

    Over the labelled windows whose truth is a model class and that carry a probability per
    class: ``ece`` and ``windows``, and ``curve`` (threshold, coverage and selective accuracy,
    at most :data:`CURVE_POINTS` points). ``chosen`` is the deployed point over the labelled
    windows whose truth is a model class (with or without probabilities): ``threshold`` as
    given (the checkpoint's, None if not known), ``coverage`` (share not labelled unknown) and
    ``selective_accuracy`` (accuracy on those). None when no window has both probabilities and
    a truth among the classes.
    """
    index = {c: i for i, c in enumerate(classes)}
    rows, labels = [], []
    for o in outcomes:
        if (
            o.label is not None
            and o.truth in index
            and o.probabilities is not None
            and len(o.probabilities) == len(classes)
        ):
            rows.append(o.probabilities)
            labels.append(index[o.truth])
    if not rows:
        return None
    probs = np.asarray(rows, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    usable = np.isfinite(probs).all(axis=1)
    if not usable.any():
        return None
    probs, y = probs[usable], y[usable]
    truth_scored = [o for o in outcomes if o.label is not None and o.truth in index]
    named = [o for o in truth_scored if o.label != UNKNOWN_LABEL]
    return {
        'ece': expected_calibration_error(probs, y),
        'windows': int(len(y)),
        'curve': _downsample(coverage_curve(probs, y), CURVE_POINTS),
        'chosen': {
            'threshold': None if threshold is None else float(threshold),
            'coverage': len(named) / len(truth_scored),
            'selective_accuracy': (
                sum(o.label == o.truth for o in named) / len(named) if named else None
            ),
        },
    }


def unseen_block(outcomes: Sequence[Any], classes: Sequence[str]) -> Optional[Dict[str, Any]]:
    """The labelled windows whose ground truth is not a model class (a class left out of
    training): ``windows``, ``unknown_share`` (share labelled unknown) and ``labelled_as``
    (label -> count, most frequent first); None when there is none."""
    index = set(classes)
    unseen = [
        o for o in outcomes if o.label is not None and o.truth is not None and o.truth not in index
    ]
    if not unseen:
        return None
    counts = Counter(o.label for o in unseen)
    return {
        'windows': len(unseen),
        'unknown_share': counts.get(UNKNOWN_LABEL, 0) / len(unseen),
        'labelled_as': dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def plot_coverage(
    curve: Mapping[str, Sequence[float]],
    chosen: Optional[Mapping[str, Any]],
    path: Path | str,
    title: str = 'Accuracy against coverage',
) -> Path:
    """Accuracy on the windows kept against the share kept, as the unknown threshold sweeps
    the published top probability, with the deployed point (``chosen``) marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    coverage = np.asarray(curve.get('coverage', []), dtype=np.float64)
    accuracy = np.asarray(curve.get('selective_accuracy', []), dtype=np.float64)
    if coverage.size:
        ax.plot(coverage, accuracy, marker='.', markersize=3, label='threshold swept')
    else:
        ax.text(0.5, 0.5, 'no probabilities', transform=ax.transAxes, ha='center', va='center')
    point = chosen or {}
    if point.get('coverage') is not None and point.get('selective_accuracy') is not None:
        p = point.get('threshold')
        ax.plot(
            [point['coverage']],
            [point['selective_accuracy']],
            marker='o',
            color='tab:red',
            linestyle='none',
            label='deployed' + (f' (unknown below {p:.2f})' if p is not None else ''),
        )
    ax.set_xlabel('coverage (share of windows given a class)')
    ax.set_ylabel('accuracy on them')
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    if ax.lines:
        ax.legend(fontsize=8, loc='lower left')
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def calibration_markdown(metrics: Mapping[str, Any]) -> str:
    """The "Calibration" section of report.md; empty when there is nothing to say."""
    cal = metrics.get('calibration')
    unseen = metrics.get('unseen_classes')
    if cal is None and unseen is None and not metrics.get('unknown_windows'):
        return ''

    def pct(x: Optional[float]) -> str:
        return 'n/a' if x is None else f'{100 * x:.1f}%'

    lines = ['## Calibration', '']
    if cal is not None:
        chosen = cal['chosen']
        p = chosen.get('threshold')
        lines += [
            f"- expected calibration error of the published probabilities: {cal['ece']:.3f}"
            f" ({cal['windows']} windows whose truth is a model class)",
            f"- unknown below {'n/a (not given)' if p is None else f'{p:.3f}'}: coverage"
            f" {pct(chosen['coverage'])}, accuracy on the windows given a class"
            f" {pct(chosen['selective_accuracy'])}",
        ]
    lines.append(f"- windows labelled {UNKNOWN_LABEL}: {metrics.get('unknown_windows', 0)}")
    if unseen is not None:
        others = ', '.join(
            f'{k} {v}' for k, v in unseen['labelled_as'].items() if k != UNKNOWN_LABEL
        )
        lines.append(
            f"- classes the model does not know: {unseen['windows']} windows,"
            f" {pct(unseen['unknown_share'])} labelled {UNKNOWN_LABEL}"
            + (f'; the rest as {others}' if others else '')
        )
    if cal is not None:
        lines += ['', '![accuracy against coverage](coverage.png)']
    return '\n'.join(lines) + '\n'
