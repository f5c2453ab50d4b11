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
described there and in the README); the model is the torch backend of core/fusion_backend.py.
This module is the wiring: parameters, subscriptions, timers, the reset service, message
conversion and diagnostics.

The node is available as a plain node (``fusion_node``) and as a managed lifecycle node
(``fusion_lifecycle_node``: configure loads the model, activate starts publishing through
lifecycle publishers).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, List, Optional

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from hybrid_fusion_msgs.msg import ActivityLabel
from hybrid_fusion_msgs.msg import FeatureVector
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.exceptions import ParameterUninitializedException
from rclpy.lifecycle import LifecycleNode
from rclpy.lifecycle import LifecycleState
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger

from . import conversions as conv
from . import diagnostics as diag
from .core.contract import StateContract
from .core.fusion_runtime import Feature
from .core.fusion_runtime import FUSION_MODES
from .core.fusion_runtime import FusionRuntime
from .core.fusion_runtime import FusionSettings
from .core.fusion_runtime import InputHealth
from .core.fusion_runtime import LabelRecord
from .core.fusion_runtime import NS_PER_S
from .core.fusion_runtime import SETTING_NAMES
from .core.stats import LatencyWindow
from .core.stats import RateMeter
from .node_common import backend_choice
from .node_common import backend_line
from .node_common import declare_backend_parameters
from .node_common import declare_executor_parameter
from .node_common import describe
from .node_common import InternalErrors
from .node_common import onnx_options
from .node_common import run_node
from .node_common import StartupError
from .qos import DIAGNOSTICS_QOS
from .qos import RESULT_QOS

WARNING_PERIOD = 5.0  # s between two warnings of the same cause


def declare_fusion_parameters(node: Node) -> None:
    """Declare every fusion parameter (names as in config/classifier.yaml)."""
    p, d = node.declare_parameter, FusionSettings()
    p('checkpoint', '', describe('checkpoint file; empty: the packaged default', True))
    p('fusion_mode', d.fusion_mode, describe(f'fusion mode: {", ".join(FUSION_MODES)}'))
    p(
        'model',
        '',
        describe(
            'fusion model of the checkpoint used in early and async modes, by '
            "strategy (e.g. 'attention', which reports per-modality weights); "
            "empty: the checkpoint's primary model",
            True,
        ),
    )
    p('slop', d.slop, describe('early mode: max stamp spread of one matched feature set (s)'))
    p(
        'queue_size',
        d.queue_size,
        describe('early mode: features kept per input while waiting for a match', True),
    )
    p(
        'input_timeout',
        d.input_timeout,
        describe(
            'early mode: an input silent this long (s, in stamp time and on the wall clock) is '
            'masked and sets are fused without it until it speaks again; 0: wait for every input',
            True,
        ),
    )
    p('fusion_rate_hz', d.fusion_rate_hz, describe('late and async modes: label rate (Hz)'))
    p(
        'max_age',
        d.max_age,
        describe('late and async modes: features older than this (s) are stale and masked'),
    )
    p(
        'feature_topic_prefix',
        'features',
        describe('features are read from <prefix>/<input>', True),
    )
    p('label_topic', 'activity', describe('topic of the published ActivityLabel', True))
    p(
        'reset_after',
        -1.0,
        describe(
            'reset the LSTM state after a gap in features longer than this (s); negative: the '
            "checkpoint's state contract, decided in training from its data (5.0 for "
            'checkpoints without one)'
        ),
    )
    p(
        'jump_threshold',
        d.jump_threshold,
        describe(
            'a feature stamped this much (s) before the last one is a clock jump (state reset); '
            'less is out of order (dropped, counted)'
        ),
    )
    p(
        'stale_timeout',
        d.stale_timeout,
        describe(
            'seconds without a feature (a label) before its input (the fusion status) is WARN'
        ),
    )
    p(
        'stale_error_timeout',
        d.stale_error_timeout,
        describe(
            'seconds without a feature (a label) before its input (the fusion status) is ERROR'
        ),
    )
    p('latency_warn_ms', d.latency_warn_ms, describe('label latency p95 above this is WARN'))
    p('latency_error_ms', d.latency_error_ms, describe('label latency p95 above this is ERROR'))
    p('diagnostics_period', 1.0, describe('seconds between /diagnostics messages', True))
    p(
        'torch_threads',
        1,
        describe(
            'intra-op threads of the inference backend (torch or onnxruntime) for this process',
            True,
        ),
    )
    declare_backend_parameters(node)
    p(
        'modalities',
        Parameter.Type.STRING_ARRAY,
        describe("modalities to fuse; unset: the checkpoint's, in its order", True),
    )
    declare_executor_parameter(node)


def _stamp(ns: int) -> Time:
    return Time(sec=ns // NS_PER_S, nanosec=ns % NS_PER_S)


class FusionPipeline:
    """The fusion node's ROS side, built on a node (plain or lifecycle) around a
    :class:`FusionRuntime`. On a lifecycle node the publishers are lifecycle publishers, and
    the node fuses only while they are activated."""

    def __init__(self, node: Node) -> None:
        self.node = node
        get = lambda name: node.get_parameter(name).value  # noqa: E731 - local shorthand
        self.backend = backend_choice(node)
        classes, steppers, runtime = self._load_steppers(get)
        self.contract = StateContract.from_dict(runtime)
        try:
            settings = FusionSettings(
                **self._resolved({name: get(name) for name in SETTING_NAMES})
            )
            self.runtime = FusionRuntime(
                steppers, classes, settings, model=get('model'), log=self._log
            )
        except ValueError as exc:
            raise StartupError(str(exc)) from exc
        self.backend_warnings = sorted(
            {w for st in steppers.values() for w in getattr(st, 'warnings', [])}
        )
        for warning in self.backend_warnings:
            node.get_logger().warning(warning)
        modalities = self.runtime.modalities
        try:
            wanted = get('modalities')
        except ParameterUninitializedException:
            wanted = None
        if wanted and list(wanted) != modalities:
            raise StartupError(
                f"modalities {list(wanted)} do not match the checkpoint's fusion "
                f'model {modalities}'
            )
        self.errors = InternalErrors(node)
        self._warned: Dict[str, float] = {}
        self.label_latency = LatencyWindow()
        self.label_rate = RateMeter()
        self._errors_reported, self._last_error = 0, -float('inf')
        self._had_publisher: set = set()
        self.topics = {m: f'{get("feature_topic_prefix")}/{m}' for m in modalities}
        create_publisher = getattr(node, 'create_lifecycle_publisher', node.create_publisher)
        self.label_pub = create_publisher(ActivityLabel, get('label_topic'), RESULT_QOS)
        self.diag_pub = create_publisher(DiagnosticArray, '/diagnostics', DIAGNOSTICS_QOS)
        # With `executor: multi`, features keep arriving while a timer runs; the runtime
        # serializes them with its lock.
        inputs_group = ReentrantCallbackGroup()
        self.subscriptions = [
            node.create_subscription(
                FeatureVector,
                self.topics[m],
                self._input_callback(m),
                RESULT_QOS,
                callback_group=inputs_group,
            )
            for m in modalities
        ]
        self.reset_service = node.create_service(
            Trigger,
            '~/reset',
            self.errors.guard(
                self._on_reset,
                'reset service',
                on_error=lambda exc: Trigger.Response(
                    success=False, message=f'internal error: {exc}'
                ),
            ),
        )
        self.diag_timer = node.create_timer(
            float(get('diagnostics_period')),
            self.errors.guard(self._publish_diagnostics, 'diagnostics timer'),
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self._fusion_group = MutuallyExclusiveCallbackGroup()
        self._on_fusion_timer = self.errors.guard(self._fuse_on_timer, 'fusion timer')
        self.fusion_timer = self._create_fusion_timer()
        self._on_set_parameters = self.errors.guard(
            self._set_parameters,
            'parameter callback',
            on_error=lambda exc: SetParametersResult(
                successful=False, reason=f'internal error: {exc}'
            ),
        )
        node.add_on_set_parameters_callback(self._on_set_parameters)
        rt = self.runtime
        node.get_logger().info(
            f'state: reset after {rt.settings.reset_after:g} s without features'
            + (
                f' (checkpoint: {self.contract.why})'
                if get('reset_after') < 0
                else ' (reset_after parameter)'
            )
        )
        node.get_logger().info(
            f'fusing {modalities} in {rt.settings.fusion_mode} mode (models: {rt.strategies}, '
            f'early/async use {rt.primary_name}) -> {get("label_topic")}, '
            f'{backend_line(self.backend)}'
        )

    def _resolved(self, values: Dict[str, Any]) -> Dict[str, Any]:
        """Parameter values with a negative ``reset_after`` replaced by the checkpoint's."""
        value = values.get('reset_after')
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            values = {**values, 'reset_after': self.contract.reset_after}
        return values

    def _load_steppers(self, get: Callable[[str], Any]):
        """The checkpoint's classes, fusion steppers from the chosen backend, and state
        contract; only the torch backend imports torch."""
        if self.backend == 'torch':
            from .core.checkpoint import CheckpointError
            from .core.fusion_backend import load_torch_fusion

            try:
                return load_torch_fusion(get('checkpoint'), get('torch_threads'))
            except CheckpointError as exc:
                raise StartupError(str(exc)) from exc
        from .core.onnx_backend import load_onnx_fusion
        from .core.onnx_backend import OnnxBackendError

        try:
            return load_onnx_fusion(
                get('checkpoint') or None, int(get('torch_threads')), **onnx_options(self.node)
            )
        except OnnxBackendError as exc:
            raise StartupError(str(exc)) from exc

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

    def _log(self, level: str, cause: str, text: str) -> None:
        """The runtime's log: warnings throttled per cause."""
        logger = self.node.get_logger()
        if level == 'info':
            logger.info(text)
            return
        now = time.monotonic()
        if now - self._warned.get(cause, -WARNING_PERIOD) >= WARNING_PERIOD:
            self._warned[cause] = now
            logger.warning(text)

    def _now(self) -> int:
        return self.node.get_clock().now().nanoseconds

    # --- callbacks --------------------------------------------------------------------------
    def _create_fusion_timer(self):
        return self.node.create_timer(
            self.runtime.timer_period, self._on_fusion_timer, callback_group=self._fusion_group
        )

    def _set_parameters(self, params: List[Parameter]) -> SetParametersResult:
        error = self.runtime.set_parameters(self._resolved({p.name: p.value for p in params}))
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
            feature = Feature(
                values,
                conv.stamp_to_ns(msg.header.stamp),
                conv.stamp_to_ns(msg.newest_sample_stamp),
                msg.modality,
            )
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
            self.label_latency.add(latency_ms)
            self.label_rate.tick(time.monotonic())

    # --- diagnostics ------------------------------------------------------------------------
    def _encoder_gone(self, topic: str) -> bool:
        """The topic had a publisher and has none any more."""
        if self.node.count_publishers(topic):
            self._had_publisher.add(topic)
            return False
        return topic in self._had_publisher

    def _input_status(self, h: InputHealth, now: int) -> DiagnosticStatus:
        s, topic = self.runtime.settings, self.topics[h.modality]
        level, text = diag.freshness(
            h.received, h.age, s.stale_timeout, s.stale_error_timeout, 'features'
        )
        if h.masked:
            level, text = max(level, diag.WARN), f'no features for {h.silent_for:.1f}s; masked'
        if self._encoder_gone(topic):
            level = max(level, diag.WARN)
            text = f'no publisher on {topic} (encoder gone)' + ('; masked' if h.masked else '')
        return diag.status(
            f'{self.node.get_name()}: {topic} topic status',
            h.modality,
            level,
            text,
            {
                'Events since startup': h.received,
                'Actual frequency (Hz)': h.rate_hz,
                'Age of last message (s)': h.age,
                'Masked': h.masked,
                'Latest timestamp delay (s)': (
                    float('inf') if h.latest_stamp is None else (now - h.latest_stamp) / NS_PER_S
                ),
                'Dropped total': sum(h.drops.values()),
                **{f'Dropped ({k})': v for k, v in sorted(h.drops.items())},
                **diag.latency_values('Sensor to feature latency', h.latency_ms),
            },
        )

    def _fusion_status(self, mono: float) -> DiagnosticStatus:
        rt, s = self.runtime, self.runtime.settings
        lat = self.label_latency.percentiles()
        p95 = lat.get('p95', 0.0)
        # Labels that stop coming (a dead encoder, a stalled input, a model that cannot step)
        # are the failure an operator must see here, whatever its cause.
        level, text = diag.freshness(
            self.label_rate.count,
            self.label_rate.age(mono),
            s.stale_timeout,
            s.stale_error_timeout,
            'labels',
        )
        if level == diag.OK:
            if p95 > s.latency_error_ms:
                level, text = (
                    diag.ERROR,
                    f'label latency p95 {p95:.0f} ms > {s.latency_error_ms:.0f} ms',
                )
            elif p95 > s.latency_warn_ms:
                level, text = (
                    diag.WARN,
                    f'label latency p95 {p95:.0f} ms > {s.latency_warn_ms:.0f} ms',
                )
            else:
                text = f'{self.label_rate.count} labels'
        # An internal error is ERROR in the period it happened, then WARN for
        # stale_error_timeout, so that a reader sees it; its traceback is in the log.
        errors = self.errors.count
        if errors > self._errors_reported:
            level = diag.ERROR
            text = f'{errors - self._errors_reported} internal error(s) (traceback in the log)'
            self._errors_reported, self._last_error = errors, mono
        elif mono - self._last_error <= s.stale_error_timeout and level < diag.WARN:
            level, text = diag.WARN, f'internal error {mono - self._last_error:.1f}s ago'
        if self.backend_warnings and level < diag.WARN:  # e.g. a slower provider than asked
            level, text = diag.WARN, self.backend_warnings[0]
        return diag.status(
            f'{self.node.get_name()}: fusion',
            'fusion',
            level,
            text,
            {
                'Inference backend': self.backend,
                'Fusion mode': s.fusion_mode,
                'Fusion rate (Hz)': s.fusion_rate_hz,
                'Max age (s)': s.max_age,
                'Input timeout (s)': s.input_timeout,
                'Labels': self.label_rate.count,
                'Label frequency (Hz)': self.label_rate.rate(mono),
                'Matched feature sets': rt.sync.stats.matched,
                'Sets with an input masked': rt.sync.stats.partial,
                'State resets': rt.state_resets,
                'Internal errors': errors,
                **{f'Dropped ({k})': v for k, v in sorted(rt.fusion_drops.snapshot().items())},
                **diag.latency_values('Fusion step time', rt.step_ms.percentiles()),
                **diag.latency_values('Sensor to label latency', lat),
            },
        )

    def _publish_diagnostics(self) -> None:
        if not self.active:
            return
        now = self._now()
        statuses = [self._input_status(h, now) for h in self.runtime.input_health(now)]
        statuses.append(self._fusion_status(time.monotonic()))
        self.diag_pub.publish(diag.array_msg(_stamp(now), statuses))


class FusionNode(Node):
    """The fusion node: the pipeline is built and active from the start."""

    def __init__(self, node_name: str = 'fusion_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_fusion_parameters(self)
        self.pipeline = FusionPipeline(self)


class FusionLifecycleNode(LifecycleNode):
    """The fusion node as a managed node: configure loads the model and wires the topics,
    activate and deactivate switch its lifecycle publishers (LifecycleNode's own transitions
    do that), cleanup releases everything."""

    def __init__(self, node_name: str = 'fusion_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_fusion_parameters(self)
        self.pipeline: Optional[FusionPipeline] = None

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.pipeline = FusionPipeline(self)
        except StartupError as exc:
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
    sys.exit(run_node(FusionNode, 'fusion_node', args))


def main_lifecycle(args: Optional[List[str]] = None) -> None:
    sys.exit(run_node(FusionLifecycleNode, 'fusion_node', args))


if __name__ == '__main__':
    main()
