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

"""Compares published activity labels with ground truth while a bag plays (or live)."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
import threading
from typing import Callable, Dict, List, Optional

from hybrid_fusion_msgs.msg import ActivityLabel
import numpy as np
from rclpy.node import Node

from hybrid_fusion_ros.core.metrics import classification_report
from hybrid_fusion_ros.core.metrics import percentiles
from hybrid_fusion_ros.core.windows import window_ends_between
from hybrid_fusion_ros.core.windows import WindowSpec
from hybrid_fusion_ros.ros.conversions import stamp_to_sec
from hybrid_fusion_ros.ros.qos import RESULT_QOS


@dataclass
class LabelRecord:
    stamp: float
    label: str
    class_id: int
    confidence: float
    latency_ms: float


class LabelEvaluator:
    """Subscribes to the label and ground-truth topics and keeps both (bounded by the
    recording's length: one label per window, ground truth at its own rate)."""

    def __init__(
        self,
        node: Node,
        label_topic: str = '/activity',
        ground_truth_topic: str = '/activity_ground_truth',
        on_label: Optional[Callable[[LabelRecord, Optional[str]], None]] = None,
        max_records: int = 200_000,
    ) -> None:
        self._lock = threading.Lock()
        self.labels: List[LabelRecord] = []
        self.gt_stamps: List[float] = []
        self.gt_labels: List[str] = []
        self.classes: List[str] = []
        self.on_label = on_label
        self.max_records = max_records
        self.dropped_records = 0
        self.gt_offset = 0.0  # ground truth is taken at stamp - gt_offset (the window's centre)
        node.create_subscription(ActivityLabel, label_topic, self._on_label, RESULT_QOS)
        node.create_subscription(ActivityLabel, ground_truth_topic, self._on_truth, RESULT_QOS)

    def _on_truth(self, msg: ActivityLabel) -> None:
        with self._lock:
            if len(self.gt_stamps) >= self.max_records:
                self.dropped_records += 1
                return
            self.gt_stamps.append(stamp_to_sec(msg.header.stamp))
            self.gt_labels.append(msg.label)

    def truth_at(self, t: float) -> Optional[str]:
        with self._lock:
            i = bisect_right(self.gt_stamps, t) - 1
            return self.gt_labels[i] if i >= 0 else None

    def _on_label(self, msg: ActivityLabel) -> None:
        rec = LabelRecord(
            stamp_to_sec(msg.header.stamp), msg.label, msg.class_id, msg.confidence, msg.latency_ms
        )
        with self._lock:
            if len(self.labels) >= self.max_records:
                self.dropped_records += 1
                return
            self.labels.append(rec)
            if not self.classes:
                self.classes = list(msg.class_names)
        if self.on_label is not None:
            self.on_label(rec, self.truth_at(rec.stamp - self.gt_offset))

    def summary(
        self, window: WindowSpec, first_stamp: float, last_stamp: float
    ) -> Dict[str, object]:
        """Accuracy against the ground truth at each window's centre, label coverage
        (windows fully inside [first_stamp, last_stamp] that got a label / those windows)
        and latency: of every label, and of the first label of each window (late and async
        modes re-publish the same window's evidence at the fusion rate, so only the first
        compares with early mode)."""
        with self._lock:
            labels = list(self.labels)
        ends = window_ends_between(window, first_stamp + window.length - 1e-9, last_stamp)
        expected = {round(float(e), 3) for e in ends}
        labelled = {round(r.stamp, 3) for r in labels} & expected
        first: Dict[float, LabelRecord] = {}
        for r in labels:
            first.setdefault(round(r.stamp, 3), r)
        pairs = [(r, self.truth_at(r.stamp - window.length / 2)) for r in labels]
        pairs = [(r, t) for r, t in pairs if t is not None]
        classes = self.classes or sorted({t for _, t in pairs})
        index = {c: i for i, c in enumerate(classes)}
        known = [(r, t) for r, t in pairs if t in index and r.label in index]
        report = (
            classification_report(
                np.array([index[t] for _, t in known], dtype=np.int64),
                np.array([index[r.label] for r, _ in known], dtype=np.int64),
                classes,
            )
            if known
            else None
        )
        return {
            'labels': len(labels),
            'expected_windows': len(expected),
            'coverage': len(labelled) / len(expected) if expected else 0.0,
            'accuracy': report['accuracy'] if report else float('nan'),
            'macro_f1': report['macro_f1'] if report else float('nan'),
            'latency_ms': percentiles([r.latency_ms for r in labels]),
            'first_label_latency_ms': percentiles([r.latency_ms for r in first.values()]),
            'report': report,
        }
