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

"""Which of a bag's topics feed which input of a model, and what the ground truth is. Shared
by replay evaluation and training from recordings, so both read a bag the same way.

``--map SRC:=DST`` names a bag topic (SRC) and what it is (DST):

- an input of the model by name (``wrist_imu``), optionally with its sensor type
  (``wrist_imu:imu``; training from recordings declares its inputs this way);
- a sensor type (``camera``, ``imu``, ``audio``) when the model has one input of that type;
- ``ground_truth``, or a graph topic such as ``/imu/data``.

Unmapped, an input is looked for under the topic it was trained from, then under the graph's
own topic name. A bag that lacks a needed input gets an error listing its topics and types
and the ``--map`` arguments that would fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from hybrid_fusion_ros.core.inputs import DEFAULT_ENCODERS
from hybrid_fusion_ros.core.inputs import InputSpecError
from hybrid_fusion_ros.core.inputs import ModelInput
from .truth import GroundTruth
from .truth import GroundTruthError
from ..bags.bag import BagError
from ..bags.bag import decode
from ..bags.bag import read_messages

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
IMU = 'sensor_msgs/msg/Imu'
AUDIO = 'hybrid_fusion_msgs/msg/AudioChunk'
LABEL = 'hybrid_fusion_msgs/msg/ActivityLabel'
STRING = 'std_msgs/msg/String'

# sensor type -> the message types an input of that type is read from
SENSOR_MESSAGES: Dict[str, Tuple[str, ...]] = {
    'camera': (IMAGE, COMPRESSED),
    'imu': (IMU,),
    'audio': (AUDIO,),
}
TRUTH_TYPES = (LABEL, STRING)
DEFAULT_TRUTH_TOPIC = '/activity_ground_truth'


@dataclass
class InputPlan:
    """``inputs``: input name -> (bag topic, type, graph topic); ``truth_topic``: a label topic
    of the bag used as ground truth (or None)."""

    inputs: Dict[str, Tuple[str, str, str]] = field(default_factory=dict)
    truth_topic: Optional[str] = None
    truth_type: Optional[str] = None

    @property
    def topic_map(self) -> Dict[str, str]:
        return {src: dst for src, _, dst in self.inputs.values()}


def _listing(topics: Mapping[str, Tuple[str, int]]) -> str:
    width = max((len(t) for t in topics), default=0)
    return '\n'.join(
        f'    {t:<{width}}  {ty}  ({n} messages)' for t, (ty, n) in sorted(topics.items())
    )


def graph_topic(spec: ModelInput, msgtype: str) -> str:
    """The absolute graph topic the input's encoder node reads messages of ``msgtype`` on."""
    return '/' + spec.graph_topic(compressed=msgtype == COMPRESSED)


def sensor_type_of(msgtype: str) -> Optional[str]:
    return next((t for t, types in SENSOR_MESSAGES.items() if msgtype in types), None)


def parse_target(dst: str) -> Tuple[str, Optional[str]]:
    """``NAME[:TYPE]`` -> (name, type or None)."""
    name, _, sensor_type = dst.partition(':')
    return name, (sensor_type or None)


def inputs_from_map(
    topics: Mapping[str, Tuple[str, int]], user_map: Mapping[str, str], bag_name: str = 'bag'
) -> List[ModelInput]:
    """The inputs a training run declares with ``--map TOPIC:=NAME[:TYPE]`` (the type defaults
    to the topic's message type's), in the order given."""
    out: Dict[str, ModelInput] = {}
    for src, dst in user_map.items():
        name, sensor_type = parse_target(dst)
        if name == 'ground_truth':
            continue
        if src not in topics:
            raise BagError(
                f'--map {src}:={dst}: {bag_name} has no topic {src}. Its'
                f' topics:\n{_listing(topics)}'
            )
        found = sensor_type_of(topics[src][0])
        sensor_type = sensor_type or found
        if sensor_type is None:
            readable = '; '.join(f'{t}: {" or ".join(m)}' for t, m in SENSOR_MESSAGES.items())
            raise BagError(
                f'--map {src}:={dst}: {src} is {topics[src][0]}, which no sensor type reads '
                f'({readable})'
            )
        if name in out:
            raise BagError(f"--map: input '{name}' is mapped twice")
        try:
            out[name] = ModelInput(name, sensor_type, DEFAULT_ENCODERS.get(sensor_type, ''), src)
        except InputSpecError as exc:
            raise BagError(f'--map {src}:={dst}: {exc}') from exc
    if not out:
        raise BagError(
            'no inputs: name each sensor topic with --map TOPIC:=NAME[:TYPE], e.g. '
            '--map /robot/wrist/imu:=wrist_imu:imu'
        )
    return list(out.values())


def _target_input(dst: str, inputs: Sequence[ModelInput]) -> Optional[str]:
    """The input (or 'ground_truth') a ``--map`` target names; None if it names nothing."""
    name, sensor_type = parse_target(dst)
    if name == 'ground_truth' or dst == DEFAULT_TRUTH_TOPIC:
        return 'ground_truth'
    by_name = {i.name: i for i in inputs}
    if name in by_name:
        if sensor_type and sensor_type != by_name[name].sensor_type:
            raise BagError(
                f"--map ...:={dst}: input '{name}' is of sensor type {by_name[name].sensor_type}, "
                f'not {sensor_type}'
            )
        return name
    of_type = [i.name for i in inputs if i.sensor_type == name]
    if len(of_type) == 1 and sensor_type is None:
        return of_type[0]
    for spec in inputs:
        if dst in {graph_topic(spec, t) for t in SENSOR_MESSAGES.get(spec.sensor_type, ())}:
            return spec.name
    return None


def plan_inputs(
    topics: Mapping[str, Tuple[str, int]],
    inputs: Sequence[ModelInput],
    user_map: Optional[Mapping[str, str]] = None,
    bag_name: str = 'bag',
) -> InputPlan:
    """Resolve every input (and the ground-truth topic) in a bag."""
    plan = InputPlan()
    chosen: Dict[str, str] = {}
    for src, dst in (user_map or {}).items():
        what = _target_input(dst, inputs)
        if what is None:
            raise BagError(
                f"--map {src}:={dst}: '{dst}' is not an input of the model "
                f'({", ".join(f"{i.name}: {i.sensor_type}" for i in inputs)}), ground_truth, '
                'or a graph input topic'
            )
        if src not in topics:
            raise BagError(
                f'--map {src}:={dst}: {bag_name} has no topic {src}. Its'
                f' topics:\n{_listing(topics)}'
            )
        if what in chosen:
            raise BagError(f'--map: {what} is mapped twice ({chosen[what]} and {src})')
        chosen[what] = src
    problems: List[ModelInput] = []
    for spec in inputs:
        accepted = SENSOR_MESSAGES.get(spec.sensor_type)
        if accepted is None:
            raise BagError(
                f"input '{spec.name}' is a {spec.sensor_type}, a sensor type that cannot be read "
                f'from a bag here (known: {sorted(SENSOR_MESSAGES)})'
            )
        src = chosen.get(spec.name)
        if src is None and spec.topic in topics:
            src = spec.topic  # the topic it was trained from: its type is checked below
        if src is None:
            candidates = [graph_topic(spec, t) for t in accepted]
            src = next((t for t in candidates if t in topics and topics[t][0] in accepted), None)
        if src is None:
            problems.append(spec)
            continue
        msgtype = topics[src][0]
        if msgtype not in accepted:
            raise BagError(
                f"{bag_name}: {src} is {msgtype}; input '{spec.name}' ({spec.sensor_type}) reads "
                f'{" or ".join(accepted)}'
            )
        plan.inputs[spec.name] = (src, msgtype, graph_topic(spec, msgtype))
    if problems:
        hints = []
        for spec in problems:
            fits = [
                t
                for t, (ty, _) in sorted(topics.items())
                if ty in SENSOR_MESSAGES[spec.sensor_type]
            ]
            hints.append(
                f'  {spec.name} ({spec.sensor_type}): '
                + (
                    ' or '.join(f'--map {t}:={spec.name}' for t in fits)
                    if fits
                    else f'no topic of type {" or ".join(SENSOR_MESSAGES[spec.sensor_type])}'
                )
            )
        raise BagError(
            f'{bag_name} lacks the input(s) {", ".join(p.name for p in problems)} the model needs.'
            f' Its topics:\n{_listing(topics)}\nWhat would fit:\n'
            + '\n'.join(hints)
        )
    truth = chosen.get('ground_truth')
    if (
        truth is None
        and DEFAULT_TRUTH_TOPIC in topics
        and topics[DEFAULT_TRUTH_TOPIC][0] in TRUTH_TYPES
    ):
        truth = DEFAULT_TRUTH_TOPIC
    if truth is not None:
        if topics[truth][0] not in TRUTH_TYPES:
            raise BagError(
                f'ground truth {truth} is {topics[truth][0]}; expected {" or ".join(TRUTH_TYPES)}'
            )
        plan.truth_topic, plan.truth_type = truth, topics[truth][0]
    return plan


def truth_from_bag(reader, topic: str, msgtype: str) -> GroundTruth:
    """Ground truth from a label topic: ActivityLabel (stamped) or std_msgs/String (at its
    log time)."""
    stamps, labels = [], []
    for msg in read_messages(reader, [topic]):
        m = decode(msg)
        if msgtype == LABEL:
            stamps.append(m.header.stamp.sec + m.header.stamp.nanosec * 1e-9)
            labels.append(m.label)
        else:
            stamps.append(msg.log_time_ns * 1e-9)
            labels.append(m.data)
    try:
        return GroundTruth.from_samples(stamps, labels, f'topic {topic}')
    except GroundTruthError as exc:
        raise BagError(str(exc)) from exc


def sidecar_truth_path(bag: Path) -> Optional[Path]:
    """``<bag>.labels.csv`` (or ``.labels.json``) next to the bag, if there is one."""
    for suffix in ('.labels.csv', '.labels.json'):
        path = bag.with_name(bag.name + suffix)
        if path.is_file():
            return path
    return None


@dataclass
class BagPlan:
    """A bag read for its index: which topic feeds which input, and the ground truth."""

    bag: Path
    topics: Dict[str, Tuple[str, int]]
    plan: InputPlan
    truth: Optional[GroundTruth]
    truth_source: Optional[str]
    start: float  # first and last log time, s
    end: float

    @property
    def seconds(self) -> float:
        return max(self.end - self.start, 1e-9)


def plan_bag(
    bag: Path | str,
    inputs: Optional[Sequence[ModelInput]],
    user_map: Optional[Mapping[str, str]] = None,
    truth_file: Optional[Path] = None,
) -> BagPlan:
    """Open ``bag``, resolve ``inputs`` (None: declare them from ``user_map``, as training from
    recordings does) and its ground truth: ``truth_file``, else ``<bag>.labels.csv`` next to
    it, else its label topic. Raises BagError / GroundTruthError naming the bag."""
    from ..bags.bag import open_reader
    from ..bags.bag import topics_and_types

    bag = Path(bag)
    reader = open_reader(bag)
    try:
        topics = topics_and_types(reader)
        if inputs is None:
            inputs = inputs_from_map(topics, user_map or {}, bag.name)
        plan = plan_inputs(topics, inputs, user_map, bag.name)
        start, end = reader.start_time * 1e-9, reader.end_time * 1e-9
        truth_file = truth_file or sidecar_truth_path(bag)
        try:
            if truth_file is not None:
                truth, source = (
                    GroundTruth.from_file(truth_file, start),
                    f'sidecar file {truth_file}',
                )
            elif plan.truth_topic is not None:
                truth, source = (
                    truth_from_bag(reader, plan.truth_topic, plan.truth_type),
                    f'topic {plan.truth_topic}',
                )
            else:
                truth, source = None, None
        except GroundTruthError as exc:
            raise GroundTruthError(f'{bag.name}: {exc}') from exc
    finally:
        reader.close()
    return BagPlan(bag, topics, plan, truth, source, start, end)
