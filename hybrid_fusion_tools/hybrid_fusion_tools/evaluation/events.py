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

"""Activity events scored against the ground truth, and a timeline figure of a run. ROS-free.

An *event* (``core.events``) is one record per activity the tracker reported: a mapping with
``label``, ``start``, ``end`` (seconds, sensor time: its final extent, the ENDED form, or the
last state seen of an event still open at the end of the recording), optionally ``stamp``
and ``decided`` (seconds: when its STARTED decision was made). Events are scored as segments
against the ground-truth intervals (``.start``, ``.end``, ``.label``):

- an event and a truth interval of the same label *match* when their intersection over union
  is at least ``min_overlap``; each event and each interval matches at most once, pairs taken
  greedily from the highest IoU down;
- precision = matched / events, recall = matched / truth intervals, F1 their harmonic mean,
  per class and over all classes (micro: counts pooled); macro-F1 averages the classes that
  have events or truth intervals;
- *onset delay* = ``decided`` - truth start over the matched events (p50, p90, mean): how
  long after the activity began the robot was told it had (the retroactive ``start`` says
  when the tracker thinks it began; ``decided`` is when it said so);
- *fragmentation* = the mean number of events of its class overlapping a truth interval,
  over the intervals at least one overlaps: 1 is clean, 2 means each activity was reported
  in two pieces on average;
- truth intervals whose label is not one of the model's classes are counted apart
  (``truth_not_a_model_class``), never scored; so are events of a label not in ``classes``.
"""

from __future__ import annotations

from collections import Counter
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.core.metrics import percentiles
from ..common.plots import _pyplot

UNKNOWN = 'unknown'
DELAY_QS = (50, 90)
_BLOCK = 512  # events per block of the IoU matrix (bounds its memory)


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _ratio(num: int, den: int) -> Optional[float]:
    return num / den if den else None


def _f1(p: Optional[float], r: Optional[float]) -> Optional[float]:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def _delay_stats(delays: Sequence[float]) -> Dict[str, Any]:
    if not delays:
        return {'n': 0, 'p50': None, 'p90': None, 'mean': None}
    pct = percentiles(delays, DELAY_QS)
    return {
        'n': len(delays),
        'p50': pct['p50'],
        'p90': pct['p90'],
        'mean': float(sum(delays) / len(delays)),
    }


def _class_summary(
    n_events: int, n_truth: int, matched: int, delays: Sequence[float], pieces: Sequence[int]
) -> Dict[str, Any]:
    precision = _ratio(matched, n_events)
    recall = _ratio(matched, n_truth)
    return {
        'events': n_events,
        'truth': n_truth,
        'matched': matched,
        'precision': precision,
        'recall': recall,
        'f1': _f1(precision, recall)
        if n_events and n_truth
        else (0.0 if n_events or n_truth else None),
        'onset_delay_s': _delay_stats(delays),
        'fragmentation': float(np.mean(pieces)) if len(pieces) else None,
    }


def _match_class(
    events: Sequence[Tuple[float, float, Optional[float]]],
    truth: Sequence[Tuple[float, float]],
    min_overlap: float,
) -> Tuple[List[Tuple[int, int, float]], List[int]]:
    """Greedy IoU matching of one class: ([(event, truth, iou)], events overlapping each
    truth interval)."""
    pieces = [0] * len(truth)
    if not events or not truth:
        return [], pieces
    ts = np.array([t[0] for t in truth], dtype=np.float64)
    te = np.array([t[1] for t in truth], dtype=np.float64)
    overlaps = np.zeros(len(truth), dtype=np.int64)
    pairs: List[Tuple[float, int, int]] = []
    for lo in range(0, len(events), _BLOCK):
        block = events[lo:lo + _BLOCK]
        es = np.array([e[0] for e in block], dtype=np.float64)[:, None]
        ee = np.array([e[1] for e in block], dtype=np.float64)[:, None]
        inter = np.minimum(ee, te[None, :]) - np.maximum(es, ts[None, :])
        overlaps += (inter > 0).sum(axis=0)
        inter = np.clip(inter, 0.0, None)
        union = (ee - es) + (te - ts)[None, :] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        for i, j in zip(*np.nonzero((iou >= min_overlap) & (inter > 0))):
            pairs.append((float(iou[i, j]), lo + int(i), int(j)))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    used_e, used_t = set(), set()
    matches = []
    for iou_value, i, j in pairs:
        if i in used_e or j in used_t:
            continue
        used_e.add(i)
        used_t.add(j)
        matches.append((i, j, iou_value))
    return matches, overlaps.tolist()


def score_events(
    events: Sequence[Mapping],
    truth: Sequence[Any],
    classes: Optional[Sequence[str]] = None,
    min_overlap: float = 0.5,
) -> Dict[str, Any]:
    """Score one record per event against the ground-truth intervals (see the module
    docstring). Ratios and delays are None where nothing defines them (no events, no truth,
    no match); ``classes`` defaults to every label of the events and the truth."""
    if not (0.0 < min_overlap <= 1.0):
        raise ValueError(f'min_overlap must lie in (0, 1], got {min_overlap}')
    evs = []
    for e in events:
        label = _get(e, 'label')
        if label is None or label == '' or label == UNKNOWN:
            continue
        decided = _get(e, 'decided')
        if decided is None and _get(e, 'state') == 'started':
            decided = _get(e, 'stamp')
        evs.append(
            (str(label), float(_get(e, 'start')), float(_get(e, 'end')),
             None if decided is None else float(decided))
        )
    intervals = [(str(t.label), float(t.start), float(t.end)) for t in truth]
    if classes is None:
        classes = sorted({e[0] for e in evs} | {t[0] for t in intervals})
    classes = list(classes)
    known = set(classes)
    not_model = Counter(t[0] for t in intervals if t[0] not in known)
    events_not_model = Counter(e[0] for e in evs if e[0] not in known)

    per_class: Dict[str, Dict[str, Any]] = {}
    totals = {'events': 0, 'truth': 0, 'matched': 0}
    all_delays: List[float] = []
    all_pieces: List[int] = []
    matches_out: List[Dict[str, Any]] = []
    for name in classes:
        ce = [(s, en, d) for lab, s, en, d in evs if lab == name]
        ct = [(s, en) for lab, s, en in intervals if lab == name]
        matches, overlaps = _match_class(ce, ct, min_overlap)
        delays = []
        for i, j, iou_value in matches:
            decided = ce[i][2]
            delay = None if decided is None else decided - ct[j][0]
            if delay is not None:
                delays.append(delay)
            matches_out.append({
                'label': name,
                'event_start': ce[i][0],
                'event_end': ce[i][1],
                'truth_start': ct[j][0],
                'truth_end': ct[j][1],
                'iou': iou_value,
                'onset_delay_s': delay,
            })
        pieces = [n for n in overlaps if n > 0]
        per_class[name] = _class_summary(len(ce), len(ct), len(matches), delays, pieces)
        totals['events'] += len(ce)
        totals['truth'] += len(ct)
        totals['matched'] += len(matches)
        all_delays += delays
        all_pieces += pieces
    f1s = [
        v['f1'] for v in per_class.values() if (v['events'] or v['truth']) and v['f1'] is not None
    ]
    overall = _class_summary(
        totals['events'], totals['truth'], totals['matched'], all_delays, all_pieces
    )
    overall['macro_f1'] = float(np.mean(f1s)) if f1s else None
    matches_out.sort(key=lambda m: m['truth_start'])
    return {
        'min_overlap': float(min_overlap),
        'classes': classes,
        'per_class': per_class,
        'overall': overall,
        'truth_not_a_model_class': sum(not_model.values()),
        'truth_not_a_model_class_labels': dict(sorted(not_model.items())),
        'events_not_a_model_class': sum(events_not_model.values()),
        'matches': matches_out,
    }


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return 'n/a'
    return f'{x:.{digits}f}'


def events_markdown(summary: Mapping[str, Any]) -> str:
    """The "Events" section of a report: per-class P/R/F1, onset delay and fragmentation."""
    lines = [
        '## Events',
        '',
        'Each activity event (tracker output) is matched to a ground-truth interval of its'
        f" class when their IoU is at least {summary['min_overlap']:.2f}. Onset delay: from the"
        ' start of the interval to the STARTED decision. Fragmentation: events per interval'
        ' they overlap (1 is clean).',
        '',
        '| class | events | truth | matched | precision | recall | F1 | onset delay p50 / p90'
        ' (s) | fragmentation |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ]

    def row(name: str, v: Mapping[str, Any]) -> str:
        d = v['onset_delay_s']
        return (
            f"| {name} | {v['events']} | {v['truth']} | {v['matched']} |"
            f" {_fmt(v['precision'])} | {_fmt(v['recall'])} | {_fmt(v['f1'])} |"
            f" {_fmt(d['p50'], 2)} / {_fmt(d['p90'], 2)} | {_fmt(v['fragmentation'], 2)} |"
        )

    for name, v in summary['per_class'].items():
        lines.append(row(name, v))
    overall = summary['overall']
    lines.append(row('**all (micro)**', overall))
    lines += ['', f"Macro-F1 over classes: {_fmt(overall.get('macro_f1'))}."]
    unscored = []
    if summary.get('truth_not_a_model_class'):
        labels = ', '.join(summary.get('truth_not_a_model_class_labels', {}))
        unscored.append(
            f"{summary['truth_not_a_model_class']} ground-truth intervals of classes the model"
            f' does not know ({labels})'
        )
    if summary.get('events_not_a_model_class'):
        unscored.append(f"{summary['events_not_a_model_class']} events of other labels")
    if unscored:
        lines += ['', 'Not scored: ' + '; '.join(unscored) + '.']
    return '\n'.join(lines) + '\n'


# -- the timeline figure -------------------------------------------------------------------

_MAX_TICKS = 20000  # window ticks drawn at most (an hour at a 0.2 s hop)
_MAX_POINTS = 3000  # probability points per line at most (block means beyond)
_MAX_TEXTS = 80  # bar captions at most per row
_OTHER = '#555555'  # truth of a class the model does not know
_UNKNOWN_COLOUR = '#b0b0b0'


def _colours(plt: Any, classes: Sequence[str]) -> Dict[str, Any]:
    cmap = plt.get_cmap('tab10' if len(classes) <= 10 else 'tab20')
    n = cmap.N
    return {c: cmap(i % n) for i, c in enumerate(classes)}


def _block_mean(t: np.ndarray, y: np.ndarray, limit: int) -> Tuple[np.ndarray, np.ndarray]:
    if t.size <= limit:
        return t, y
    k = int(math.ceil(t.size / limit))
    pad = (-t.size) % k
    tt = np.concatenate([t, np.full(pad, np.nan)]).reshape(-1, k)
    yy = np.concatenate([y, np.full((pad,) + y.shape[1:], np.nan)]).reshape(
        (-1, k) + y.shape[1:]
    )
    with np.errstate(invalid='ignore'):
        tm = np.nanmean(tt, axis=1)
        counts = np.sum(~np.isnan(yy), axis=1)
        sums = np.nansum(yy, axis=1)
        ym = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return tm, ym


def _bars(ax: Any, items: Sequence[Tuple[float, float, str]], colours: Mapping[str, Any],
          t0: float, span: float) -> None:
    by_label: Dict[str, List[Tuple[float, float]]] = {}
    for start, end, label in items:
        by_label.setdefault(label, []).append((start - t0, max(end - start, 0.0)))
    for label, spans in by_label.items():
        ax.broken_barh(spans, (0.15, 0.7), facecolors=colours.get(label, _OTHER),
                       edgecolor='white', linewidth=0.3)
    wide = [it for it in items if it[1] - it[0] >= 0.04 * span]
    if len(wide) <= _MAX_TEXTS:
        for start, end, label in wide:
            ax.text((start + end) / 2 - t0, 0.5, label, ha='center', va='center', fontsize=7,
                    clip_on=True)


def plot_timeline(
    path: Path | str,
    truth: Sequence[Any],
    windows: Sequence[Any],
    events: Sequence[Any],
    classes: Sequence[str],
    title: str = '',
    top_k: int = 3,
) -> Path:
    """A PNG of one run over time: the ground-truth intervals, the label of each window (a tick
    at its end; ``unknown`` grey, no label blank), the events (bars from start to end) and the
    probabilities of the ``top_k`` classes of the highest mean probability.

    ``truth``: intervals (``.start``, ``.end``, ``.label``, seconds); ``windows``: the
    report's window outcomes (``.end``, ``.label``, ``.probabilities``); ``events``: mappings
    (or objects) with ``label``, ``start``, ``end`` in seconds. Long runs are thinned (window
    ticks, block means of the probabilities), so ten seconds and an hour both stay readable."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    classes = list(classes)
    colours = _colours(plt, classes)
    tr = [(float(t.start), float(t.end), str(t.label)) for t in truth]
    ev = [
        (float(_get(e, 'start')), float(_get(e, 'end')), str(_get(e, 'label')))
        for e in events
    ]
    ends = np.array([float(w.end) for w in windows], dtype=np.float64)
    times = [x for x in (*[a for a, _, _ in tr], *[b for _, b, _ in tr],
                         *[a for a, _, _ in ev], *[b for _, b, _ in ev]) if math.isfinite(x)]
    if ends.size:
        times += [float(ends.min()), float(ends.max())]
    t0 = min(times) if times else 0.0
    span = max((max(times) - t0) if times else 0.0, 1e-3)

    fig, axes = plt.subplots(
        4, 1, sharex=True, figsize=(12.0, 6.4), dpi=110,
        gridspec_kw={'height_ratios': [1, 1, 1, 3]},
    )
    ax_truth, ax_win, ax_ev, ax_p = axes
    _bars(ax_truth, tr, colours, t0, span)
    _bars(ax_ev, ev, colours, t0, span)
    for ax, name in ((ax_truth, 'truth'), (ax_win, 'windows'), (ax_ev, 'events')):
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha='right', va='center', fontsize=9)
    if not tr:
        ax_truth.text(0.5, 0.5, 'no ground truth', transform=ax_truth.transAxes,
                      ha='center', va='center', fontsize=8, color='grey')
    if not ev:
        ax_ev.text(0.5, 0.5, 'no events', transform=ax_ev.transAxes,
                   ha='center', va='center', fontsize=8, color='grey')

    # Window labels: a tick per labelled window end, thinned to _MAX_TICKS.
    labelled = [i for i, w in enumerate(windows) if w.label is not None]
    if len(labelled) > _MAX_TICKS:
        labelled = labelled[:: int(math.ceil(len(labelled) / _MAX_TICKS))]
    if labelled:
        xs = ends[labelled] - t0
        cs = [
            colours.get(windows[i].label, _UNKNOWN_COLOUR if windows[i].label == UNKNOWN
                        else _OTHER)
            for i in labelled
        ]
        ax_win.vlines(xs, 0.15, 0.85, colors=cs, linewidth=0.8 if len(xs) < 2000 else 0.4)

    # Probabilities of the top_k classes by mean probability.
    n = len(classes)
    probs = np.full((len(windows), n), np.nan)
    for i, w in enumerate(windows):
        p = w.probabilities
        if p is not None and len(p) == n:
            probs[i] = p
    have = ~np.isnan(probs).all(axis=1) if n else np.zeros(len(windows), dtype=bool)
    if n and have.any():
        order = np.argsort(-np.nanmean(probs[have], axis=0), kind='stable')
        top = [int(k) for k in order[: max(int(top_k), 0)]]
        tt, yy = _block_mean(ends[have] - t0, probs[have][:, top], _MAX_POINTS)
        for col, k in enumerate(top):
            ax_p.plot(tt, yy[:, col], color=colours[classes[k]], linewidth=1.0,
                      label=classes[k])
        ax_p.legend(fontsize=7, loc='upper right', title=f'top {len(top)}', title_fontsize=7)
    else:
        ax_p.text(0.5, 0.5, 'no probabilities', transform=ax_p.transAxes,
                  ha='center', va='center', fontsize=8, color='grey')
    ax_p.set_ylim(-0.02, 1.02)
    ax_p.set_ylabel('probability', fontsize=9)
    ax_p.grid(alpha=0.3)
    ax_p.set_xlim(0, span)
    ax_p.set_xlabel(f'time (s) since {t0:.3f}')

    handles = [Patch(facecolor=colours[c], label=c) for c in classes]
    handles.append(Patch(facecolor=_UNKNOWN_COLOUR, label=UNKNOWN))
    if any(lab not in colours for _, _, lab in tr):
        handles.append(Patch(facecolor=_OTHER, label='not a model class'))
    # Title, then the class legend, above the panels (in figure fractions of 6.4 in).
    ncol = min(len(handles), 8)
    title_h = 0.04 if title else 0.0
    legend_h = 0.012 + 0.03 * int(math.ceil(len(handles) / ncol))
    if title:
        fig.suptitle(title, fontsize=10, y=0.995, va='top')
    fig.legend(handles=handles, loc='upper center', ncol=ncol, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 1.0 - title_h))
    fig.subplots_adjust(left=0.07, right=0.985, bottom=0.085,
                        top=0.985 - title_h - legend_h, hspace=0.22)
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
