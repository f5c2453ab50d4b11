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
windows, and publishes activity labels on ``activity``, activity events on
``activity_events``, the running model on ``~/model_info`` (latched) and its health on
``/diagnostics``; ``~/load_model`` swaps the graph's model without a restart.

What is fused, when, and what is dropped is decided by core/fusion_runtime.py (the modes are
described there and in the README), what ``/diagnostics`` says by core/fusion_health.py, the
events by core/events.py, the swap's protocol by ros/model_swap.py. This module is the wiring:
parameters (core/parameters.py), subscriptions, timers, services, message conversion and
diagnostics; as a plain node (``fusion_node``) and as a managed one (``fusion_lifecycle_node``:
configure loads the model, activate starts publishing through lifecycle publishers).
"""

from __future__ import annotations

from dataclasses import dataclass
import sys
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from hybrid_fusion_msgs.msg import ActivityEvent
from hybrid_fusion_msgs.msg import ActivityLabel
from hybrid_fusion_msgs.msg import FeatureVector
from hybrid_fusion_msgs.msg import ModelInfo
from hybrid_fusion_msgs.srv import LoadModel
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
from ..core.fusion_runtime import FusionRuntime
from ..core.fusion_runtime import FusionSetup
from ..core.fusion_runtime import LabelRecord
from ..core.fusion_runtime import NS_PER_S
from ..core.fusion_runtime import resolve_reset_after
from ..core.model_info import next_boundary
from ..core.parameters import FUSION_PARAMETERS
from ..ros import conversions as conv
from ..ros import model_swap
from ..ros import node_common as common
from ..ros.debug_image import DebugImage
from ..ros.qos import DIAGNOSTICS_QOS
from ..ros.qos import LATCHED_QOS
from ..ros.qos import RESULT_QOS


def _stamp(ns: int) -> Time:
    return Time(sec=ns // NS_PER_S, nanosec=ns % NS_PER_S)


@dataclass
class _PendingSwap:
    """A model loaded and committed, waiting for its first window."""

    setup: FusionSetup
    switch_at: int  # ns, sensor time: the first window end it labels


class FusionPipeline:
    """The fusion node's ROS side, built on a node (plain or lifecycle) around a
    :class:`FusionRuntime`. On a lifecycle node the publishers are lifecycle publishers, and
    the node fuses only while they are activated."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.values = values = common.parameter_values(node, FUSION_PARAMETERS)
        self.backend = common.backend_choice(node)
        self.log = common.ThrottledLog(node.get_logger())  # a cause's warnings 5 s apart
        setup = self._load(values)
        self.errors = common.InternalErrors(node)
        self._install(setup)
        self.topics = {m: f'{values["feature_topic_prefix"]}/{m}' for m in self.runtime.modalities}
        self.health = FusionHealth(self.runtime, self.topics, self.backend, setup.warnings)
        # A swap: the model waiting for its first window, and the one it replaced, which still
        # labels the windows before the boundary that are in flight.
        self._swap_lock = threading.Lock()
        self._pending: Optional[_PendingSwap] = None
        self._previous: Optional[FusionRuntime] = None
        self._switched_at = 0
        self._swapping = False
        self._newest_stamp: Optional[int] = None
        # The newest label's window end and the monotonic time it left: events expire on
        # sensor time extrapolated from it, not on the node's clock, which a fast replay's
        # /clock runs ahead of the labels.
        self._last_label: Optional[Tuple[int, float]] = None
        create_publisher = getattr(node, 'create_lifecycle_publisher', node.create_publisher)
        self.label_pub = create_publisher(ActivityLabel, values['label_topic'], RESULT_QOS)
        self.event_pub = create_publisher(ActivityEvent, values['event_topic'], RESULT_QOS)
        # Latched on a plain publisher: a late joiner must get it, active or not.
        self.info_pub = node.create_publisher(ModelInfo, '~/model_info', LATCHED_QOS)
        self.diag_pub = create_publisher(DiagnosticArray, '/diagnostics', DIAGNOSTICS_QOS)
        self.debug_image = (
            DebugImage(node, self.description, values['debug_image_topic'], create_publisher)
            if values['debug_image']
            else None
        )
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
        self.load_service = node.create_service(
            LoadModel,
            '~/load_model',
            self._on_load_model,
            callback_group=MutuallyExclusiveCallbackGroup(),
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
        self._publish_model_info()
        rt = self.runtime
        node.get_logger().info(
            f'fusing {rt.modalities} in {rt.settings.fusion_mode} mode (models: {rt.strategies}, '
            f'early/async use {rt.primary_name}) -> {values["label_topic"]}, model '
            f'{rt.model_id or "(no id)"}, {common.backend_line(self.backend)}'
        )

    def _load(self, values: dict) -> FusionSetup:
        try:
            return build_fusion(values, self.backend, common.onnx_options(self.node), self.log)
        except ValueError as exc:
            raise common.StartupError(str(exc)) from exc

    def _install(self, setup: FusionSetup) -> None:
        self.runtime, self.contract = setup.runtime, setup.contract
        self.description = setup.description
        self._window_ns = int(round(setup.description.window.length * NS_PER_S))

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
        n.destroy_service(self.load_service)
        if self.debug_image is not None:
            self.debug_image.destroy()
        destroy = getattr(n, 'destroy_lifecycle_publisher', n.destroy_publisher)
        for pub in (self.label_pub, self.event_pub, self.diag_pub):
            destroy(pub)
        n.destroy_publisher(self.info_pub)

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
            self.log('warning', 'parameter', f'parameter change refused: {error}')
            self.runtime.fusion_drops.add('refused_parameter')
            return SetParametersResult(successful=False, reason=error)
        self.values.update({p.name: p.value for p in params})
        if any(p.name == 'fusion_rate_hz' for p in params):
            self.node.destroy_timer(self.fusion_timer)
            self.fusion_timer = self._create_fusion_timer()
        if any(p.name in ('unknown_threshold', 'fusion_mode') for p in params):
            self._publish_model_info()
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
            feature = Feature(values, *stamps, msg.modality, msg.model_id)
            runtime = self._route(feature.stamp)
            self._publish(runtime, runtime.on_feature(modality, feature, self._now()))

        return self.errors.guard(on_feature, f'{self.topics[modality]} callback')

    def _route(self, stamp: int) -> FusionRuntime:
        """The runtime a feature stamped ``stamp`` goes to: across a swap, the old model
        finishes the windows before the boundary, the new one takes the rest."""
        with self._swap_lock:
            if self._newest_stamp is None or stamp > self._newest_stamp:
                self._newest_stamp = stamp
            pending = self._pending
            if pending is not None and stamp >= pending.switch_at:
                self._switch(pending)
            previous = self._previous
            if previous is not None and stamp < self._switched_at:
                return previous
            return self.runtime

    def _switch(self, pending: _PendingSwap) -> None:
        """The new model takes over (with the swap lock held)."""
        old = self.runtime
        self._pending = None
        self._previous, self._switched_at = old, pending.switch_at
        self._install(pending.setup)
        self.health.runtime = self.runtime
        self._publish_events(old, old.events.flush(pending.switch_at))
        self._publish_model_info()
        if self.debug_image is not None:
            self.debug_image.description = self.description
        self.node.get_logger().info(
            f'model {old.model_id} -> {self.runtime.model_id} from the window ending '
            f'{pending.switch_at / NS_PER_S:.3f}'
        )

    def _fuse_on_timer(self) -> None:
        if self.active:
            runtime = self.runtime
            self._publish(runtime, runtime.on_timer(self._now()))

    def _publish(self, runtime: FusionRuntime, labels: List[LabelRecord]) -> None:
        if labels and runtime is self.runtime:
            self._previous = None  # the new model labels: windows before it are done
        for label in labels:
            latency_ms = (self._now() - label.newest_sample) / 1e6
            msg = conv.make_label(
                _stamp(label.stamp),
                runtime.classes,
                label.probabilities,
                label.class_id,
                label.modalities_used,
                label.fusion_mode,
                latency_ms,
                label.weights,
                window_start=_stamp(max(0, label.stamp - self._window_ns)),
                model_id=runtime.model_id,
            )
            self.label_pub.publish(msg)
            self.health.published(latency_ms)
            self._last_label = (label.stamp, time.monotonic())
            events = runtime.events.update(
                label.stamp - self._window_ns,
                label.stamp,
                msg.label,
                label.class_id,
                msg.confidence,
            )
            self._publish_events(runtime, events)
            if self.debug_image is not None:
                self.debug_image.on_label(msg)

    def _publish_events(self, runtime: FusionRuntime, events: List[Any]) -> None:
        for event in events:
            self.event_pub.publish(conv.make_event(event, runtime.model_id))

    def _publish_model_info(self) -> None:
        rt = self.runtime
        msg = conv.make_model_info(
            self.description,
            rt.settings.fusion_mode,
            rt.calibration.temperature,
            rt.unknown_threshold,
            _stamp(self._now()),
        )
        self.info_pub.publish(msg)

    def _publish_diagnostics(self) -> None:
        if not self.active:
            return
        now = self._now()
        if self._last_label is not None:
            stamp, then = self._last_label
            sensor_now = stamp + int((time.monotonic() - then) * NS_PER_S)
            self._publish_events(self.runtime, self.runtime.events.expire(sensor_now))
        statuses = self.health.statuses(now, self.node.count_publishers, self.errors.count)
        self.diag_pub.publish(common.diagnostic_array(self.node, statuses, _stamp(now)))

    # --- the model swap (ros/model_swap.py) -------------------------------------------------
    async def _on_load_model(
        self, request: LoadModel.Request, response: LoadModel.Response
    ) -> LoadModel.Response:
        response.previous_model_id = response.model_id = self.runtime.model_id
        if request.action != LoadModel.Request.SWAP:
            response.message = 'the fusion node takes SWAP (it drives the other steps itself)'
            return response
        with self._swap_lock:
            busy = self._swapping or self._pending is not None
            self._swapping = self._swapping or not busy
        if busy:
            response.message = 'a swap is already under way: wait for it to take effect'
            return response
        try:
            return await self._swap_graph(request, response)
        except Exception as exc:  # noqa: BLE001 - the backstop: a swap must not kill the node
            self.errors.record('load_model service')
            response.success, response.message = False, f'internal error: {exc}'
            return response
        finally:
            with self._swap_lock:
                self._swapping = False

    async def _swap_graph(
        self, request: LoadModel.Request, response: LoadModel.Response
    ) -> LoadModel.Response:
        checkpoint = request.checkpoint
        values = {**self.values, 'checkpoint': checkpoint}
        try:
            setup = await model_swap.in_thread(
                self.node,
                lambda: build_fusion(
                    values, self.backend, common.onnx_options(self.node), self.log
                ),
            )
        except ValueError as exc:
            response.message = f'refused, the running model is untouched: {exc}'
            return response
        refusal = self.description.swap_refusal(setup.description)
        if refusal is not None:
            response.message = f'refused, the running model is untouched: {refusal}'
            return response
        new_id = setup.runtime.model_id
        topics = [(m, sub.topic_name) for m, sub in zip(self.topics, self.subscriptions)]
        peers, problems = await model_swap.find_encoders(self.node, topics)
        prepared = []
        try:
            for peer in peers:
                ok, message, model_id = await peer.call(
                    LoadModel.Request.PREPARE, checkpoint, timeout=model_swap.PREPARE_TIMEOUT
                )
                if ok and new_id and model_id != new_id:
                    ok, message = False, (
                        f'{peer.service} loaded model {model_id or "(no id)"}, the fusion node '
                        f'{new_id}: they must read the same checkpoint'
                    )
                    prepared.append(peer)
                if not ok:
                    problems.append(message)
                    continue
                prepared.append(peer)
            if problems:
                for peer in prepared:
                    await peer.call(LoadModel.Request.ABORT, timeout=model_swap.COMMIT_TIMEOUT)
                response.message = 'refused, the running model is untouched: ' + '; '.join(
                    problems
                )
                return response
            with self._swap_lock:
                newest = self._newest_stamp
            hop = self.description.window.hop
            switch_at = (
                0 if newest is None else next_boundary(newest, hop, max(1.0, 2.0 * hop))
            )
            late = []
            for peer in peers:
                ok, message, _ = await peer.call(
                    LoadModel.Request.COMMIT,
                    switch_at=_stamp(switch_at),
                    timeout=model_swap.COMMIT_TIMEOUT,
                )
                if not ok:
                    late.append(message)
        finally:
            for peer in peers:
                peer.close()
        setup.runtime.reset('model swap')
        with self._swap_lock:
            pending = _PendingSwap(setup, switch_at)
            if newest is None:
                self._switch(pending)
            else:
                self._pending = pending
        response.success = True
        response.model_id, response.switch_at = new_id, _stamp(switch_at)
        response.message = (
            f'model {response.previous_model_id} -> {new_id}: the fusion node and '
            f'{len(peers)} encoder(s) switch at the window ending {switch_at / NS_PER_S:.3f}'
            + (f'; not committed: {"; ".join(late)}' if late else '')
        )
        self.node.get_logger().info(response.message)
        return response


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
