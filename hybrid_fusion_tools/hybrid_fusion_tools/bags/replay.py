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

"""Publishes a bag's messages through rclpy with the recorded timing.

Messages are published as the serialized bytes stored in the bag (rclpy publishes raw CDR),
so replay costs no (de)serialization. Options:

- ``rate``: playback speed multiplier (``ros2 bag play --rate``);
- ``restamp``: shift header stamps (and ``/clock``) so the recording's start maps to now, as
  if the sensors were live; the shift is a whole number of seconds, so windows on the
  sensor-time grid cut the same samples as in the recording. Only for ``rate`` 1: it is what
  makes wall-clock latency figures meaningful;
- ``publish_clock``: publish ``/clock`` (rosgraph_msgs/Clock) for nodes with use_sim_time;
- ``topic_map``: rename topics (``{'/their/cam': '/camera/image_raw'}``).
"""

from __future__ import annotations

import math
from pathlib import Path
import struct
import threading
import time
from typing import Callable, Dict, Optional, Set

from rclpy.node import Node
from rosgraph_msgs.msg import Clock

from hybrid_fusion_ros.ros.qos import DRIVER_QOS
from hybrid_fusion_ros.ros.qos import RESULT_QOS
from .bag import BagMessage
from .bag import message_class
from .bag import open_reader
from .bag import read_messages

SENSOR_TYPES = {
    'sensor_msgs/msg/Image',
    'sensor_msgs/msg/CompressedImage',
    'sensor_msgs/msg/Imu',
    'hybrid_fusion_msgs/msg/AudioChunk',
}
# Types whose serialized form starts with std_msgs/Header (so the stamp sits at bytes 4..12).
HEADER_FIRST = SENSOR_TYPES | {
    'hybrid_fusion_msgs/msg/ActivityLabel',
    'hybrid_fusion_msgs/msg/FeatureVector',
}


def header_stamp(data: bytes) -> float:
    """Stamp (s) of a little-endian CDR message that starts with std_msgs/Header: after the
    4-byte encapsulation, ``int32 sec`` and ``uint32 nanosec``."""
    sec, nsec = struct.unpack_from('<iI', data, 4)
    return sec + nsec * 1e-9


def shift_stamp(data: bytes, shift_ns: int) -> bytes:
    """A copy of a little-endian CDR message whose leading header stamp is shifted."""
    if data[1] != 0x01:  # encapsulation: CDR little endian
        raise ValueError('only little-endian CDR can be restamped')
    sec, nsec = struct.unpack_from('<iI', data, 4)
    total = sec * 1_000_000_000 + nsec + shift_ns
    out = bytearray(data)
    struct.pack_into('<iI', out, 4, total // 1_000_000_000, total % 1_000_000_000)
    return bytes(out)


def live_shift_ns(start_ns: int, now: float) -> int:
    """The whole-second shift that maps a recording starting at ``start_ns`` to half a second
    after ``now`` (wall time, s): whole seconds keep windows on the recording's grid."""
    return int(math.ceil(now + 0.5 - start_ns / 1e9)) * 1_000_000_000


def clock_message(ns: int) -> Clock:
    msg = Clock()
    msg.clock.sec, msg.clock.nanosec = ns // 1_000_000_000, ns % 1_000_000_000
    return msg


class BagReplayer:
    def __init__(
        self,
        node: Node,
        bag: Path | str,
        rate: float = 1.0,
        restamp: bool = False,
        publish_clock: bool = False,
        topic_map: Optional[Dict[str, str]] = None,
        topics: Optional[Set[str]] = None,
    ) -> None:
        if rate <= 0:
            raise ValueError(f'rate must be > 0, got {rate}')
        if restamp and rate != 1.0:
            raise ValueError(
                'restamp needs rate 1.0: stamps shifted to wall time only stay live-like in real'
                ' time'
            )
        self.node = node
        self.bag = Path(bag)
        self.rate = rate
        self.restamp = restamp
        self.publish_clock = publish_clock
        self.topic_map = dict(topic_map or {})
        self.reader = open_reader(self.bag)
        self.topics = topics
        self.start_ns = self.reader.start_time
        self.end_ns = self.reader.end_time
        self.shift_ns = 0
        self.published = 0
        self.total = sum(
            c.msgcount for c in self.reader.connections if topics is None or c.topic in topics
        )
        self.publishers = {}
        for conn in self.reader.connections:
            if topics is not None and conn.topic not in topics:
                continue
            out_topic = self.topic_map.get(conn.topic, conn.topic)
            qos = DRIVER_QOS if conn.msgtype in SENSOR_TYPES else RESULT_QOS
            self.publishers[conn.topic] = (
                node.create_publisher(message_class(conn.msgtype), out_topic, qos),
                conn.msgtype,
            )
        self.clock_pub = node.create_publisher(Clock, '/clock', 10) if publish_clock else None
        self._stop = threading.Event()
        self.done = threading.Event()
        self._thread: Optional[threading.Thread] = None

    @property
    def duration(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def publisher_for(self, topic: str):
        return self.publishers[topic][0]

    def run(self, on_message: Optional[Callable[[BagMessage], None]] = None) -> None:
        """Replay to the end (or until ``stop``); blocks."""
        wall0 = time.time()
        if self.restamp:
            self.shift_ns = live_shift_ns(self.start_ns, wall0)
            wall0 = (self.start_ns + self.shift_ns) / 1e9
        try:
            for msg in read_messages(self.reader, self.publishers.keys()):
                if self._stop.is_set():
                    break
                due = wall0 + (msg.log_time_ns - self.start_ns) / 1e9 / self.rate
                delay = due - time.time()
                if delay > 0 and self._stop.wait(delay):
                    break
                pub, msgtype = self.publishers[msg.topic]
                data = (
                    shift_stamp(msg.data, self.shift_ns)
                    if self.shift_ns and msgtype in HEADER_FIRST
                    else msg.data
                )
                if self.clock_pub is not None:
                    self.clock_pub.publish(clock_message(msg.log_time_ns + self.shift_ns))
                pub.publish(data)
                self.published += 1
                if on_message is not None:
                    on_message(msg)
        finally:
            self.done.set()

    def start(self, on_message: Optional[Callable[[BagMessage], None]] = None) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(on_message,), daemon=True, name='bag-replay'
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def close(self) -> None:
        self.stop()
        self.reader.close()
