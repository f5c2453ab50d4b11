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

"""A model's inputs: named sensors of a type.

A robot brings its own sensor set: a depth camera and two IMUs, say, and no microphone. Each
input of a model has a *name* (``front_depth``, ``wrist_imu``) and a *sensor type* (``camera``,
``imu``, ``audio``, or one an encoder plugin declares as its ``modality``). The name keys
everything downstream: the encoder node ``<name>_encoder``, the feature topic
``features/<name>``, the checkpoint's encoder entry and the fusion model's input order. The
packaged checkpoint's inputs are ``camera``, ``imu`` and ``audio``, each of its own type.

This one description is read by the checkpoint, the node graph (launch file, ``hybrid-fusion
launch``, demo, eval) and training from recordings. :data:`INPUT_MESSAGE_TYPES` names the
sensor messages an input can arrive as; ``ros/conversions.py`` turns each into arrays, for the
encoder node and for training from bags alike.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
import re
from typing import Any, Dict, Mapping, Tuple

# Sensor type -> default encoder plugin.
DEFAULT_ENCODERS: Dict[str, str] = {
    'camera': 'camera_cnn',
    'imu': 'imu_cnn1d',
    'audio': 'audio_logmel_cnn',
}
# Sensor type -> the graph topic an input of that type reads, below its name (relative).
TOPIC_SUFFIX: Dict[str, str] = {'camera': 'image_raw', 'imu': 'data', 'audio': 'chunk'}
# Sensor type -> subscription depth when the YAML leaves input_queue_depth at 0.
QUEUE_DEPTH: Dict[str, int] = {'camera': 5, 'imu': 50, 'audio': 10}

# The sensor messages an encoder node reads (ros/conversions.py's INPUT_TYPES converts each).
INPUT_MESSAGE_TYPES: Tuple[str, ...] = (
    'sensor_msgs/msg/Image',
    'sensor_msgs/msg/CompressedImage',
    'sensor_msgs/msg/Imu',
    'hybrid_fusion_msgs/msg/AudioChunk',
)

_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')


class InputSpecError(ValueError):
    """An input description that cannot be used; the message names the input."""


def check_input_name(name: str) -> str:
    """Input names become node names and topic tokens, so they follow ROS name rules."""
    if not _NAME.match(name or '') or '__' in name or name.endswith('_'):
        raise InputSpecError(
            f"input name '{name}' is not usable as a ROS name token: use letters, digits "
            'and single underscores, starting with a letter (e.g. wrist_imu)'
        )
    return name


@dataclass(frozen=True)
class ModelInput:
    """One sensor input of a model.

    ``topic`` is the topic the training recordings had it on (informational: replay
    evaluation looks for it first); ``rate_hz`` the rate measured in those recordings (0: the
    encoder's own expectation).
    """

    name: str
    sensor_type: str
    encoder: str = ''
    topic: str = ''
    rate_hz: float = 0.0

    def __post_init__(self) -> None:
        check_input_name(self.name)
        if not self.sensor_type:
            raise InputSpecError(f"input '{self.name}' has no sensor type")

    @property
    def node_name(self) -> str:
        return f'{self.name}_encoder'

    def graph_topic(self, compressed: bool = False) -> str:
        """The relative topic the input's encoder node reads unless told otherwise."""
        suffix = TOPIC_SUFFIX.get(self.sensor_type, 'data')
        return f'{self.name}/{suffix}' + ('/compressed' if compressed else '')

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> 'ModelInput':
        return cls(
            **{k: d[k] for k in ('name', 'sensor_type', 'encoder', 'topic', 'rate_hz') if k in d}
        )
