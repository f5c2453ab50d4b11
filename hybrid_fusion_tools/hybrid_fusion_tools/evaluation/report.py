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

"""Scores window outcomes and writes the evaluation report: ``report.json``, ``report.md``,
``windows.csv``, ``confusion.png``, ``latency_cdf.png`` and, where the labels carry
probabilities, ``coverage.png``. ROS-free.

A report over several bags (:func:`write_bags_report`) scores all their windows together and
each bag apart: ``per_bag`` in report.json, a table in report.md, a ``bag`` column in
windows.csv; the figures are over all windows.

A window is scored against the ground truth at its centre. Coverage is labelled windows /
windows the recording spans; accuracy and F1 count only labelled windows whose ground truth
is known and is one of the model's classes (windows whose truth is another class are counted
apart, never silently mixed in). A window the graph labelled ``unknown`` (its calibrated top
probability below the checkpoint's threshold) counts as labelled but is not scored for
accuracy; ``unknown_windows`` counts them, ``calibration`` gives the expected calibration
error of the published probabilities, the accuracy-coverage curve and the deployed point
(threshold from ``meta['unknown_threshold']``), and ``unseen_classes`` says what the graph
labelled the windows of classes the model does not know (:mod:`.calibration`).

Where the ground-truth intervals are given, each interval is also scored as one segment
(``segments`` in the metrics, :func:`..core.metrics.segment_report`): the class of the highest
summed probability over its windows, and how soon a window first got it right. A report over
several bags pools the segments of all bags, each scored against its own bag's windows.
"""

from __future__ import annotations

import csv
from dataclasses import asdict
from dataclasses import dataclass
import json
import math
from pathlib import Path
import tempfile
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.core.calibration import UNKNOWN_LABEL
from hybrid_fusion_ros.core.metrics import classification_report
from hybrid_fusion_ros.core.metrics import percentiles
from hybrid_fusion_ros.core.metrics import segment_outcomes
from hybrid_fusion_ros.core.metrics import SegmentOutcome
from hybrid_fusion_ros.core.metrics import summarize_segments
from .calibration import calibration_block
from .calibration import calibration_markdown
from .calibration import plot_coverage
from .calibration import unseen_block
from .events import events_markdown
from .events import plot_timeline
from .events import score_events
from ..common.plots import plot_confusion
from ..common.plots import plot_latency_cdf

LATENCY_QS = (50, 90, 99)


@dataclass
class WindowOutcome:
    end: float  # window end, sensor time (s)
    truth: Optional[str]  # ground truth at the window's centre; None if unknown
    label: Optional[str]  # first label published for this window; None if none came
    confidence: float = math.nan
    latency_ms: float = math.nan
    # The first label's probabilities, one per class of the message (the model's order);
    # None without a label or when the label carried none. Not a column of windows.csv.
    probabilities: Optional[Tuple[float, ...]] = None


def window_key(t: float) -> int:
    """Labels are matched to windows by stamp, in whole milliseconds."""
    return int(round(t * 1000))


def window_outcomes(
    ends: Sequence[float],
    window_length: float,
    truth,
    labels: Mapping[int, tuple],
    latency: Callable[[float, Any], float],
) -> List[WindowOutcome]:
    """One outcome per window end: the ground truth at the window's centre (``truth.at``; None
    without truth) and the window's first label. ``labels`` maps :func:`window_key` to
    ``(label, confidence, extra)`` or ``(label, confidence, extra, probabilities)``;
    ``latency(end, extra)`` gives that label's latency (ms)."""
    out = []
    for end in ends:
        end = float(end)
        t = truth.at(end - window_length / 2) if truth is not None else None
        got = labels.get(window_key(end))
        out.append(
            WindowOutcome(
                end,
                t,
                got[0],
                got[1],
                latency(end, got[2]),
                tuple(got[3]) if len(got) > 3 and got[3] is not None else None,
            )
            if got
            else WindowOutcome(end, t, None)
        )
    return out


def probability_rows(outcomes: Sequence[WindowOutcome], classes: Sequence[str]) -> np.ndarray:
    """``(N, C)``: each window's label probabilities, the input of ``segment_report``. A label
    that came without probabilities for every class (a plugin that leaves the field empty)
    votes with a one-hot of its class; a window without a label (or with a label the model
    does not know) gets a row of NaN."""
    index = {c: i for i, c in enumerate(classes)}
    rows = np.full((len(outcomes), len(classes)), np.nan)
    for i, o in enumerate(outcomes):
        if o.probabilities is not None and len(o.probabilities) == len(classes):
            rows[i] = o.probabilities
        elif o.label in index:
            rows[i] = 0.0
            rows[i, index[o.label]] = 1.0
    return rows


def _segments(
    outcomes: Sequence[WindowOutcome],
    classes: Sequence[str],
    intervals: Optional[Sequence[Any]],
    window_length: Optional[float],
) -> Optional[List[SegmentOutcome]]:
    """One bag's segments, or None without ground truth."""
    if intervals is None:
        return None
    if window_length is None:
        raise ValueError('segments need the window length to place each window in its segment')
    ends = [o.end for o in outcomes]
    rows = probability_rows(outcomes, classes)
    return segment_outcomes(intervals, ends, window_length, rows, classes)


def score(
    outcomes: Sequence[WindowOutcome],
    classes: Sequence[str],
    intervals: Optional[Sequence[Any]] = None,
    window_length: Optional[float] = None,
    unknown_threshold: Optional[float] = None,
) -> Dict[str, Any]:
    """The metrics of one bag's windows. With the bag's ground-truth ``intervals``
    (``GroundTruth.intervals``) and the model's ``window_length`` (s), ``segments`` holds
    :func:`..core.metrics.segment_report` over them; without, it is None.
    ``unknown_threshold`` (the checkpoint's) is the one reported as chosen in
    ``calibration``."""
    return _score(
        outcomes,
        classes,
        _segments(outcomes, classes, intervals, window_length),
        unknown_threshold,
    )


def _threshold(meta: Mapping[str, Any]) -> Optional[float]:
    """The deployed unknown threshold the report was told of, or None."""
    value = meta.get('unknown_threshold')
    return None if value is None else float(value)


def _score(
    outcomes: Sequence[WindowOutcome],
    classes: Sequence[str],
    segments: Optional[Sequence[SegmentOutcome]],
    unknown_threshold: Optional[float] = None,
) -> Dict[str, Any]:
    labelled = [o for o in outcomes if o.label is not None]
    index = {c: i for i, c in enumerate(classes)}
    # A window labelled unknown is labelled (the graph answered) but names no class to score.
    scored = [o for o in labelled if o.truth in index and o.label in index]
    out: Dict[str, Any] = {
        'windows': len(outcomes),
        'labelled_windows': len(labelled),
        'coverage': len(labelled) / len(outcomes) if outcomes else 0.0,
        'windows_with_truth': sum(o.truth is not None for o in outcomes),
        'scored_windows': len(scored),
        'unknown_windows': sum(o.label == UNKNOWN_LABEL for o in labelled),
        'predicted': {c: n for c in classes if (n := sum(o.label == c for o in labelled))},
        'truth_not_a_model_class': sorted(
            {o.truth for o in labelled if o.truth is not None and o.truth not in index}
        ),
        'latency_ms': percentiles(
            [o.latency_ms for o in labelled if math.isfinite(o.latency_ms)], LATENCY_QS
        ),
    }
    if scored:
        report = classification_report(
            np.array([index[o.truth] for o in scored], dtype=np.int64),
            np.array([index[o.label] for o in scored], dtype=np.int64),
            classes,
        )
        out.update(
            accuracy=report['accuracy'],
            macro_f1=report['macro_f1'],
            weighted_f1=report['weighted_f1'],
            per_class=report['per_class'],
            classes=report['classes'],
            confusion_matrix=report['confusion_matrix'],
        )
    else:
        out.update(
            accuracy=None,
            macro_f1=None,
            weighted_f1=None,
            per_class={},
            classes=list(classes),
            confusion_matrix=None,
        )
    out['segments'] = summarize_segments(segments, classes) if segments is not None else None
    out['calibration'] = calibration_block(outcomes, classes, unknown_threshold)
    out['unseen_classes'] = unseen_block(outcomes, classes)
    return out


@dataclass
class BagOutcomes:
    """One bag's windows in a report over several bags, with what the report says of the bag
    (``info``: ground_truth, bag_format, bag_seconds, ...) and its ground-truth intervals
    (None without ground truth)."""

    bag: str
    outcomes: Sequence[WindowOutcome]
    info: Mapping[str, Any]
    intervals: Optional[Sequence[Any]] = None
    events: Optional[Sequence[Mapping[str, Any]]] = None  # the graph's, one record per event


def _fmt(x: Any, pct: bool = False, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return 'n/a'
    return f'{100 * x:.{digits}f}%' if pct else f'{x:.{digits}f}'


def markdown(report: Mapping[str, Any]) -> str:
    m = report['metrics']
    meta = report['meta']
    lines = []
    which = 'the bags' if 'per_bag' in report else 'the bag'
    partial = f' (PARTIAL: interrupted before the end of {which})' if report['partial'] else ''
    title = 'Evaluation report' + partial
    lines += [f'# {title}', '']
    bags = (
        f"- bags: {len(report['per_bag'])} ({meta.get('bag_format', '?')}, "
        f"{meta.get('bag_seconds', 0):.1f} s in all), each in the table below"
        if 'per_bag' in report
        else (
            f"- bag: `{meta['bag']}` ({meta.get('bag_format', '?')},"
            f" {meta.get('bag_seconds', 0):.1f} s)"
        )
    )
    lines += [
        bags,
        f"- data: {meta.get('data_note', 'not stated')}",
        f"- run: {meta.get('replay_note', '')}",
        (
            f"- graph: config `{meta.get('config')}`, checkpoint `{meta.get('checkpoint')}`, "
            f"fusion mode `{meta.get('fusion_mode')}`"
        ),
        f"- ground truth: {meta.get('ground_truth') or 'none (no accuracy is claimed)'}",
        f"- machine: {meta.get('machine')}",
        *[f'- note: {n}' for n in meta.get('notes', [])],
        (
            f"- replay wall time {_fmt(meta.get('wall_seconds'))} s "
            f"({_fmt(meta.get('speed_x'))}x real time)"
        ),
        '',
    ]
    if 'per_bag' in report:
        lines += per_bag_markdown(report).splitlines() + ['']
    lines += [
        '| metric | value |',
        '| --- | --- |',
        (
            f"| label coverage | {_fmt(m['coverage'], True)} ({m['labelled_windows']} of"
            f" {m['windows']} windows) |"
        ),
        f"| accuracy | {_fmt(m['accuracy'], True)} ({m['scored_windows']} scored windows) |",
        f"| macro-F1 | {_fmt(m['macro_f1'], digits=3)} |",
        f"| weighted F1 | {_fmt(m['weighted_f1'], digits=3)} |",
    ]
    lat = m['latency_ms']
    lines += [f"| latency p{q} | {_fmt(lat[f'p{q}'])} ms |" for q in LATENCY_QS]
    lines += [f"| latency max | {_fmt(lat['max'])} ms |", '']
    lines += [f"Latency: {meta.get('latency_note', '')}", '']
    if m['predicted']:
        lines += [
            'Labels by class (first label of each window): '
            + ', '.join(f'{k} {v}' for k, v in m['predicted'].items()),
            '',
        ]
    if m['truth_not_a_model_class']:
        lines += [
            (
                'Ground-truth classes the model does not know (not scored):'
                f" {', '.join(m['truth_not_a_model_class'])}"
            ),
            '',
        ]
    if m['per_class']:
        lines += [
            '| class | precision | recall | F1 | support |',
            '| --- | --- | --- | --- | --- |',
        ]
        for name, v in m['per_class'].items():
            if v['support'] == 0:  # no window of this class in the recording: nothing to score
                lines.append(f'| {name} | n/a | n/a | n/a | 0 |')
                continue
            lines.append(
                f"| {name} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} |"
                f" {v['support']} |"
            )
        lines += ['', '![confusion matrix](confusion.png)', '']
    lines += ['![latency CDF](latency_cdf.png)', '']
    if m.get('segments') is not None:
        lines += segments_markdown(m['segments']).splitlines() + ['']
    calibration = calibration_markdown(m)
    if calibration:
        lines += calibration.splitlines() + ['']
    events = m.get('events')
    if events and events.get('scored'):
        lines += events_markdown(events).splitlines() + ['']
    elif events is not None:
        lines += [f"Activity events: {events['events']} (no ground truth to score them).", '']
    if m.get('labelled_windows'):
        lines += ['![timeline: truth, labels, events, probabilities](timeline.png)', '']
    drops = report.get('drops', {})
    lines += ['## Drops by cause', '']
    if drops:
        lines += ['| where | cause | count |', '| --- | --- | --- |']
        for where, causes in sorted(drops.items()):
            for cause, n in sorted(causes.items()):
                lines.append(f'| {where} | {cause} | {n} |')
    else:
        lines.append('None reported.')
    lines.append('')
    return '\n'.join(lines)


def segments_markdown(seg: Mapping[str, Any]) -> str:
    """The "Segments" section: each ground-truth interval scored as a whole."""
    n = seg['segments']
    delay = seg['delay_s']
    lines = [
        '## Segments',
        '',
        'Each ground-truth interval is one segment, labelled with the class of the highest'
        ' summed probability over the windows centred in it; a segment none of whose windows got'
        ' a label counts as wrong. Detection delay: from the start of the segment to the end of'
        ' its first window labelled with its class.',
        '',
        '| metric | value |',
        '| --- | --- |',
        (
            f"| segment accuracy | {_fmt(seg['accuracy'], True)} ({n} segments,"
            f" {seg['segments_without_labels']} without a labelled window) |"
        ),
        (
            f"| accuracy, segments with labels | {_fmt(seg['accuracy_with_labels'], True)}"
            f" ({seg['segments_with_labels']} segments) |"
        ),
        f"| macro-F1 | {_fmt(seg['macro_f1'], digits=3)} |",
        (
            f"| detection delay p50 / p90 | {_fmt(delay['p50'], digits=2)} /"
            f" {_fmt(delay['p90'], digits=2)} s |"
        ),
        (
            f"| detected | {_fmt(seg['detected'], True)} ({seg['detected_segments']} of {n}"
            ' segments) |'
        ),
    ]
    unscored = []
    if seg['segments_without_windows']:
        unscored.append(
            f"{seg['segments_without_windows']} in which no window is centred (before the first"
            ' window, after the last, or shorter than a hop)'
        )
    if seg['segments_not_a_model_class']:
        unscored.append(
            f"{seg['segments_not_a_model_class']} of a class the model does not know"
        )
    if unscored:
        lines += ['', 'Not scored: ' + '; '.join(unscored) + '.']
    return '\n'.join(lines) + '\n'


def per_bag_markdown(report: Mapping[str, Any]) -> str:
    """The table of a report over several bags: a row per bag, then the total."""
    lines = [
        '| bag | windows | coverage | accuracy | macro-F1 | latency p50 | p99 | ground truth |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ]

    def row(name: str, m: Mapping[str, Any], truth: str) -> str:
        lat = m['latency_ms']
        return (
            f"| {name} | {m['windows']} | {_fmt(m['coverage'], True)} |"
            f" {_fmt(m['accuracy'], True)} | {_fmt(m['macro_f1'], digits=3)} | {_fmt(lat['p50'])}"
            f" ms | {_fmt(lat['p99'])} ms | {truth} |"
        )

    for entry in report['per_bag']:
        name = f"`{entry['bag']}`" + (' (PARTIAL)' if entry.get('partial') else '')
        lines.append(row(name, entry['metrics'], entry.get('ground_truth') or 'none'))
    lines.append(row('**total**', report['metrics'], ''))
    return '\n'.join(lines) + '\n'


def unwritable(out_dir: Path) -> Optional[str]:
    """Why no report can be written in ``out_dir`` (a read-only or full file system, a file
    in the way), or None if one can. Checked before any node starts; a folder made for the
    check is removed again, so a run that fails later leaves nothing behind."""
    made = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix='.write_check_') as probe:
            probe.write(b'x')
            probe.flush()
    except OSError as exc:
        return exc.strerror or str(exc)
    finally:
        for folder in made:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                pass
    return None


def write_report(
    out_dir: Path | str,
    outcomes: Sequence[WindowOutcome],
    classes: Sequence[str],
    meta: Mapping[str, Any],
    drops: Optional[Mapping[str, Mapping[str, int]]] = None,
    partial: bool = False,
    intervals: Optional[Sequence[Any]] = None,
    window_length: Optional[float] = None,
    events: Optional[Sequence[Mapping[str, Any]]] = None,
) -> Dict[str, Any]:
    """Scores the outcomes and writes every report file; returns the JSON report. With the
    ground-truth ``intervals`` and the ``window_length`` (s), the metrics score each interval
    as a segment too (:func:`score`). ``events``: the activity events the graph published
    (one record per event: label, start, end, decided, in s), scored against the intervals
    (``events`` in the report) and drawn on ``timeline.png`` with the windows."""
    segments = _segments(outcomes, classes, intervals, window_length)
    timeline = (outcomes, intervals or [], events or [])
    return _write(
        Path(out_dir),
        outcomes,
        classes,
        meta,
        drops,
        partial,
        segments,
        events_block=_events_block(events, intervals, classes),
        timeline=timeline,
    )


def _events_block(
    events: Optional[Sequence[Mapping[str, Any]]],
    intervals: Optional[Sequence[Any]],
    classes: Sequence[str],
) -> Optional[Dict[str, Any]]:
    """The events' scores against the truth; counts only without truth; None without
    events recorded (a graph that publishes none, or an old report)."""
    if events is None:
        return None
    if intervals is None:
        return {'events': len(events), 'scored': False}
    return {'events': len(events), 'scored': True, **score_events(events, intervals, classes)}


# Bags of a report over several are laid end to end this far apart (s) to pool their events
# and intervals in one scoring: no event of one bag can then overlap a truth of another.
_BAG_SPACING = 1e7


def write_bags_report(
    out_dir: Path | str,
    bags: Sequence[BagOutcomes],
    classes: Sequence[str],
    meta: Mapping[str, Any],
    drops: Optional[Mapping[str, Mapping[str, int]]] = None,
    partial: bool = False,
    window_length: Optional[float] = None,
) -> Dict[str, Any]:
    """The report over several bags: every file of :func:`write_report` over all their
    windows, plus ``per_bag`` (each bag's info and its own metrics) and a ``bag`` column.
    The segments of the bags with ground truth (``BagOutcomes.intervals``) are pooled, each
    scored against its own bag's windows: bags may share stamps."""
    per_bag = []
    pooled: Optional[List[SegmentOutcome]] = None
    pooled_events: Optional[List[Dict[str, Any]]] = None
    pooled_truth: List[Any] = []
    for i, b in enumerate(bags):
        segments = _segments(b.outcomes, classes, b.intervals, window_length)
        metrics = _score(b.outcomes, classes, segments, _threshold(meta))
        block = _events_block(b.events, b.intervals, classes)
        if block is not None:
            metrics['events'] = block
        per_bag.append({'bag': b.bag, **dict(b.info), 'metrics': metrics})
        if segments is not None:
            pooled = (pooled or []) + segments
        if b.events is not None and b.intervals is not None:
            shift = i * _BAG_SPACING
            pooled_events = (pooled_events or []) + [
                {**e, **{k: e[k] + shift for k in ('start', 'end', 'decided') if k in e}}
                for e in b.events
            ]
            pooled_truth += [_Span(t.start + shift, t.end + shift, t.label) for t in b.intervals]
    outcomes = [o for b in bags for o in b.outcomes]
    column = [b.bag for b in bags for _ in b.outcomes]
    first = bags[0] if bags else None
    return _write(
        Path(out_dir),
        outcomes,
        classes,
        meta,
        drops,
        partial,
        pooled,
        per_bag,
        column,
        events_block=_events_block(pooled_events, pooled_truth or None, classes),
        timeline=(first.outcomes, first.intervals or [], first.events or []) if first else None,
    )


@dataclass
class _Span:
    start: float
    end: float
    label: str


def _write(
    out: Path,
    outcomes: Sequence[WindowOutcome],
    classes: Sequence[str],
    meta: Mapping[str, Any],
    drops: Optional[Mapping[str, Mapping[str, int]]],
    partial: bool,
    segments: Optional[Sequence[SegmentOutcome]],
    per_bag: Optional[List[Dict[str, Any]]] = None,
    bag_column: Optional[Sequence[str]] = None,
    events_block: Optional[Dict[str, Any]] = None,
    timeline: Optional[Tuple[Sequence[Any], Sequence[Any], Sequence[Any]]] = None,
) -> Dict[str, Any]:
    """Both reports: ``per_bag`` and ``bag_column`` (each window's bag) only over several bags,
    so that a single bag's report stays as it always was. ``timeline``: the windows, truth
    intervals and events drawn on ``timeline.png`` (over several bags: the first bag's)."""
    out.mkdir(parents=True, exist_ok=True)
    metrics = _score(outcomes, classes, segments, _threshold(meta))
    if events_block is not None:
        metrics['events'] = events_block
    report: Dict[str, Any] = {'partial': bool(partial), 'meta': dict(meta), 'metrics': metrics}
    if per_bag is not None:
        report['per_bag'] = per_bag
    report['drops'] = {k: dict(v) for k, v in (drops or {}).items() if v}
    # Old figures from an earlier run must not sit beside a report that has none.
    for stale in ('confusion.png', 'latency_cdf.png', 'coverage.png', 'timeline.png'):
        (out / stale).unlink(missing_ok=True)
    # A probability vector would not fit a CSV cell; the columns stay as they were.
    fields = [f for f in WindowOutcome.__dataclass_fields__ if f != 'probabilities']
    with (out / 'windows.csv').open('w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=(['bag'] if bag_column is not None else []) + fields)
        writer.writeheader()
        for i, o in enumerate(outcomes):
            row = {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(o).items()}
            row.pop('probabilities')
            writer.writerow({'bag': bag_column[i], **row} if bag_column is not None else row)
    tag = ' (PARTIAL)' if partial else ''
    if metrics['confusion_matrix'] is not None:
        plot_confusion(
            metrics['confusion_matrix'],
            metrics['classes'],
            out / 'confusion.png',
            f"{Path(str(meta.get('bag', ''))).name}: accuracy {_fmt(metrics['accuracy'], True)}, "
            f"macro-F1 {_fmt(metrics['macro_f1'], digits=3)}{tag}",
        )
    plot_latency_cdf(
        {
            str(meta.get('fusion_mode', 'labels')): [
                o.latency_ms for o in outcomes if o.label is not None
            ]
        },
        out / 'latency_cdf.png',
        f"{meta.get('latency_title', 'Label latency')}{tag}",
    )
    if metrics['calibration'] is not None:
        plot_coverage(
            metrics['calibration']['curve'],
            metrics['calibration']['chosen'],
            out / 'coverage.png',
            f"{Path(str(meta.get('bag', ''))).name}: accuracy against coverage, ECE"
            f" {metrics['calibration']['ece']:.3f}{tag}",
        )
    (out / 'events.csv').unlink(missing_ok=True)
    if timeline is not None and timeline[2]:
        keys = ('label', 'start', 'end', 'decided', 'state', 'confidence')
        with (out / 'events.csv').open('w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=keys, extrasaction='ignore')
            writer.writeheader()
            for event in timeline[2]:
                writer.writerow(
                    {k: round(v, 6) if isinstance(v, float) else v for k, v in event.items()}
                )
    if timeline is not None and any(o.label is not None for o in timeline[0]):
        plot_timeline(
            out / 'timeline.png',
            timeline[1],
            timeline[0],
            timeline[2],
            classes,
            f"{Path(str(meta.get('bag', ''))).name}: truth, labels, events and probabilities"
            f'{tag}',
        )
    (out / 'report.json').write_text(json.dumps(report, indent=2, default=_json_default))
    (out / 'report.md').write_text(markdown(report))
    return report


def _json_default(x: Any) -> Any:
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f'not JSON serializable: {type(x).__name__}')


def compare_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """One table over several runs on the same bag (``--compare``)."""
    lines = [
        '| run | coverage | accuracy | macro-F1 | latency p50 | p99 | drops | partial |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ]
    for r in rows:
        m = r['metrics']
        drops = sum(sum(c.values()) for c in r.get('drops', {}).values())
        lines.append(
            f"| {r['name']} | {_fmt(m['coverage'], True)} | {_fmt(m['accuracy'], True)} | "
            f"{_fmt(m['macro_f1'], digits=3)} | {_fmt(m['latency_ms']['p50'])} ms | "
            f"{_fmt(m['latency_ms']['p99'])} ms | {drops} | {'yes' if r['partial'] else 'no'} |"
        )
    return '\n'.join(lines) + '\n'


def latency_series(reports: Mapping[str, List[float]], path: Path | str) -> Path:
    return plot_latency_cdf(reports, path, 'Label latency by run')
