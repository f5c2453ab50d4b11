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

"""What labelled bags hold before anything is trained on them (``hybrid-fusion inspect``).

Per bag, each sensor topic's timeline (``core/timeline.py``: the rate measured within
continuous runs, the pauses between runs, the samples lost inside them), read from the
messages' header stamps in one streaming pass; the ground truth found by the same rules as
training (``plan_bag``: ``--truth``, ``<bag>.labels.csv``, or a label topic) summarised per
class; and warnings a user can act on, each naming the bag, topic or class and the fix.

Windows per class are estimated, not cut: a grid window ``[end - length, end)`` counts for
the class labelled at its centre when, for every input, the runs cover at least ``min_fill``
of it (the windower keeps a window holding that share of its expected samples). Samples lost
inside runs and the rule that a stream's first window starts at its first sample are left
out, so the figure can be a window or two per run above what training gets.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
import re
import struct
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.core.timeline import Timeline
from hybrid_fusion_ros.core.windows import derive_window
from hybrid_fusion_ros.core.windows import WindowSpec
from .plan import AUDIO
from .plan import DEFAULT_TRUTH_TOPIC
from .plan import inputs_from_map
from .plan import parse_target
from .plan import plan_bag
from .plan import sensor_type_of
from .plan import sidecar_truth_path
from .truth import GroundTruth
from .truth import GroundTruthError
from ..bags.bag import BagError
from ..bags.bag import decode
from ..bags.bag import open_reader
from ..bags.bag import read_messages
from ..bags.bag import topics_and_types
from ..bags.bag import typestore

HEADER = 'std_msgs/msg/Header'
# builtin_interfaces/Time at the start of a CDR message whose first field is a Header, after
# the 4-byte encapsulation header: little- or big-endian by its second byte.
_STAMP = {1: struct.Struct('<iI'), 0: struct.Struct('>iI')}
LOSS_WARNING = 0.01  # a stream losing more than this share of its samples inside runs
SEGMENT_QUANTILE = 10  # the window length suggested: this percentile of segment lengths


# --- stamps --------------------------------------------------------------------------------------
@dataclass
class StreamStamps:
    """One topic's message stamps as read from a bag (``samples``: per message, for audio)."""

    topic: str
    msgtype: str
    stamps: array = field(default_factory=lambda: array('d'))
    samples: Optional[array] = None
    from_receive_time: int = 0  # messages with no header stamp: the recorder's receive time
    unreadable: int = 0  # messages the encoder node would refuse (a malformed audio chunk)
    declared_rate: Optional[float] = None  # what the messages say (an audio sample rate)

    def timeline(self) -> Timeline:
        return Timeline.from_stamps(
            np.frombuffer(self.stamps, dtype=np.float64),
            None if self.samples is None else np.frombuffer(self.samples, dtype=np.int64),
        )


def _has_header(msgtype: str) -> bool:
    fields = typestore().fielddefs.get(msgtype, ((), ()))[1]
    return bool(fields) and fields[0][1][1] == HEADER


def sensor_topics(topics: Mapping[str, Tuple[str, int]]) -> List[str]:
    """The topics of a message type that some sensor input reads."""
    return sorted(t for t, (msgtype, _) in topics.items() if sensor_type_of(msgtype))


def read_stamps(
    bag: Path | str, topics: Optional[Iterable[str]] = None, limit: Optional[int] = None
) -> Dict[str, StreamStamps]:
    """Every message stamp of ``topics`` (None: every sensor topic) in one pass over the bag,
    keeping only the stamps (8 bytes a message), never the messages.

    A message whose first field is a Header gives its header stamp, read in place from its
    CDR bytes; an audio chunk is converted as the encoder node converts it
    (``conversions.audio_to_samples``) for its first sample's stamp and its sample count. A
    message with no header, or a zero stamp (a driver that never set it), is timed by the
    bag's receive time and counted in ``from_receive_time``. With ``limit``, reading stops
    once every topic has that many stamps (enough for a rate, not for a timeline)."""
    from hybrid_fusion_ros.ros import conversions as conv

    reader = open_reader(bag)
    try:
        types = topics_and_types(reader)
        wanted = sensor_topics(types) if topics is None else list(topics)
        missing = [t for t in wanted if t not in types]
        if missing:
            raise BagError(f'{Path(bag).name}: no topic(s) {", ".join(missing)}')
        out = {t: StreamStamps(t, types[t][0]) for t in wanted}
        headed = {t: _has_header(types[t][0]) for t in wanted}
        for s in out.values():
            if s.msgtype == AUDIO:
                s.samples = array('q')
        for msg in read_messages(reader, wanted):
            stream = out[msg.topic]
            stamp, count = None, 1
            if msg.msgtype == AUDIO:
                chunk = decode(msg)
                try:
                    stamps, samples = conv.audio_to_samples(chunk)
                except conv.InputError:
                    stream.unreadable += 1
                    continue
                stamp, count = float(stamps[0]), int(samples.size)
                stream.declared_rate = float(chunk.sample_rate)
                if not (chunk.header.stamp.sec or chunk.header.stamp.nanosec):
                    stamp = None
            elif headed[msg.topic] and len(msg.data) >= 12 and msg.data[1] in _STAMP:
                sec, nanosec = _STAMP[msg.data[1]].unpack_from(msg.data, 4)
                if sec or nanosec:
                    stamp = sec + nanosec * 1e-9
            if stamp is None:
                stream.from_receive_time += 1
                stamp = msg.log_time_ns * 1e-9
            stream.stamps.append(stamp)
            if stream.samples is not None:
                stream.samples.append(count)
            if limit is not None and all(len(x.stamps) >= limit for x in out.values()):
                break
    finally:
        reader.close()
    return out


def bag_timelines(
    bag: Path | str, topics: Optional[Iterable[str]] = None, limit: Optional[int] = None
) -> Dict[str, Timeline]:
    """Per topic (None: every sensor topic), the :class:`Timeline` of its header stamps, read
    in one streaming pass (see :func:`read_stamps`; ``limit``: of the first stamps only)."""
    return {t: s.timeline() for t, s in read_stamps(bag, topics, limit).items()}


# --- ground truth against the data ---------------------------------------------------------------
def window_ends_for(
    interval_start: float, interval_end: float, spec: WindowSpec
) -> np.ndarray:
    """Grid window ends whose window's centre lies in ``[interval_start, interval_end)``."""
    half = spec.length / 2
    # Stamps are epoch seconds (~1.7e9 / hop): a tolerance above float rounding there.
    first = np.ceil((interval_start + half) / spec.hop - 1e-6)
    last = np.ceil((interval_end + half) / spec.hop - 1e-6) - 1
    return np.arange(first, last + 1) * spec.hop


def covered_windows(
    ends: np.ndarray, timelines: Sequence[Timeline], spec: WindowSpec
) -> np.ndarray:
    """Which windows ending at ``ends`` every timeline covers for ``min_fill`` of their length."""
    keep = np.ones(len(ends), dtype=bool)
    for tl in timelines:
        keep &= tl.coverage(ends - spec.length, ends) >= spec.min_fill * spec.length - 1e-9
    return keep


def _quantiles(lengths: Sequence[float]) -> Dict[str, Optional[float]]:
    if not len(lengths):
        return {'length_min': None, 'length_median': None, 'length_max': None}
    arr = np.asarray(lengths, dtype=np.float64)
    return {
        'length_min': float(arr.min()),
        'length_median': float(np.median(arr)),
        'length_max': float(arr.max()),
    }


def class_summary(
    truth: GroundTruth, timelines: Mapping[str, Timeline], spec: WindowSpec
) -> Dict[str, Dict[str, Any]]:
    """Per class: its labelled intervals, their lengths, the windows it would give, and the
    intervals holding no data of some input (``uncovered``: input -> interval starts)."""
    out: Dict[str, Dict[str, Any]] = {}
    for iv in truth.intervals:
        c = out.setdefault(iv.label, {'lengths': [], 'windows': 0, 'uncovered': {}})
        # Microseconds: epoch stamps carry float noise below that.
        c['lengths'].append(round(iv.end - iv.start, 6))
        if timelines:  # no input, no data: no window
            ends = window_ends_for(iv.start, iv.end, spec)
            c['windows'] += int(covered_windows(ends, list(timelines.values()), spec).sum())
        for key, tl in timelines.items():
            if tl.coverage([iv.start], [iv.end])[0] <= 0.0:
                c['uncovered'].setdefault(key, []).append(iv.start)
    for c in out.values():
        c['intervals'] = len(c['lengths'])
        c['seconds'] = float(sum(c['lengths']))
        c.update(_quantiles(c['lengths']))
    return dict(sorted(out.items()))


# --- warnings ------------------------------------------------------------------------------------
def warning(kind: str, message: str, fix: str, **where: Any) -> Dict[str, Any]:
    """One warning: what is wrong (naming the bag, topic, class), and what to do about it."""
    placed = {k: v for k, v in where.items() if v is not None}
    return {'kind': kind, **placed, 'message': message, 'fix': fix}


def suggest_window(lengths: Sequence[float], spec: WindowSpec) -> Tuple[Optional[float], str]:
    """A window length most labelled segments hold whole, and why: the 10th percentile of
    their lengths, rounded down to 0.1 s; when that is no shorter than the window (only a few
    segments are short), the shortest segment's length, rounded down. None under 0.1 s."""
    if not len(lengths):
        return None, ''
    arr = np.asarray(lengths, dtype=np.float64)
    length = float(np.percentile(arr, SEGMENT_QUANTILE))
    why = f'{100 - SEGMENT_QUANTILE}% of the labelled segments are at least that long'
    if length >= spec.length:
        length, why = float(arr.min()), 'every labelled segment is at least that long'
    length = float(np.floor(round(length, 6) * 10) / 10)
    return (length, why) if length >= 0.1 else (None, '')


def group_of(name: str, pattern: Optional[str]) -> Optional[str]:
    """A bag's group as training's ``--group-by`` reads it: the regex's first group (or whole
    match) on the bag's name; no regex: the bag itself; None when the regex does not match."""
    if not pattern:
        return name
    m = re.search(pattern, name)
    if m is None:
        return None
    return m.group(1) if m.groups() else m.group(0)


# --- a bag ---------------------------------------------------------------------------------------
@dataclass
class BagInspection:
    """What one bag holds: its inputs' timelines, its ground truth per class, its problems."""

    bag: Path
    group: str
    seconds: float = 0.0
    start: float = 0.0
    inputs: Dict[str, Tuple[str, str, str]] = field(default_factory=dict)  # key: topic, name, type
    streams: Dict[str, StreamStamps] = field(default_factory=dict)
    timelines: Dict[str, Timeline] = field(default_factory=dict)
    truth_source: Optional[str] = None
    truth_error: Optional[str] = None  # why the labels found cannot be used
    classes: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    warnings: List[Dict[str, Any]] = field(default_factory=list)
    readable: bool = True

    def to_dict(self) -> Dict[str, Any]:
        topics = {}
        for key, (topic, name, sensor_type) in self.inputs.items():
            stream = self.streams[key]
            topics[topic] = {
                'input': name or None,
                'sensor_type': sensor_type,
                'msgtype': stream.msgtype,
                'from_receive_time': stream.from_receive_time,
                'unreadable': stream.unreadable,
                'declared_rate_hz': stream.declared_rate,
                **self.timelines[key].to_dict(),
            }
        return {
            'bag': str(self.bag),
            'name': self.bag.name,
            'group': self.group,
            'readable': self.readable,
            'seconds': self.seconds,
            'start': self.start,
            'truth_source': self.truth_source,
            'truth_error': self.truth_error,
            'topics': topics,
            'classes': {
                label: {
                    'intervals': c['intervals'],
                    'seconds': c['seconds'],
                    'length_min': c['length_min'],
                    'length_median': c['length_median'],
                    'length_max': c['length_max'],
                    'windows': c['windows'],
                    'lengths': c['lengths'],
                }
                for label, c in self.classes.items()
            },
        }


def _split_map(user_map: Mapping[str, str]) -> Tuple[Dict[str, str], Dict[str, str]]:
    """``--map`` entries naming a sensor input, and those naming the ground truth."""
    sensors, truth = {}, {}
    for src, dst in user_map.items():
        if parse_target(dst)[0] == 'ground_truth' or dst == DEFAULT_TRUTH_TOPIC:
            truth[src] = dst
        else:
            sensors[src] = dst
    return sensors, truth


def inspect_bag(
    bag: Path,
    user_map: Mapping[str, str],
    truth_file: Optional[Path],
    spec: WindowSpec,
    group: str,
) -> BagInspection:
    """Read one bag (its index, its labels, then one pass over its sensor topics)."""
    result = BagInspection(bag, group)
    name = bag.name
    sensor_map, truth_map = _split_map(user_map)
    try:
        reader = open_reader(bag)
    except BagError as exc:
        result.readable = False
        result.warnings.append(
            warning('unreadable_bag', str(exc), 'check the path, or leave the bag out', bag=name)
        )
        return result
    try:
        topics = topics_and_types(reader)
        result.start = reader.start_time * 1e-9
        result.seconds = max(reader.end_time * 1e-9 - result.start, 0.0)
    finally:
        reader.close()
    for src, dst in {**sensor_map, **truth_map}.items():
        if src not in topics:
            what = 'labels' if src in truth_map else f"input '{parse_target(dst)[0]}'"
            result.warnings.append(
                warning(
                    'input_missing',
                    f'{name}: no topic {src} ({what})',
                    'record it, correct the --map topic, or leave the bag out: training stops '
                    'on a bag without one of its inputs',
                    bag=name,
                    topic=src,
                )
            )
    present = {s: d for s, d in sensor_map.items() if s in topics}
    if sensor_map:
        specs = inputs_from_map(topics, present, name) if present else []
        result.inputs = {s.topic: (s.topic, s.name, s.sensor_type) for s in specs}
    else:
        result.inputs = {
            t: (t, '', sensor_type_of(topics[t][0]) or '') for t in sensor_topics(topics)
        }
    truth: Optional[GroundTruth] = None
    try:
        plan = plan_bag(bag, [], {s: d for s, d in truth_map.items() if s in topics}, truth_file)
        truth, result.truth_source = plan.truth, plan.truth_source
    except GroundTruthError as exc:
        labels = truth_file or sidecar_truth_path(bag)
        result.truth_error = str(exc)
        result.warnings.append(
            warning(
                'labels_unusable',
                str(exc),
                f'correct {labels or "the label topic"}: intervals must not overlap, each '
                'needs a start, a later end and a label',
                bag=name,
                file=str(labels) if labels else None,
            )
        )
    if truth is None and result.truth_error is None:
        result.warnings.append(
            warning(
                'no_labels',
                f'{name}: no ground truth',
                f'put {name}.labels.csv (start,end,label) next to it, pass --truth FILE, or '
                'map a label topic with --map TOPIC:=ground_truth',
                bag=name,
            )
        )
    if result.inputs:
        result.streams = read_stamps(bag, list(result.inputs))
        result.timelines = {k: s.timeline() for k, s in result.streams.items()}
    for key, stream in result.streams.items():
        tl = result.timelines[key]
        if tl.lost_fraction > LOSS_WARNING:
            result.warnings.append(
                warning(
                    'loss_in_runs',
                    f'{name}: {key}: about {tl.lost} samples ({100 * tl.lost_fraction:.1f}%) '
                    f'lost inside continuous runs, over {tl.gaps} gaps',
                    'record with a reliable QoS profile, or check the driver and the bandwidth',
                    bag=name,
                    topic=key,
                )
            )
        if stream.from_receive_time:
            result.warnings.append(
                warning(
                    'no_header_stamp',
                    f'{name}: {key}: {stream.from_receive_time} message(s) carry no header '
                    "stamp: timed by the recorder's receive time",
                    'have the driver stamp its messages (header.stamp at capture time)',
                    bag=name,
                    topic=key,
                )
            )
    if truth is not None:
        result.classes = class_summary(truth, result.timelines, spec)
        for label, c in result.classes.items():
            for key, starts in c['uncovered'].items():
                result.warnings.append(
                    warning(
                        'labels_without_data',
                        f"{name}: {len(starts)} '{label}' interval(s) hold no data of {key} "
                        f'(the first at {starts[0] - result.start:.2f} s after the bag start)',
                        'check the label times against the recording: sidecar times are '
                        "seconds from the bag's first message, or absolute stamps (> 1e9)",
                        bag=name,
                        topic=key,
                        label=label,
                    )
                )
    return result


# --- bags ----------------------------------------------------------------------------------------
def _short_segment_warnings(
    bags: Sequence[BagInspection], spec: WindowSpec
) -> List[Dict[str, Any]]:
    lengths = [x for b in bags for c in b.classes.values() for x in c['lengths']]
    suggested, why = suggest_window(lengths, spec)
    derived, derived_why = derive_window(lengths, spec)
    if derived.length < spec.length:
        # What `hybrid-fusion train` does by itself when no window is set: say so.
        suggested, why = derived.length, f'what train chooses by itself: {derived_why}'
    out = []
    for b in bags:
        for label, c in b.classes.items():
            short = [x for x in c['lengths'] if x < spec.length]
            if not short:
                continue
            if suggested is not None and suggested < spec.length:
                fix = (
                    f'train with shorter windows, e.g. --window-length {suggested:g} '
                    f'--window-hop {suggested / 2:g} ({why})'
                )
            else:
                fix = "check these segments' labels, or merge them with their neighbours"
            out.append(
                warning(
                    'short_segments',
                    f"{b.bag.name}: class '{label}': {len(short)} of {c['intervals']} "
                    f'segment(s) shorter than the {spec.length:g} s window (shortest '
                    f'{min(short):.2f} s): its windows reach past it, into silence or another '
                    'class',
                    fix,
                    bag=b.bag.name,
                    label=label,
                    suggested_window_length=suggested,
                )
            )
    if len(out) > 5:
        # Many bags of short takes: one line per class, not one per bag and class.
        pooled: Dict[str, List[Dict[str, Any]]] = {}
        for w in out:
            pooled.setdefault(w['label'], []).append(w)
        fix = out[0]['fix']
        out = [
            warning(
                'short_segments',
                f"class '{label}': segments shorter than the {spec.length:g} s window in"
                f' {len(ws)} bag(s) ({", ".join(w["bag"] for w in ws[:3])}'
                f'{" ..." if len(ws) > 3 else ""})',
                fix,
                label=label,
                bags=[w['bag'] for w in ws],
                suggested_window_length=suggested,
            )
            for label, ws in sorted(pooled.items())
        ]
    return out


def _pooled(bags: Sequence[BagInspection]) -> Dict[str, Any]:
    """Facts over every bag: per input (name, else topic) and per class."""
    inputs: Dict[str, Dict[str, Any]] = {}
    for b in bags:
        for key, (topic, name, sensor_type) in b.inputs.items():
            tl = b.timelines[key]
            p = inputs.setdefault(
                name or topic,
                {
                    'sensor_type': sensor_type,
                    'bags': [],
                    'rates_hz': [],
                    'runs': 0,
                    'pauses': 0,
                    'paused_seconds': 0.0,
                    'lost_samples': 0,
                    'samples': 0,
                },
            )
            p['bags'].append(b.bag.name)
            if tl.rate is not None:
                p['rates_hz'].append(tl.rate)
            p['runs'] += len(tl.runs)
            p['pauses'] += len(tl.pauses)
            p['paused_seconds'] += tl.paused_seconds
            p['lost_samples'] += tl.lost
            p['samples'] += tl.samples
    for p in inputs.values():
        rates = p.pop('rates_hz')
        p['rate_hz_min'] = min(rates) if rates else None
        p['rate_hz_max'] = max(rates) if rates else None
    classes: Dict[str, Dict[str, Any]] = {}
    for b in bags:
        for label, c in b.classes.items():
            p = classes.setdefault(
                label, {'bags': [], 'groups': [], 'lengths': [], 'windows': 0}
            )
            p['bags'].append(b.bag.name)
            if b.group not in p['groups']:
                p['groups'].append(b.group)
            p['lengths'] += c['lengths']
            p['windows'] += c['windows']
    for p in classes.values():
        p['intervals'] = len(p['lengths'])
        p.update(_quantiles(p.pop('lengths')))
    groups = sorted({b.group for b in bags if b.readable})
    return {
        'bags': sum(b.readable for b in bags),
        'groups': groups,
        'inputs': inputs,
        'classes': dict(sorted(classes.items())),
    }


def _pooled_warnings(
    bags: Sequence[BagInspection], pooled: Mapping[str, Any], mapped: bool
) -> List[Dict[str, Any]]:
    out = []
    readable = [b for b in bags if b.readable]
    if not mapped and len(readable) > 1:
        # Without --map every sensor topic is an input: one some bags lack stops training.
        every = sorted({t for b in readable for t in b.inputs})
        for b in readable:
            lacks = [t for t in every if t not in b.inputs]
            if lacks:
                out.append(
                    warning(
                        'input_missing',
                        f'{b.bag.name}: no topic {", ".join(lacks)}, which other bags have',
                        'map only the topics every bag has (--map TOPIC:=INPUT), or leave '
                        'the bag out',
                        bag=b.bag.name,
                        topic=lacks,
                    )
                )
    groups = pooled['groups']
    if len(groups) == 1 and pooled['classes']:
        out.append(
            warning(
                'single_group',
                f'every bag is in one group ({groups[0]}): no class can be split by recording',
                'add recordings of another session or subject (with --group-by, of another '
                'group), or give validation bags with --val',
                group=groups[0],
            )
        )
    elif len(groups) > 1:
        for label, p in pooled['classes'].items():
            if len(p['groups']) == 1:
                out.append(
                    warning(
                        'class_in_one_group',
                        f"class '{label}' is only in group {p['groups'][0]} (bag(s) "
                        f"{', '.join(p['bags'])}): a split by recording puts all of it on "
                        'one side',
                        'record it in another session or subject, or leave the class out',
                        label=label,
                        group=p['groups'][0],
                    )
                )
    for label, p in pooled['classes'].items():
        if p['windows'] == 0:
            out.append(
                warning(
                    'class_without_windows',
                    f"class '{label}' gives no window: no data covers its segments for the "
                    'window length',
                    'see the warnings above on its segments; shorter windows may keep it',
                    label=label,
                )
            )
    return out


def inspect_bags(
    bags: Sequence[Path],
    user_map: Optional[Mapping[str, str]] = None,
    truth_file: Optional[Path] = None,
    spec: WindowSpec = WindowSpec(),
    group_by: Optional[str] = None,
) -> Dict[str, Any]:
    """Inspect every bag; returns the facts as plain data (what ``--json`` writes): the window
    spec, each bag, the pooled figures and the warnings."""
    if truth_file is not None and len(bags) > 1:
        raise BagError(
            '--truth gives the labels of a single bag; put <bag>.labels.csv next to each bag '
            'instead'
        )
    results = []
    warnings: List[Dict[str, Any]] = []
    for bag in bags:
        bag = Path(bag)
        group = group_of(bag.name, group_by)
        if group is None:
            warnings.append(
                warning(
                    'group_not_matched',
                    f"{bag.name}: --group-by '{group_by}' does not match its name",
                    'correct the regex: training stops on a bag it does not match',
                    bag=bag.name,
                )
            )
            group = bag.name
        result = inspect_bag(bag, user_map or {}, truth_file, spec, group)
        results.append(result)
        warnings += result.warnings
    pooled = _pooled(results)
    warnings += _short_segment_warnings(results, spec)
    warnings += _pooled_warnings(results, pooled, bool(user_map))
    return {
        'window': {'length': spec.length, 'hop': spec.hop, 'min_fill': spec.min_fill},
        'bags': [r.to_dict() for r in results],
        'pooled': pooled,
        'warnings': warnings,
    }


# --- text ----------------------------------------------------------------------------------------
def _s(value: Optional[float], unit: str = ' s', digits: int = 2) -> str:
    return '-' if value is None else f'{value:.{digits}f}{unit}'


def _table(rows: List[List[str]], left: int = 1) -> List[str]:
    """Rows as aligned columns: the first ``left`` ones (names) to the left, figures right."""
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    return [
        '  '
        + '  '.join(
            cell.ljust(w) if k < left else cell.rjust(w)
            for k, (cell, w) in enumerate(zip(r, widths))
        ).rstrip()
        for r in rows
    ]


def _class_rows(
    classes: Mapping[str, Mapping[str, Any]], spec: Mapping[str, float], with_bags: bool
) -> List[List[str]]:
    rows = [
        [
            'class',
            *(['bags'] if with_bags else []),
            'intervals',
            'length min / median / max',
            f'windows ({spec["length"]:g} s, hop {spec["hop"]:g} s)',
        ]
    ]
    for label, c in classes.items():
        rows.append(
            [
                label,
                *([str(len(c['bags']))] if with_bags else []),
                str(c['intervals']),
                f"{_s(c['length_min'], '')} / {_s(c['length_median'], '')} / "
                f"{_s(c['length_max'])}",
                str(c['windows']),
            ]
        )
    return rows


def format_report(facts: Mapping[str, Any]) -> str:
    """The facts of :func:`inspect_bags` as text: per bag, then pooled, then the warnings."""
    lines: List[str] = []
    spec = facts['window']
    for b in facts['bags']:
        if not b['readable']:
            lines.append(f"bag {b['name']}: cannot be read (see the warnings)")
            continue
        labels = b['truth_source'] or ('unusable' if b['truth_error'] else 'none')
        lines.append(
            f"bag {b['name']} ({b['seconds']:.1f} s; group {b['group']}; labels: {labels})"
        )
        if b['topics']:
            rows = [
                [
                    'topic',
                    'input',
                    'type',
                    'rate',
                    'runs',
                    'pauses',
                    'paused',
                    'median pause',
                    'lost in runs',
                ]
            ]
            for topic, t in b['topics'].items():
                rows.append(
                    [
                        topic,
                        t['input'] or '-',
                        t['sensor_type'],
                        _s(t['rate_hz'], ' Hz'),
                        str(t['run_count']),
                        str(t['pause_count']),
                        _s(t['paused_seconds'], ' s', 1),
                        _s(t['median_pause_s']),
                        f"{t['lost_samples']} ({100 * t['lost_fraction']:.2f}%)",
                    ]
                )
            lines += _table(rows, left=3)
        else:
            lines.append('  no sensor topic to inspect')
        if b['classes']:
            lines += _table(_class_rows(b['classes'], spec, False))
        lines.append('')
    pooled = facts['pooled']
    if len(facts['bags']) > 1:
        lines.append(f"all {pooled['bags']} bags ({len(pooled['groups'])} group(s)):")
        if pooled['inputs']:
            rows = [
                ['input', 'type', 'bags', 'rate min - max', 'runs', 'pauses', 'paused', 'lost']
            ]
            for key, p in pooled['inputs'].items():
                lost = p['lost_samples'] / max(p['samples'] + p['lost_samples'], 1)
                rows.append(
                    [
                        key,
                        p['sensor_type'],
                        str(len(p['bags'])),
                        f"{_s(p['rate_hz_min'], '')} - {_s(p['rate_hz_max'], ' Hz')}",
                        str(p['runs']),
                        str(p['pauses']),
                        _s(p['paused_seconds'], ' s', 1),
                        f"{p['lost_samples']} ({100 * lost:.2f}%)",
                    ]
                )
            lines += _table(rows, left=2)
        if pooled['classes']:
            lines += _table(_class_rows(pooled['classes'], spec, True))
        lines.append('')
    warnings = facts['warnings']
    if warnings:
        lines.append(f'WARNINGS ({len(warnings)})')
        for w in warnings:
            lines.append(f"  - {w['message']}")
            lines.append(f"    fix: {w['fix']}")
    else:
        lines.append('no warnings')
    return '\n'.join(lines)
