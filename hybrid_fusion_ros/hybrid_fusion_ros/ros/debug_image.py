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

"""The fusion node's ``~/debug_image``: the newest camera frame with the label drawn on it.

Off unless the ``debug_image`` parameter is true. The node then subscribes to a camera topic
(``debug_image_topic``, or the model's first camera input) and keeps only its newest frame,
undecoded; after each label, and only while someone subscribes to ``~/debug_image``, it
decodes that frame and draws the label, the top probabilities and the per-modality weights on
it (core/overlay.py). A frame that cannot be decoded is counted and the canvas drawn blank.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

from sensor_msgs.msg import Image

from . import conversions as conv
from .qos import RESULT_QOS
from .qos import SENSOR_QOS
from ..core.calibration import UNKNOWN_CLASS_ID
from ..core.model_info import ModelDescription
from ..core.overlay import render_overlay
from ..core.overlay import to_bgr8

CAMERA_TYPES = ('camera', 'depth_camera')


class DebugImage:
    """The overlay publisher of a fusion node, and the camera subscription it draws on."""

    def __init__(
        self,
        node: Any,
        description: ModelDescription,
        topic: str = '',
        create_publisher: Optional[Callable[..., Any]] = None,
    ) -> None:
        self.node = node
        self.description = description
        cameras = [i for i in description.inputs if i.sensor_type in CAMERA_TYPES]
        self.topic = topic or (cameras[0].graph_topic() if cameras else '')
        create_publisher = create_publisher or node.create_publisher
        self.publisher = create_publisher(Image, '~/debug_image', RESULT_QOS)
        self._lock = threading.Lock()
        self._frame: Optional[Image] = None
        self.undecodable = 0
        self.published = 0
        self.subscription = (
            node.create_subscription(Image, self.topic, self._on_frame, SENSOR_QOS)
            if self.topic
            else None
        )

    def _on_frame(self, msg: Image) -> None:
        with self._lock:
            self._frame = msg

    def _bgr(self) -> Any:
        with self._lock:
            msg = self._frame
        if msg is None:
            return None
        try:
            frame = conv.image_to_frame(msg)
        except conv.InputError:
            self.undecodable += 1
            return None
        return to_bgr8(frame, 'rgb8' if frame.ndim == 3 else '32FC1')

    def on_label(self, label: Any) -> None:
        """Draw ``label`` (an ActivityLabel) on the newest frame and publish it, if anyone
        listens."""
        if self.publisher.get_subscription_count() == 0:
            return
        image = render_overlay(
            self._bgr(),
            label.label,
            label.confidence,
            list(label.class_names),
            list(label.probabilities),
            list(label.modalities_used),
            list(label.modality_weights),
            unknown=label.class_id == UNKNOWN_CLASS_ID,
            footer=f'model {label.model_id or "?"}  latency {label.latency_ms:.1f} ms',
        )
        msg = Image()
        msg.header = label.header
        msg.height, msg.width = int(image.shape[0]), int(image.shape[1])
        msg.encoding, msg.is_bigendian = 'bgr8', 0
        msg.step = msg.width * 3
        msg.data = image.tobytes()
        self.publisher.publish(msg)
        self.published += 1

    def destroy(self) -> None:
        if self.subscription is not None:
            self.node.destroy_subscription(self.subscription)
        destroy = getattr(self.node, 'destroy_lifecycle_publisher', self.node.destroy_publisher)
        destroy(self.publisher)


__all__ = ['DebugImage']
