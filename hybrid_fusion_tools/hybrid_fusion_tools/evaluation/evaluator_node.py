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

"""Live evaluation: a node that scores the labels on ``activity`` against ground truth while
something else drives the graph (``ros2 bag play`` on a ROS machine, or live sensors with an
operator publishing ground truth).

    ros2 run hybrid_fusion_ros evaluator_node --ros-args -p output_dir:=eval_live \\
        -p ground_truth_file:=labels.csv      # or the activity_ground_truth topic

It writes the same report as ``hybrid-fusion eval`` on the ``~/write_report`` service
(std_srvs/Trigger) and when it shuts down. Latency is the ``latency_ms`` the fusion node
put in each label (its clock minus the newest sensor stamp), so run the nodes on wall time.
Expected windows are the grid windows between the first and last label seen.
"""

from __future__ import annotations

import math
from pathlib import Path
import sys
import threading
from typing import Any, Dict, List, Optional, Tuple

from hybrid_fusion_msgs.msg import ActivityLabel
from rclpy.node import Node
from std_srvs.srv import Trigger

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.checkpoint import CheckpointError
from hybrid_fusion_ros.core.windows import window_ends_between
from hybrid_fusion_ros.ros.conversions import stamp_to_sec
from hybrid_fusion_ros.ros.node_common import declare_executor_parameter
from hybrid_fusion_ros.ros.node_common import describe
from hybrid_fusion_ros.ros.node_common import run_node
from hybrid_fusion_ros.ros.node_common import StartupError
from hybrid_fusion_ros.ros.qos import RESULT_QOS
from .report import window_key
from .report import window_outcomes
from .report import WindowOutcome
from .report import write_report
from ..common.machine import machine_line
from ..data.truth import GroundTruth
from ..data.truth import GroundTruthError

MAX_WINDOWS = (
    500_000  # about 70 hours of 0.5 s windows; beyond it new windows are counted, not kept
)


class EvaluatorNode(Node):
    def __init__(self, node_name: str = 'evaluator_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        p = self.declare_parameter
        label_topic = p('label_topic', 'activity', describe('labels to score', True)).value
        truth_topic = p(
            'ground_truth_topic',
            'activity_ground_truth',
            describe(
                'ground truth as hybrid_fusion_msgs/ActivityLabel (used when ground_truth_file is'
                ' empty)',
                True,
            ),
        ).value
        truth_file = p(
            'ground_truth_file',
            '',
            describe(
                'CSV (start,end,label) or JSON intervals in absolute stamps (s); empty: the topic',
                True,
            ),
        ).value
        self.output_dir = Path(
            p('output_dir', 'eval_live', describe('report directory', True)).value
        )
        checkpoint = p(
            'checkpoint',
            '',
            describe('checkpoint giving classes and window grid; empty: default', True),
        ).value
        declare_executor_parameter(self)
        try:
            ckpt = Checkpoint.load(checkpoint or None)
        except CheckpointError as exc:
            raise StartupError(str(exc)) from exc
        self.classes = ckpt.classes
        self.window = ckpt.window
        self.file_truth: Optional[GroundTruth] = None
        if truth_file:
            try:
                self.file_truth = GroundTruth.from_file(truth_file, bag_start=0.0)
            except GroundTruthError as exc:
                raise StartupError(str(exc)) from exc
        self._lock = threading.Lock()
        self.labels: Dict[int, Tuple[str, float, float]] = (
            {}
        )  # window_key -> (label, confidence, latency ms)
        self.truth_stamps: List[float] = []
        self.truth_labels: List[str] = []
        self.overflow = 0
        self.label_messages = 0
        self.create_subscription(ActivityLabel, label_topic, self._on_label, RESULT_QOS)
        if self.file_truth is None:
            self.create_subscription(ActivityLabel, truth_topic, self._on_truth, RESULT_QOS)
        self.create_service(Trigger, '~/write_report', self._on_write)
        self.get_logger().info(
            f'scoring {label_topic} against '
            f'{truth_file or truth_topic}; reports go to {self.output_dir}'
        )

    def _on_label(self, msg: ActivityLabel) -> None:
        key = window_key(stamp_to_sec(msg.header.stamp))
        with self._lock:
            self.label_messages += 1
            if key in self.labels:
                return
            if len(self.labels) >= MAX_WINDOWS:
                self.overflow += 1
                return
            probs = tuple(float(p) for p in msg.probabilities) or None
            self.labels[key] = (msg.label, float(msg.confidence), float(msg.latency_ms), probs)

    def _on_truth(self, msg: ActivityLabel) -> None:
        with self._lock:
            if len(self.truth_stamps) >= MAX_WINDOWS:
                self.overflow += 1
                return
            self.truth_stamps.append(stamp_to_sec(msg.header.stamp))
            self.truth_labels.append(msg.label)

    def truth(self) -> Optional[GroundTruth]:
        with self._lock:
            if self.file_truth is None and self.truth_stamps:
                return GroundTruth.from_samples(
                    self.truth_stamps, self.truth_labels, 'ground-truth topic'
                )
            return self.file_truth

    def outcomes(self) -> List[WindowOutcome]:
        with self._lock:
            labels = dict(self.labels)
            truth = self.file_truth
            if truth is None and self.truth_stamps:
                truth = GroundTruth.from_samples(
                    self.truth_stamps, self.truth_labels, 'ground-truth topic'
                )
        if not labels:
            return []
        ends = window_ends_between(
            self.window, min(labels) / 1000 - 1e-6, max(labels) / 1000 + 1e-6
        )
        return window_outcomes(
            ends, self.window.length, truth, labels, lambda end, latency_ms: latency_ms
        )

    def write(self) -> Dict[str, Any]:
        outcomes = self.outcomes()
        meta = {
            'bag': 'live topics',
            'bag_format': 'live',
            'bag_seconds': (
                (outcomes[-1].end - outcomes[0].end + self.window.hop) if outcomes else 0.0
            ),
            'data_note': 'live topics (whatever is publishing them)',
            'replay_note': 'live evaluator node',
            'config': 'n/a',
            'checkpoint': 'n/a',
            'fusion_mode': 'live',
            'machine': machine_line(),
            'wall_seconds': math.nan,
            'speed_x': math.nan,
            'ground_truth': 'file' if self.file_truth is not None else 'topic',
            'latency_note': (
                "the latency_ms each label carries (fusion node's clock minus newest sensor stamp)"
            ),
            'latency_title': 'Label latency (as published by the fusion node)',
            'label_messages': self.label_messages,
        }
        drops = (
            {'evaluator': {'windows_not_kept (MAX_WINDOWS)': self.overflow}}
            if self.overflow
            else {}
        )
        truth = self.truth()
        return write_report(
            self.output_dir,
            outcomes,
            self.classes,
            meta,
            drops,
            intervals=truth.intervals if truth is not None else None,
            window_length=self.window.length,
        )

    def _on_write(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            report = self.write()
        except Exception as exc:  # noqa: BLE001 - a failed report must not stop the node
            response.success, response.message = False, f'{type(exc).__name__}: {exc}'
            return response
        m = report['metrics']
        acc = 'n/a' if m['accuracy'] is None else f"{100 * m['accuracy']:.1f}%"
        response.success = True
        response.message = (
            f"{self.output_dir}/report.md: {m['labelled_windows']}/{m['windows']} windows, "
            f'accuracy {acc}'
        )
        return response

    def destroy_node(self) -> None:
        if self.labels:
            try:
                self.write()
                print(
                    f'evaluator_node: report written to {self.output_dir}/report.md',
                    file=sys.stderr,
                )
            except Exception as exc:  # noqa: BLE001 - shutting down anyway
                print(f'evaluator_node: no report: {exc}', file=sys.stderr)
        super().destroy_node()


def main(args: Optional[List[str]] = None) -> None:
    sys.exit(run_node(EvaluatorNode, 'evaluator_node', args))


if __name__ == '__main__':
    main()
