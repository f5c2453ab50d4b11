"""Which of a bag's topics feed which graph input, and what the ground truth is.

``--map SRC:=DST`` names a bag topic (SRC) and what it is (DST): a modality (``camera``,
``imu``, ``audio``), ``ground_truth``, or a graph topic such as ``/imu/data``. Unmapped,
the graph's own topic names are looked for. A bag that lacks a needed input gets an error
listing its topics and types and the ``--map`` arguments that would fit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..bag import BagError, decode, read_messages
from .truth import GroundTruth, GroundTruthError

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED = 'sensor_msgs/msg/CompressedImage'
IMU = 'sensor_msgs/msg/Imu'
AUDIO = 'hybrid_fusion_msgs/msg/AudioChunk'
LABEL = 'hybrid_fusion_msgs/msg/ActivityLabel'
STRING = 'std_msgs/msg/String'

# modality -> accepted types -> the graph topic that type is published on
GRAPH_INPUTS: Dict[str, Dict[str, str]] = {
    'camera': {IMAGE: '/camera/image_raw', COMPRESSED: '/camera/image_raw/compressed'},
    'imu': {IMU: '/imu/data'},
    'audio': {AUDIO: '/audio/chunk'},
}
TRUTH_TYPES = (LABEL, STRING)
DEFAULT_TRUTH_TOPIC = '/activity_ground_truth'


@dataclass
class InputPlan:
    """``inputs``: modality -> (bag topic, type, graph topic); ``truth_topic``: a label topic
    of the bag used as ground truth (or None)."""
    inputs: Dict[str, Tuple[str, str, str]] = field(default_factory=dict)
    truth_topic: Optional[str] = None
    truth_type: Optional[str] = None

    @property
    def topic_map(self) -> Dict[str, str]:
        return {src: dst for src, _, dst in self.inputs.values()}


def _listing(topics: Mapping[str, Tuple[str, int]]) -> str:
    width = max((len(t) for t in topics), default=0)
    return '\n'.join(f'    {t:<{width}}  {ty}  ({n} messages)' for t, (ty, n) in sorted(topics.items()))


def _modality_of(dst: str) -> Optional[str]:
    if dst in GRAPH_INPUTS or dst == 'ground_truth':
        return dst
    for modality, types in GRAPH_INPUTS.items():
        if dst in types.values():
            return modality
    if dst == DEFAULT_TRUTH_TOPIC:
        return 'ground_truth'
    return None


def plan_inputs(topics: Mapping[str, Tuple[str, int]], modalities: Sequence[str],
                user_map: Optional[Mapping[str, str]] = None, bag_name: str = 'bag') -> InputPlan:
    """Resolve the inputs of ``modalities`` (and the ground-truth topic) in a bag."""
    plan = InputPlan()
    chosen: Dict[str, str] = {}
    for src, dst in (user_map or {}).items():
        what = _modality_of(dst)
        if what is None:
            raise BagError(f"--map {src}:={dst}: '{dst}' is not one of camera, imu, audio, ground_truth "
                           f'or a graph input topic ({", ".join(t for ts in GRAPH_INPUTS.values() for t in ts.values())})')
        if src not in topics:
            raise BagError(f'--map {src}:={dst}: {bag_name} has no topic {src}. Its topics:\n{_listing(topics)}')
        if what in chosen:
            raise BagError(f'--map: {what} is mapped twice ({chosen[what]} and {src})')
        chosen[what] = src
    problems: List[str] = []
    for modality in modalities:
        accepted = GRAPH_INPUTS.get(modality)
        if accepted is None:
            raise BagError(f"the model needs modality '{modality}', which the replay evaluation cannot feed "
                           f'(known: {sorted(GRAPH_INPUTS)})')
        src = chosen.get(modality)
        if src is None:
            src = next((t for ty, t in accepted.items() if t in topics and topics[t][0] == ty), None)
        if src is None:
            problems.append(modality)
            continue
        msgtype = topics[src][0]
        if msgtype not in accepted:
            raise BagError(f'{src} is {msgtype}; the {modality} encoder reads {" or ".join(accepted)}')
        plan.inputs[modality] = (src, msgtype, accepted[msgtype])
    if problems:
        hints = []
        for modality in problems:
            fits = [t for t, (ty, _) in sorted(topics.items()) if ty in GRAPH_INPUTS[modality]]
            hints.append(f'  {modality}: ' + (' or '.join(f'--map {t}:={modality}' for t in fits) if fits else
                                              f'no topic of type {" or ".join(GRAPH_INPUTS[modality])}'))
        raise BagError(f'{bag_name} lacks the input(s) {", ".join(problems)} the model needs. Its topics:\n'
                       f'{_listing(topics)}\nWhat would fit:\n' + '\n'.join(hints))
    truth = chosen.get('ground_truth')
    if truth is None and DEFAULT_TRUTH_TOPIC in topics and topics[DEFAULT_TRUTH_TOPIC][0] in TRUTH_TYPES:
        truth = DEFAULT_TRUTH_TOPIC
    if truth is not None:
        if topics[truth][0] not in TRUTH_TYPES:
            raise BagError(f'ground truth {truth} is {topics[truth][0]}; expected {" or ".join(TRUTH_TYPES)}')
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
