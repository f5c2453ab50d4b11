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

"""Classification metrics: accuracy, per-class precision/recall/F1, macro and weighted F1; and
the same per labelled segment of a recording (:func:`segment_report`), with detection delays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``cm[i, j]`` counts samples of true class i predicted as j."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]
) -> Dict[str, Any]:
    """A JSON-ready report. Classes absent from both truth and prediction get F1 = 0 and
    are left out of the macro average (their support is 0)."""
    cm = confusion_matrix(y_true, y_pred, len(classes))
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = support > 0
    total = int(support.sum())
    return {
        'samples': total,
        'accuracy': float(tp.sum() / total) if total else 0.0,
        'macro_f1': float(f1[present].mean()) if present.any() else 0.0,
        'weighted_f1': float((f1 * support).sum() / total) if total else 0.0,
        'per_class': {
            name: {
                'precision': float(precision[i]),
                'recall': float(recall[i]),
                'f1': float(f1[i]),
                'support': int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        'classes': list(classes),
        'confusion_matrix': cm.tolist(),
    }


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 90, 99)) -> Dict[str, float]:
    """``{'p50': ..., 'p90': ..., 'max': ...}`` of the values (NaN when there are none).

    Linear interpolation between order statistics, as ``np.percentile``'s default; written
    with sort + interp because ``np.percentile``'s first call in a process lazily imports
    half of numpy.lib, which cost each node ~0.5 s of CPU at its first diagnostics tick."""
    arr = np.sort(np.asarray(values, dtype=np.float64))
    if arr.size == 0:
        return {**{f'p{int(q)}': float('nan') for q in qs}, 'max': float('nan')}
    ranks = np.asarray(qs, dtype=np.float64) / 100.0 * (arr.size - 1)
    out = {f'p{int(q)}': float(v) for q, v in zip(qs, np.interp(ranks, np.arange(arr.size), arr))}
    out['max'] = float(arr[-1])
    return out


# The column of the segment confusion that a segment without any labelled window is "predicted"
# as: no true segment has this class, so classification_report leaves it out of the macro
# average, while the segment's own class counts it as missed.
NO_LABEL = '(no label)'
DELAY_QS = (50, 90)


@dataclass(frozen=True)
class SegmentOutcome:
    """What the model made of one labelled interval of the ground truth."""

    start: float  # interval, sensor time (s)
    end: float
    truth: str  # the interval's label
    windows: int  # windows whose centre lies in [start, end)
    labelled_windows: int  # of those, windows that got a label (a finite probability row)
    predicted: Optional[str]  # class of the highest summed probability; None without labels
    delay_s: Optional[float]  # first correct window's end - start; None if none was correct


def _interval(item: Any) -> tuple:
    """``(start, end, label)`` of a tuple or of an object with those attributes."""
    if hasattr(item, 'start'):
        return float(item.start), float(item.end), str(item.label)
    start, end, label = item
    return float(start), float(end), str(label)


def segment_outcomes(
    intervals: Sequence[Any],
    window_ends: Sequence[float],
    window_length: float,
    probabilities: np.ndarray,
    classes: Sequence[str],
) -> List[SegmentOutcome]:
    """One :class:`SegmentOutcome` per interval, in time order. An interval whose label is not
    one of ``classes`` gets its windows and their vote too, but no delay (no window can be
    right); :func:`summarize_segments` counts it apart.

    A window belongs to the interval its centre (``end - window_length / 2``) lies in, the
    rule by which each window gets its ground truth. Rows of ``probabilities`` with a NaN are
    windows without a label and do not vote. Ties go to the first class in ``classes``."""
    ends = np.asarray(window_ends, dtype=np.float64).reshape(-1)
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.shape != (ends.size, len(classes)):
        raise ValueError(
            f'probabilities must be (windows, classes) = ({ends.size}, {len(classes)}), '
            f'got {probs.shape}'
        )
    order = np.argsort(ends, kind='stable')  # "first correct window" is first in time
    ends, probs = ends[order], probs[order]
    centres = ends - window_length / 2
    labelled = np.isfinite(probs).all(axis=1)
    # A window's own decision, for the delay; -1 where it has none.
    own = np.where(labelled, np.argmax(np.where(labelled[:, None], probs, -np.inf), axis=1), -1)
    index = {c: i for i, c in enumerate(classes)}
    out = []
    for start, end, label in sorted((_interval(i) for i in intervals), key=lambda i: i[0]):
        lo, hi = np.searchsorted(centres, [start, end], side='left')
        voting = labelled[lo:hi]
        predicted = None
        if voting.any():
            predicted = classes[int(np.argmax(probs[lo:hi][voting].sum(axis=0)))]
        hits = np.flatnonzero(own[lo:hi] == index.get(label, -2))
        delay = float(ends[lo + hits[0]] - start) if hits.size else None
        out.append(
            SegmentOutcome(start, end, label, int(hi - lo), int(voting.sum()), predicted, delay)
        )
    return out


def summarize_segments(
    segments: Sequence[SegmentOutcome], classes: Sequence[str]
) -> Dict[str, Any]:
    """The JSON-ready report of :func:`segment_report` from segment outcomes, which may come
    from several recordings, each scored against its own windows."""
    index = {c: i for i, c in enumerate(classes)}
    known = [s for s in segments if s.truth in index]
    scored = [s for s in known if s.windows > 0]
    with_labels = [s for s in scored if s.predicted is not None]
    out: Dict[str, Any] = {
        'segments': len(scored),
        'segments_with_labels': len(with_labels),
        'segments_without_labels': len(scored) - len(with_labels),
        'segments_without_windows': len(known) - len(scored),
        'segments_not_a_model_class': len(segments) - len(known),
    }
    delays = [s.delay_s for s in scored if s.delay_s is not None]
    if not scored:
        return {
            **out,
            'accuracy': None,
            'accuracy_with_labels': None,
            'macro_f1': None,
            'per_class': {},
            'delay_s': percentiles([], DELAY_QS),
            'detected_segments': 0,
            'detected': None,
        }
    report = classification_report(
        np.array([index[s.truth] for s in scored], dtype=np.int64),
        np.array(
            [index[s.predicted] if s.predicted is not None else len(classes) for s in scored],
            dtype=np.int64,
        ),
        [*classes, NO_LABEL],
    )
    correct = sum(s.predicted == s.truth for s in with_labels)
    per_class = {}
    for name in classes:
        v = report['per_class'][name]
        per_class[name] = {
            'segments': v['support'],
            'correct': sum(s.predicted == name for s in with_labels if s.truth == name),
            'recall': v['recall'],
            'precision': v['precision'],
            'f1': v['f1'],
        }
    return {
        **out,
        'accuracy': correct / len(scored),
        'accuracy_with_labels': correct / len(with_labels) if with_labels else None,
        'macro_f1': report['macro_f1'],
        'per_class': per_class,
        'delay_s': percentiles(delays, DELAY_QS),
        'detected_segments': len(delays),
        'detected': len(delays) / len(scored),
    }


def segment_report(
    intervals: Sequence[Any],
    window_ends: Sequence[float],
    window_length: float,
    probabilities: np.ndarray,
    classes: Sequence[str],
) -> Dict[str, Any]:
    """Scores each labelled interval (segment) of a recording as a whole, as a user reads a
    recording ("was the walk recognised, and how soon?"), where window accuracy weighs a long
    segment more than a short one.

    Parameters
    ----------
    intervals
        The ground truth: ``(start, end, label)`` tuples, or objects with those attributes
        (``GroundTruth.intervals``), in sensor time (s); they must not overlap.
    window_ends
        ``(N,)`` end stamps of every window the recording spans (s), labelled or not.
    window_length
        Window length (s): a window belongs to the segment its centre
        (``end - window_length / 2``) lies in, ``[start, end)``.
    probabilities
        ``(N, C)`` class probabilities of each window's label, in the order of ``classes``; a
        row of NaN for a window that got no label.
    classes
        The model's classes.

    Returns
    -------
    dict
        ``segments``: intervals of a model class that at least one window's centre lies in;
        only these are scored. ``segments_with_labels`` / ``segments_without_labels``: of
        those, with at least one labelled window / with none. ``segments_without_windows``:
        intervals of a model class no window's centre lies in (before the first window, after
        the last, or between two centres), and ``segments_not_a_model_class``: intervals
        whose label the model does not know; neither is scored.
        ``accuracy``: share of ``segments`` whose prediction, the arg-max of the SUM of its
        windows' probabilities, is the true class; a segment without labels counts as wrong.
        ``accuracy_with_labels``: the same over ``segments_with_labels`` only.
        ``macro_f1``: macro-F1 over segments (a segment without labels is a miss of its
        class). ``per_class``: per true class, ``segments``, ``correct``, ``recall``,
        ``precision`` and ``f1``. ``delay_s``: p50, p90 and max of the detection delay, the
        end stamp of the first window (in time order) in the segment whose own arg-max is the
        true class minus the segment's start (NaN when no segment was detected);
        ``detected_segments`` counts the segments with such a window and ``detected`` is
        their share of ``segments``. Accuracies, F1 and ``detected`` are None without a
        scored segment.
    """
    return summarize_segments(
        segment_outcomes(intervals, window_ends, window_length, probabilities, classes), classes
    )
