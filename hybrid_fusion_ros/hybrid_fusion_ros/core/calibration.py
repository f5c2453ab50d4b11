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

"""Calibrated probabilities and an ``unknown`` rejection threshold (numpy only).

A network trained with cross-entropy is rarely calibrated: its top probability is not the
chance that the label is right (it is often over-confident on data from a new wearer or room).
Two numbers, fitted in training on the validation windows as the fusion node scores them, fix
what the node publishes:

- a *temperature* ``T`` (temperature scaling, Guo et al. 2017): the node publishes
  ``softmax(scores / T)``. ``T`` minimises the negative log-likelihood of the validation
  labels; it changes how sure the model claims to be, never which class it picks (the argmax
  is the same for every ``T > 0``). Since ``softmax(log p / T) == softmax(logits / T)``, it is
  fitted from the published probabilities alone, whatever the fusion scores are (logits or
  log-probabilities);
- a *threshold* ``p``: a window whose calibrated top probability is below ``p`` is published
  as :data:`UNKNOWN_LABEL` (class id :data:`UNKNOWN_CLASS_ID`) instead of a guess.

The threshold rule (:func:`choose_threshold`) is one principled default for every dataset,
not a figure tuned to one: after temperature scaling, ``p`` is the ``1 - keep`` quantile of
the calibrated top probability over the validation windows the model classified *correctly*
(``keep`` = 0.95 by default). About ``keep`` of the windows the model gets right stay
labelled, and a window on which the model is less sure than on nearly all of its right
answers is called unknown: most of its wrong answers, and activities it never saw in
training, fall there. The rule needs no target accuracy and no cost of an error, which the
training data cannot give; it is never below chance (``1/C``, the lowest a top probability
can be), is kept below 1, and is 0 (never unknown) when the model gets no validation window
right. With fewer than ``min_windows`` usable validation windows nothing is fitted: the
identity calibration (``T = 1``, threshold 0) is returned, and its ``rule`` says why.

A checkpoint stores :meth:`Calibration.to_dict` as its ``calibration`` section (empty: none).
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
import math
import numbers
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

UNKNOWN_LABEL = 'unknown'
UNKNOWN_CLASS_ID = -1

T_MIN, T_MAX = 0.05, 20.0  # the bounds of the temperature search
# The smallest probability taken to the log: a float32 softmax underflows to 0 far below it.
_P_MIN = 1e-30
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_OPTIONAL = ('ece_before', 'ece_after', 'coverage', 'selective_accuracy')


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _finite_or_none(x: Any) -> Optional[float]:
    """``x`` as a plain float, or None when it is None, NaN or infinite."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Calibration:
    """A temperature and a rejection threshold, and how they were fitted."""

    temperature: float = 1.0  # > 0
    # Calibrated top probability below it: unknown. 0: never unknown.
    threshold: float = 0.0
    fitted_on: int = 0  # validation windows it was fitted on (0: not fitted)
    ece_before: Optional[float] = None  # expected calibration error, before / after
    ece_after: Optional[float] = None
    coverage: Optional[float] = None  # share of validation windows at or above the threshold
    selective_accuracy: Optional[float] = None  # accuracy on those windows
    rule: str = ''  # one line: how the threshold was chosen

    def __post_init__(self) -> None:
        """Refuse a temperature or threshold the node cannot apply; store plain floats."""
        t, p = self.temperature, self.threshold
        if not _is_number(t) or not math.isfinite(t) or t <= 0:
            raise ValueError(f'calibration temperature must be a finite number > 0, got {t!r}')
        if not _is_number(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f'calibration threshold must be a number in [0, 1], got {p!r}')
        object.__setattr__(self, 'temperature', float(t))
        object.__setattr__(self, 'threshold', float(p))

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-able values: floats, ints, None and a string."""
        d = asdict(self)
        d['temperature'] = float(self.temperature)
        d['threshold'] = float(self.threshold)
        d['fitted_on'] = int(self.fitted_on)
        for key in _OPTIONAL:
            d[key] = _finite_or_none(d[key])
        d['rule'] = str(self.rule)
        return d

    @classmethod
    def from_dict(cls, d: Optional[Mapping[str, Any]]) -> 'Calibration':
        """The calibration a checkpoint stores; None or empty: the identity.

        Keys it does not know are ignored (a newer checkpoint's additions); a temperature
        that is not a finite number > 0 or a threshold outside [0, 1] raises ValueError.
        """
        if not d:
            return cls()

        def number(key: str, default: float) -> float:
            value = d.get(key, default)
            try:
                return float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f'calibration {key} must be a number, got {value!r}'
                ) from None

        optional = {}
        for key in _OPTIONAL:
            value = d.get(key)
            optional[key] = None if value is None else number(key, math.nan)
        return cls(
            temperature=number('temperature', 1.0),
            threshold=number('threshold', 0.0),
            fitted_on=int(number('fitted_on', 0)),
            rule=str(d.get('rule') or ''),
            **optional,
        )

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """``softmax(scores / T)`` over the last axis, float32, of ``(C,)`` or ``(N, C)``
        logits or log-probabilities (the largest score is subtracted first: no overflow)."""
        z = np.asarray(scores, dtype=np.float64) / float(self.temperature)
        z = z - np.max(z, axis=-1, keepdims=True)
        e = np.exp(z)
        return (e / np.sum(e, axis=-1, keepdims=True)).astype(np.float32)

    @property
    def identity(self) -> bool:
        """Whether it changes nothing: temperature 1 and threshold 0."""
        return self.temperature == 1.0 and self.threshold == 0.0


def _usable(probs: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The rows that can be scored: finite probabilities and a label in ``[0, C)``."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(
            f'probabilities must be (N, C) with one label per row, got {p.shape} and {y.shape}'
        )
    keep = np.isfinite(p).all(axis=1) & (y >= 0) & (y < p.shape[1])
    return p[keep], y[keep].astype(np.int64)


def _log_probs(p: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(p, _P_MIN))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: over ``bins`` equal-width bins of the top probability,
    the windows' share times ``|accuracy - mean top probability|``, summed. NaN rows and
    labels < 0 are left out; NaN when no window is left."""
    if bins < 1:
        raise ValueError(f'bins must be >= 1, got {bins}')
    p, y = _usable(probs, labels)
    if len(p) == 0:
        return math.nan
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    # Bin k holds (k / bins, (k + 1) / bins]; a top probability of 0 (impossible) goes to 0.
    which = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    n = np.bincount(which, minlength=bins).astype(np.float64)
    gap = np.abs(
        np.bincount(which, weights=correct, minlength=bins)
        - np.bincount(which, weights=conf, minlength=bins)
    )
    return float(gap.sum() / n.sum())


def _nll(logp: np.ndarray, y: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``softmax(logp / T)``."""
    z = logp / temperature
    top = z.max(axis=1)
    lse = top + np.log(np.exp(z - top[:, None]).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.05, 20] that minimises the negative log-likelihood of
    ``softmax(log(probs) / T)`` on the labelled rows; 1 with no row or fewer than 2 classes.

    The likelihood is concave in ``1/T``, so it has one optimum along ``log T``, found by a
    golden-section search to a relative precision of about 1e-5.
    """
    p, y = _usable(probs, labels)
    if len(p) == 0 or p.shape[1] < 2:
        return 1.0
    logp = _log_probs(p)
    lo, hi = math.log(T_MIN), math.log(T_MAX)
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = _nll(logp, y, math.exp(a)), _nll(logp, y, math.exp(b))
    while hi - lo > 1e-5:
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = _nll(logp, y, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = _nll(logp, y, math.exp(b))
    return float(math.exp((lo + hi) / 2))


def coverage_curve(probs: np.ndarray, labels: np.ndarray) -> Dict[str, np.ndarray]:
    """The threshold swept over every observed top probability, ascending: ``threshold``,
    ``coverage`` (share of windows whose top probability is at or above it) and
    ``selective_accuracy`` (accuracy of the argmax on those windows). Empty arrays when no
    window is usable."""
    p, y = _usable(probs, labels)
    if len(p) == 0:
        empty = np.zeros(0, dtype=np.float64)
        return {'threshold': empty, 'coverage': empty.copy(), 'selective_accuracy': empty.copy()}
    conf = p.max(axis=1)
    order = np.argsort(conf, kind='stable')
    conf = conf[order]
    correct = (p.argmax(axis=1) == y)[order].astype(np.float64)
    thresholds = np.unique(conf)
    first = np.searchsorted(conf, thresholds, side='left')  # first window at or above each
    covered = len(conf) - first
    # Right answers from position k to the end.
    right_from = np.concatenate([np.cumsum(correct[::-1])[::-1], [0.0]])
    return {
        'threshold': thresholds,
        'coverage': covered / len(conf),
        'selective_accuracy': right_from[first] / covered,
    }


def _check_keep(keep: float) -> None:
    if not 0.0 < keep <= 1.0:
        raise ValueError(f'keep is the share of correct windows to keep, in (0, 1]: got {keep}')


def choose_threshold(probs: np.ndarray, labels: np.ndarray, keep: float = 0.95) -> float:
    """The rejection threshold for (already calibrated) ``probs``: the ``1 - keep`` quantile
    of the top probability over the correctly classified rows, so that at least ``keep`` of
    them stay at or above it (the module docstring says why). Clamped to ``[1/C, 1)``; 0 when
    no row is classified correctly."""
    _check_keep(keep)
    p, y = _usable(probs, labels)
    if len(p) == 0:
        return 0.0
    conf = p.max(axis=1)
    right = np.sort(conf[p.argmax(axis=1) == y])
    if len(right) == 0:
        return 0.0
    # The order statistic below which fewer than (1 - keep) of the right answers lie.
    k = int(math.floor((1.0 - keep) * len(right) + 1e-9))
    threshold = float(right[min(k, len(right) - 1)])
    return float(min(max(threshold, 1.0 / p.shape[1]), 1.0 - 1e-6))


def fit_calibration(
    probs: np.ndarray, labels: np.ndarray, keep: float = 0.95, min_windows: int = 20
) -> Calibration:
    """Temperature and threshold fitted on validation windows' probabilities (NaN rows and
    labels < 0 are left out), with the figures that describe them; the identity, with the
    reason in ``rule``, with fewer than ``min_windows`` usable windows."""
    _check_keep(keep)
    p, y = _usable(probs, labels)
    n = len(p)
    if n < max(1, min_windows):
        return Calibration(
            fitted_on=n,
            rule=f'too few validation windows ({n} < {min_windows}): not calibrated',
        )
    temperature = fit_temperature(p, y)
    cal = Calibration(temperature=temperature).probabilities(_log_probs(p))
    threshold = choose_threshold(cal, y, keep)
    conf = cal.max(axis=1)
    covered = conf >= threshold
    right = cal.argmax(axis=1) == y
    n_right = int(right.sum())
    if n_right:
        rule = (
            f'unknown below the {100 * (1 - keep):g}th percentile of the calibrated top'
            f' probability of the {n_right} correctly classified validation windows'
            f' (keep={keep:g}: about {100 * keep:g} % of correct labels kept)'
        )
    else:
        rule = 'no validation window classified correctly: threshold 0 (never unknown)'
    return Calibration(
        temperature=temperature,
        threshold=threshold,
        fitted_on=n,
        ece_before=expected_calibration_error(p, y),
        ece_after=expected_calibration_error(cal, y),
        coverage=float(covered.mean()),
        selective_accuracy=float(right[covered].mean()) if covered.any() else None,
        rule=rule,
    )


def describe(calibration: Optional[Mapping[str, Any]]) -> str:
    """One line for a training summary: the fitted calibration's figures, or why none."""
    if not calibration:
        return 'calibration: none (no validation windows)'
    cal = Calibration.from_dict(calibration)
    if cal.ece_after is None:
        return f"calibration: none ({cal.rule or 'not fitted'})"

    def pct(x: Optional[float]) -> str:
        return 'n/a' if x is None else f'{100 * x:.1f} %'

    before = 'n/a' if cal.ece_before is None else f'{cal.ece_before:.3f}'
    return (
        f'calibration: temperature {cal.temperature:.3g}, ECE {before} ->'
        f' {cal.ece_after:.3f}, unknown below {cal.threshold:.3f} (coverage'
        f' {pct(cal.coverage)}, accuracy on them {pct(cal.selective_accuracy)})'
    )
