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

"""Fusion node: fuses the modalities' feature vectors with an LSTM that keeps its state across
windows, and publishes activity labels on ``activity`` and its health on ``/diagnostics``.

What is fused, when, and what is dropped is decided by core/fusion_runtime.py (the modes are
described there and in the README), what ``/diagnostics`` says by core/fusion_health.py. This
module is the wiring: parameters (core/parameters.py), subscriptions, timers, the reset
service, message conversion and diagnostics; as a plain node (``fusion_node``) and as a
managed one (``fusion_lifecycle_node``: configure loads the model, activate starts publishing
through lifecycle publishers).
"""

from __future__ import annotations

import sys
from typing import Any, Callable, List, Optional

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from hybrid_fusion_msgs.msg import ActivityLabel
from hybrid_fusion_msgs.msg import FeatureVector
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode
from rclpy.lifecycle import LifecycleState
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger

from ..core.fusion_health import FusionHealth
from ..core.fusion_runtime import build_fusion
from ..core.fusion_runtime import Feature
from ..core.fusion_runtime import LabelRecord
from ..core.fusion_runtime import NS_PER_S
from ..core.fusion_runtime import resolve_reset_after
from ..core.parameters import FUSION_PARAMETERS
from ..ros import conversions as conv
from ..ros import node_common as common
from ..ros.qos import DIAGNOSTICS_QOS
from ..ros.qos import RESULT_QOS


def _stamp(ns: int) -> Time:
    return Time(sec=ns // NS_PER_S, nanosec=ns % NS_PER_S)


class FusionPipeline:
    """The fusion node's ROS side, built on a node (plain or lifecycle) around a
    :class:`FusionRuntime`. On a lifecycle node the publishers are lifecycle publishers, and
    the node fuses only while they are activated."""

    def __init__(self, node: Node) -> None:
        self.node = node
        values = common.parameter_values(node, FUSION_PARAMETERS)
        self.backend = common.backend_choice(node)
        log = common.ThrottledLog(node.get_logger())  # a cause's warnings 5 s apart at most
        try:
            setup = build_fusion(values, self.backend, common.onnx_options(node), log)
        except ValueError as exc:
            raise common.StartupError(str(exc)) from exc
        rt = self.runtime = setup.runtime
        self.contract = setup.contract
        self.errors = common.InternalErrors(node)
        self.topics = {m: f'{values["feature_topic_prefix"]}/{m}' for m in rt.modalities}
        self.health = FusionHealth(rt, self.topics, self.backend, setup.warnings)
        create_publisher = getattr(node, 'create_lifecycle_publisher', node.create_publisher)
        self.label_pub = create_publisher(ActivityLabel, values['label_topic'], RESULT_QOS)
        self.diag_pub = create_publisher(DiagnosticArray, '/diagnostics', DIAGNOSTICS_QOS)
        # With `executor: multi`, features keep arriving while a timer runs; the runtime
        # serializes them with its lock.
        group = ReentrantCallbackGroup()
        self.subscriptions = [
            node.create_subscription(
                FeatureVector, topic, self._input_callback(m), RESULT_QOS, callback_group=group
            )
            for m, topic in self.topics.items()
        ]
        failed = 'internal error: {}'.format
        self.reset_service = node.create_service(
            Trigger,
            '~/reset',
            self.errors.guard(
                self._on_reset,
                'reset service',
                on_error=lambda exc: Trigger.Response(success=False, message=failed(exc)),
            ),
        )
        self.diag_timer = node.create_timer(
            float(values['diagnostics_period']),
            self.errors.guard(self._publish_diagnostics, 'diagnostics timer'),
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self._fusion_group = MutuallyExclusiveCallbackGroup()
        self._on_fusion_timer = self.errors.guard(self._fuse_on_timer, 'fusion timer')
        self.fusion_timer = self._create_fusion_timer()
        self._on_set_parameters = self.errors.guard(
            self._set_parameters,
            'parameter callback',
            on_error=lambda exc: SetParametersResult(successful=False, reason=failed(exc)),
        )
        node.add_on_set_parameters_callback(self._on_set_parameters)
        node.get_logger().info(
            f'fusing {rt.modalities} in {rt.settings.fusion_mode} mode (models: {rt.strategies}, '
            f'early/async use {rt.primary_name}) -> {values["label_topic"]}, '
            f'{common.backend_line(self.backend)}'
        )

    @property
    def active(self) -> bool:
        """Fusing and publishing: always on a plain node; on a lifecycle node, while active."""
        return getattr(self.label_pub, 'is_activated', True)

    @property
    def sync(self):
        """The early mode's synchronizer (its ``stats`` count matched and unmatched sets)."""
        return self.runtime.sync

    def destroy(self) -> None:
        n = self.node
        n.remove_on_set_parameters_callback(self._on_set_parameters)
        for s in self.subscriptions:
            n.destroy_subscription(s)
        for t in (self.diag_timer, self.fusion_timer):
            n.destroy_timer(t)
        n.destroy_service(self.reset_service)
        destroy = getattr(n, 'destroy_lifecycle_publisher', n.destroy_publisher)
        destroy(self.label_pub)
        destroy(self.diag_pub)

    def _now(self) -> int:
        return self.node.get_clock().now().nanoseconds

    # --- callbacks --------------------------------------------------------------------------
    def _create_fusion_timer(self):
        return self.node.create_timer(
            self.runtime.timer_period, self._on_fusion_timer, callback_group=self._fusion_group
        )

    def _set_parameters(self, params: List[Parameter]) -> SetParametersResult:
        changes = resolve_reset_after({p.name: p.value for p in params}, self.contract)
        error = self.runtime.set_parameters(changes)
        if error:
            return SetParametersResult(successful=False, reason=error)
        if any(p.name == 'fusion_rate_hz' for p in params):
            self.node.destroy_timer(self.fusion_timer)
            self.fusion_timer = self._create_fusion_timer()
        return SetParametersResult(successful=True)

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.runtime.reset('~/reset service')
        response.success, response.message = True, 'state reset'
        return response

    def _input_callback(self, modality: str) -> Callable[[FeatureVector], None]:
        def on_feature(msg: FeatureVector) -> None:
            if not self.active:  # a managed node does not process data while inactive
                self.runtime.drop(modality, 'inactive')
                return
            try:
                values = conv.msg_to_feature(msg)
            except conv.InputError as exc:
                self.runtime.drop(modality, 'invalid', f'dropped {modality} feature: {exc}')
                return
            stamps = conv.stamp_to_ns(msg.header.stamp), conv.stamp_to_ns(msg.newest_sample_stamp)
            feature = Feature(values, *stamps, msg.modality)
            self._publish(self.runtime.on_feature(modality, feature, self._now()))

        return self.errors.guard(on_feature, f'{self.topics[modality]} callback')

    def _fuse_on_timer(self) -> None:
        if self.active:
            self._publish(self.runtime.on_timer(self._now()))

    def _publish(self, labels: List[LabelRecord]) -> None:
        for label in labels:
            latency_ms = (self._now() - label.newest_sample) / 1e6
            self.label_pub.publish(
                conv.make_label(
                    _stamp(label.stamp),
                    self.runtime.classes,
                    label.probabilities,
                    label.class_id,
                    label.modalities_used,
                    label.fusion_mode,
                    latency_ms,
                    label.weights,
                )
            )
            self.health.published(latency_ms)

    def _publish_diagnostics(self) -> None:
        if not self.active:
            return
        now = self._now()
        statuses = self.health.statuses(now, self.node.count_publishers, self.errors.count)
        self.diag_pub.publish(common.diagnostic_array(self.node, statuses, _stamp(now)))


class FusionNode(Node):
    """The fusion node: the pipeline is built and active from the start."""

    def __init__(self, node_name: str = 'fusion_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        common.declare_model_node_parameters(self, FUSION_PARAMETERS)
        self.pipeline = FusionPipeline(self)


class FusionLifecycleNode(LifecycleNode):
    """The fusion node as a managed node: configure loads the model and wires the topics,
    activate and deactivate switch its lifecycle publishers (LifecycleNode's own transitions
    do that), cleanup releases everything."""

    def __init__(self, node_name: str = 'fusion_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        common.declare_model_node_parameters(self, FUSION_PARAMETERS)
        self.pipeline: Optional[FusionPipeline] = None

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.pipeline = FusionPipeline(self)
        except common.StartupError as exc:
            self.get_logger().error(f'cannot configure: {exc}')
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.pipeline is not None:
            self.pipeline.destroy()
            self.pipeline = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self.on_cleanup(state)


def main(args: Optional[List[str]] = None) -> None:
    sys.exit(common.run_node(FusionNode, 'fusion_node', args))


def main_lifecycle(args: Optional[List[str]] = None) -> None:
    sys.exit(common.run_node(FusionLifecycleNode, 'fusion_node', args))


if __name__ == '__main__':
    main()
