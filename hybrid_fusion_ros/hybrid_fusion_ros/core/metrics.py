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

"""Classification metrics: accuracy, per-class precision/recall/F1, macro and weighted F1."""

from __future__ import annotations

from typing import Any, Dict, Sequence

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
