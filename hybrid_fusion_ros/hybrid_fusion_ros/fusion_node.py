"""Fusion node: fuses the modalities' feature vectors with an LSTM that keeps its state across
windows, and publishes activity labels on ``activity`` and its health on ``/diagnostics``.

Fusion modes (parameter ``fusion_mode``, changeable at run time):

- ``early``: feature sets matched by an ApproximateTime synchronizer -> one LSTM step of the
  fusion model -> a label per window;
- ``late``: each modality's own LSTM and head (the checkpoint's ``late`` model) advance when
  that modality's feature arrives; the decisions of the modalities whose latest feature is not
  older than ``max_age`` are fused on a timer at ``fusion_rate_hz``;
- ``async``: on a timer at ``fusion_rate_hz``, the latest feature of each modality not older
  than ``max_age`` is fused (stale modalities are masked). The LSTM advances only when a
  feature is new since its last step, so one step is still one window, as in training;
  labels are published at the fusion rate either way.

The node is available as a plain node (``fusion_node``) and as a managed lifecycle node
(``fusion_lifecycle_node``: configure loads the model, activate starts publishing).
"""
from __future__ import annotations

import math
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray
from hybrid_fusion_msgs.msg import ActivityLabel, FeatureVector
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.exceptions import ParameterUninitializedException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger

from . import conversions as conv
from . import diagnostics as diag
from .core.checkpoint import Checkpoint, CheckpointError
from .core.fusion import FusionModel
from .core.stats import DropCounter, LatencyWindow, RateMeter
from .core.sync import ApproximateTimeSynchronizer, Input
from .node_common import StartupError, declare_executor_parameter, describe, run_node
from .qos import DIAGNOSTICS_QOS, RESULT_QOS

FUSION_MODES = ('early', 'late', 'async')
NON_NEGATIVE = ('reset_after', 'jump_threshold', 'stale_timeout', 'stale_error_timeout',
                'latency_warn_ms', 'latency_error_ms')
POSITIVE = ('slop', 'fusion_rate_hz', 'max_age')


def declare_fusion_parameters(node: Node) -> None:
    """Declare every fusion parameter (names as in config/classifier.yaml)."""
    p = node.declare_parameter
    p('checkpoint', '', describe('checkpoint file; empty: the packaged default', True))
    p('fusion_mode', 'early', describe(f'fusion mode: {", ".join(FUSION_MODES)}'))
    p('model', '', describe("fusion model of the checkpoint used in early and async modes, by strategy "
                            "(e.g. 'attention', which reports per-modality weights); empty: the "
                            "checkpoint's primary model", True))
    p('slop', 0.05, describe('early mode: max stamp spread of one matched feature set (s)'))
    p('queue_size', 10, describe('early mode: features kept per input while waiting for a match', True))
    p('input_timeout', 0.0, describe('early mode: an input silent this long (s, stamp time) is masked and '
                                     'sets are fused without it; 0: wait for every input', True))
    p('fusion_rate_hz', 10.0, describe('late and async modes: fusion (label) rate (Hz)'))
    p('max_age', 1.0, describe('late and async modes: features older than this (s) are stale and masked'))
    p('feature_topic_prefix', 'features', describe('features are read from <prefix>/<modality>', True))
    p('label_topic', 'activity', describe('topic of the published ActivityLabel', True))
    p('reset_after', 5.0, describe('reset the LSTM state after a gap in features longer than this (s)'))
    p('jump_threshold', 1.0, describe('a feature stamped this much (s) before the last one is a clock '
                                      'jump (state reset); less is out of order (dropped, counted)'))
    p('stale_timeout', 2.0, describe('seconds without a feature (a label) before its input (the fusion '
                                     'status) is WARN'))
    p('stale_error_timeout', 10.0, describe('seconds without a feature (a label) before its input (the fusion '
                                            'status) is ERROR'))
    p('latency_warn_ms', 250.0, describe('label latency p95 above this is WARN'))
    p('latency_error_ms', 1000.0, describe('label latency p95 above this is ERROR'))
    p('diagnostics_period', 1.0, describe('seconds between /diagnostics messages', True))
    p('torch_threads', 1, describe('torch intra-op threads for this process', True))
    p('modalities', Parameter.Type.STRING_ARRAY, describe(
        "modalities to fuse; unset: the checkpoint's, in its order", True))
    declare_executor_parameter(node)


@dataclass
class LatestFeature:
    stamp: float            # window end (s)
    newest_sample: float    # newest sensor sample inside the window (s)
    tensor: torch.Tensor    # (1, D)
    seq: int                # arrival counter, to tell a new feature from one already used


class FusionPipeline:
    """Everything the fusion node does, built on a node (plain or lifecycle)."""

    def __init__(self, node: Node, active: bool = True) -> None:
        self.node = node
        self.active = active
        get = lambda name: node.get_parameter(name).value  # noqa: E731 - local shorthand
        torch.set_num_threads(max(1, int(get('torch_threads'))))
        self.fusion_mode = get('fusion_mode')
        self.fusion_rate_hz = float(get('fusion_rate_hz'))
        for name in (*NON_NEGATIVE, 'slop', 'max_age'):
            setattr(self, name, float(get(name)))
        try:
            ckpt = Checkpoint.load(get('checkpoint') or None)
            self.models: Dict[str, FusionModel] = {s: ckpt.build_fusion(s) for s in ckpt.fusion_strategies}
        except CheckpointError as exc:
            raise StartupError(str(exc)) from exc
        self.primary = get('model') or ckpt.fusion_strategies[0]
        if self.primary not in self.models or self.primary == 'late':
            raise StartupError(f"model '{self.primary}' cannot serve early/async modes; the checkpoint has "
                               f'{ckpt.fusion_strategies} (late is used by fusion_mode late)')
        error = self._mode_error(self.fusion_mode)
        if error:
            raise StartupError(error)
        self.classes = ckpt.classes
        self.modalities: List[str] = self.models[self.primary].modalities
        self.feature_dims: List[int] = list(self.models[self.primary].config.feature_dims)
        try:
            wanted = get('modalities')
        except ParameterUninitializedException:
            wanted = None
        if wanted and list(wanted) != self.modalities:
            raise StartupError(f"modalities {list(wanted)} do not match the checkpoint's fusion model {self.modalities}")

        self._lock = threading.Lock()       # guards model state and `latest`
        self._state: Optional[tuple] = None
        self._last_step_seq: Dict[str, int] = {}
        self._seq = 0
        self.latest: Dict[str, LatestFeature] = {}
        self._last_output = None
        self._last_fused_stamp: Optional[float] = None
        self.state_resets = 0
        self.drops = {m: DropCounter() for m in self.modalities}
        self.fusion_drops = DropCounter()
        self.rates = {m: RateMeter() for m in self.modalities}
        self.feature_latency = {m: LatencyWindow() for m in self.modalities}
        self.label_latency = LatencyWindow()
        self.step_ms = LatencyWindow()
        self.label_rate = RateMeter()

        self.inputs = [Input() for _ in self.modalities]
        timeout = float(get('input_timeout'))
        self.sync = ApproximateTimeSynchronizer(self.inputs, int(get('queue_size')), self.slop,
                                                timeouts=[timeout if timeout > 0 else None] * len(self.inputs))
        self.sync.registerCallback(self._on_matched)
        prefix = get('feature_topic_prefix')
        self.label_pub = node.create_publisher(ActivityLabel, get('label_topic'), RESULT_QOS)
        self.diag_pub = node.create_publisher(DiagnosticArray, '/diagnostics', DIAGNOSTICS_QOS)
        # With `executor: multi`, features keep arriving while the model runs: the inputs are
        # reentrant, the synchronizer releases its lock before fusing, the model has its own.
        inputs_group = ReentrantCallbackGroup()
        self.subscriptions = [node.create_subscription(FeatureVector, f'{prefix}/{m}', self._input_callback(i),
                                                       RESULT_QOS, callback_group=inputs_group)
                              for i, m in enumerate(self.modalities)]
        self.reset_service = node.create_service(Trigger, '~/reset', self._on_reset)
        self._diag_group = MutuallyExclusiveCallbackGroup()
        self.diag_timer = node.create_timer(float(get('diagnostics_period')), self._publish_diagnostics,
                                            callback_group=self._diag_group)
        self._fusion_group = MutuallyExclusiveCallbackGroup()
        self.fusion_timer = node.create_timer(1.0 / self.fusion_rate_hz, self._on_fusion_timer,
                                              callback_group=self._fusion_group)
        node.add_on_set_parameters_callback(self._on_set_parameters)
        node.get_logger().info(f'fusing {self.modalities} in {self.fusion_mode} mode (models: '
                               f'{list(self.models)}, early/async use {self.primary}) -> {get("label_topic")}')

    def destroy(self) -> None:
        n = self.node
        n.remove_on_set_parameters_callback(self._on_set_parameters)
        for s in self.subscriptions:
            n.destroy_subscription(s)
        for t in (self.diag_timer, self.fusion_timer):
            n.destroy_timer(t)
        n.destroy_service(self.reset_service)
        n.destroy_publisher(self.label_pub)
        n.destroy_publisher(self.diag_pub)

    # --- parameters -------------------------------------------------------------------------
    def _mode_error(self, mode: Any) -> Optional[str]:
        if mode not in FUSION_MODES:
            return f'fusion_mode must be one of {list(FUSION_MODES)}, got {mode!r}'
        if mode == 'late' and 'late' not in self.models:
            return f"fusion_mode late needs a 'late' model in the checkpoint; it has {list(self.models)}"
        return None

    def _on_set_parameters(self, params: List[Parameter]) -> SetParametersResult:
        for param in params:
            if param.name == 'fusion_mode':
                error = self._mode_error(param.value)
                if error:
                    return SetParametersResult(successful=False, reason=error)
            elif param.name in NON_NEGATIVE + POSITIVE:
                ok = isinstance(param.value, (int, float)) and not isinstance(param.value, bool) \
                    and math.isfinite(param.value)   # NaN passes every comparison below, inf breaks timers
                if not ok or (param.value <= 0 if param.name in POSITIVE else param.value < 0):
                    bound = '> 0' if param.name in POSITIVE else '>= 0'
                    return SetParametersResult(successful=False,
                                               reason=f'{param.name} must be a finite number {bound}')
        for param in params:
            if param.name == 'fusion_mode' and param.value != self.fusion_mode:
                self.fusion_mode = param.value
                self.sync.reset()
                self.reset_state(f'fusion_mode changed to {param.value}')
            elif param.name == 'slop':
                self.sync.slop = float(param.value)
            elif param.name == 'fusion_rate_hz':
                self.fusion_rate_hz = float(param.value)
                self.node.destroy_timer(self.fusion_timer)
                self.fusion_timer = self.node.create_timer(1.0 / self.fusion_rate_hz, self._on_fusion_timer,
                                                           callback_group=self._fusion_group)
            elif param.name in NON_NEGATIVE + POSITIVE:
                setattr(self, param.name, float(param.value))
        return SetParametersResult(successful=True)

    # --- state ------------------------------------------------------------------------------
    def _now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def reset_state(self, reason: str) -> None:
        with self._lock:
            self._state = None
            self._last_output = None
            self._last_step_seq.clear()
            self._last_fused_stamp = None
            self.state_resets += 1
        self.node.get_logger().info(f'LSTM state reset: {reason}')

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.reset_state('~/reset service')
        response.success, response.message = True, 'state reset'
        return response

    # --- inputs -----------------------------------------------------------------------------
    def _input_callback(self, index: int):
        modality = self.modalities[index]
        drops = self.drops[modality]

        def callback(msg: FeatureVector) -> None:
            if not self.active:
                return
            if msg.modality and msg.modality != modality:
                drops.add('invalid')
                self.node.get_logger().warning(f"feature on the {modality} input says modality '{msg.modality}'",
                                               throttle_duration_sec=5.0)
                return
            try:
                feature = conv.msg_to_feature(msg)
                if feature.size != self.feature_dims[index]:   # another model's encoder on this topic
                    raise conv.InputError('invalid', f'{modality} feature has {feature.size} values, the model '
                                                     f'takes {self.feature_dims[index]}')
                tensor = torch.from_numpy(feature.reshape(1, -1).copy())
            except conv.InputError as exc:
                drops.add('invalid')
                self.node.get_logger().warning(f'dropped {modality} feature: {exc}', throttle_duration_sec=5.0)
                return
            stamp = conv.stamp_to_sec(msg.header.stamp)
            newest = conv.stamp_to_sec(msg.newest_sample_stamp)
            last = self.latest.get(modality)
            if last is not None and stamp <= last.stamp:
                if stamp < last.stamp - self.jump_threshold:
                    self.sync.reset()
                    with self._lock:
                        self.latest.clear()
                    self.reset_state(f'{modality} time jumped back {last.stamp - stamp:.2f}s')
                else:
                    drops.add('out_of_order')
                    self.node.get_logger().warning(f'dropped {modality} feature stamped {stamp:.3f}: not after the '
                                                   f'last one ({last.stamp:.3f})', throttle_duration_sec=5.0)
                    return
            now = self._now()
            self.rates[modality].tick(time.monotonic())
            self.feature_latency[modality].add((now - newest) * 1e3)
            if self.fusion_mode != 'early' and now - stamp > self.max_age:
                drops.add('late')
                return
            with self._lock:
                self._seq += 1
                self.latest[modality] = LatestFeature(stamp, newest, tensor, self._seq)
            if self.fusion_mode == 'early':
                self.inputs[index].add(msg)
            elif self.fusion_mode == 'late':
                self._late_update(index)
        return callback

    def _check_gap(self, stamp: float, previous: Optional[float]) -> None:
        if previous is not None and stamp - previous > self.reset_after:
            self.reset_state(f'gap of {stamp - previous:.2f}s between features')

    # --- early ------------------------------------------------------------------------------
    def _on_matched(self, *msgs: Optional[FeatureVector]) -> None:
        """A synchronized set; ``None`` stands for an input that timed out (masked)."""
        present = [m for m in msgs if m is not None]
        stamp = conv.stamp_to_sec(present[0].header.stamp)
        feats = [torch.from_numpy(conv.msg_to_feature(m).reshape(1, -1).copy()) if m is not None  # validated on input
                 else torch.zeros(1, dim) for m, dim in zip(msgs, self.models[self.primary].config.feature_dims)]
        mask = torch.tensor([[0.0 if m is None else 1.0 for m in msgs]])
        self._check_gap(stamp, self._last_fused_stamp)
        self._last_fused_stamp = stamp
        newest = max(conv.stamp_to_sec(m.newest_sample_stamp) for m in present)
        used = [mod for mod, m in zip(self.modalities, msgs) if m is not None]
        self._step_and_publish(self.primary, feats, mask, present[0].header.stamp, newest, used)

    # --- late -------------------------------------------------------------------------------
    def _late_update(self, index: int) -> None:
        model = self.models['late']
        feature = self.latest[self.modalities[index]]
        mask = torch.zeros(1, len(self.modalities))
        mask[0, index] = 1.0
        feats = [feature.tensor if i == index else torch.zeros_like(self.latest[m].tensor)
                 if m in self.latest else torch.zeros(1, model.config.feature_dims[i])
                 for i, m in enumerate(self.modalities)]
        start = time.perf_counter()
        with self._lock, torch.no_grad():
            self._state = model.step(feats, mask, self._state).state
        self.step_ms.add((time.perf_counter() - start) * 1e3)

    # --- timer modes --------------------------------------------------------------------------
    def _fresh(self, now: float) -> List[str]:
        return [m for m in self.modalities if m in self.latest and now - self.latest[m].stamp <= self.max_age]

    def _on_fusion_timer(self) -> None:
        if not self.active or self.fusion_mode == 'early':
            return
        now = self._now()
        with self._lock:
            fresh = self._fresh(now)
            latest = dict(self.latest)
        if not fresh:
            if latest:
                self.fusion_drops.add('no_fresh_input')
            return
        newest_stamp = max(latest[m].stamp for m in fresh)
        self._check_gap(newest_stamp, self._last_fused_stamp)
        self._last_fused_stamp = newest_stamp
        newest_sample = max(latest[m].newest_sample for m in fresh)
        mask = torch.tensor([[1.0 if m in fresh else 0.0 for m in self.modalities]])
        stamp = conv.sec_to_stamp(newest_stamp)
        if self.fusion_mode == 'late':
            start = time.perf_counter()
            with self._lock, torch.no_grad():
                if self._state is None:
                    return
                logp, weights = self.models['late'].decide(self._state, mask)
            self.step_ms.add((time.perf_counter() - start) * 1e3)
            self._publish(torch.softmax(logp[0], 0).numpy(), weights[0].numpy(), stamp, newest_sample, fresh)
            return
        # async: advance the LSTM only when a used feature is new since the last step.
        if any(latest[m].seq != self._last_step_seq.get(m) for m in fresh) or self._last_output is None:
            feats = [latest[m].tensor if m in fresh else torch.zeros_like(latest[m].tensor) if m in latest
                     else torch.zeros(1, self.models[self.primary].config.feature_dims[i])
                     for i, m in enumerate(self.modalities)]
            self._last_step_seq = {m: latest[m].seq for m in fresh}
            self._step_and_publish(self.primary, feats, mask, stamp, newest_sample, fresh)
        else:
            probs, weights = self._last_output
            self._publish(probs, weights, stamp, newest_sample, fresh)

    # --- output -----------------------------------------------------------------------------
    def _step_and_publish(self, strategy: str, feats, mask, stamp, newest_sample: float, used: List[str]) -> None:
        start = time.perf_counter()
        with self._lock, torch.no_grad():
            out = self.models[strategy].step(feats, mask, self._state)
            self._state = out.state
        self.step_ms.add((time.perf_counter() - start) * 1e3)
        probs = torch.softmax(out.logits[0], dim=0).numpy()
        weights = None if out.modality_weights is None else out.modality_weights[0].numpy()
        self._last_output = (probs, weights)
        self._publish(probs, weights, stamp, newest_sample, used)

    def _publish(self, probs: np.ndarray, weights: Optional[np.ndarray], stamp, newest_sample: float,
                 used: List[str]) -> None:
        if not self.active:
            return
        latency_ms = (self._now() - newest_sample) * 1e3
        if weights is not None:  # contributions of the modalities used, in their order
            weights = np.array([weights[self.modalities.index(m)] for m in used])
        self.label_pub.publish(conv.make_label(stamp, self.classes, probs, int(np.argmax(probs)), used,
                                               self.fusion_mode, latency_ms, weights))
        self.label_latency.add(latency_ms)
        self.label_rate.tick(time.monotonic())

    # --- diagnostics ------------------------------------------------------------------------
    def input_drops(self, index: int) -> Dict[str, int]:
        out = self.drops[self.modalities[index]].snapshot()
        if self.sync.stats.dropped[index]:
            out['unmatched'] = self.sync.stats.dropped[index]
        return out

    def _publish_diagnostics(self) -> None:
        if not self.active:
            return
        mono, now = time.monotonic(), self._now()
        name = self.node.get_name()
        statuses = []
        for i, m in enumerate(self.modalities):
            rate = self.rates[m]
            age = rate.age(mono)
            level, text = diag.freshness(rate.count, age, self.stale_timeout, self.stale_error_timeout, 'features')
            drops = self.input_drops(i)
            latest = self.latest.get(m)
            statuses.append(diag.status(f'{name}: features/{m} topic status', m, level, text, {
                'Events since startup': rate.count, 'Actual frequency (Hz)': rate.rate(mono),
                'Age of last message (s)': age,
                'Latest timestamp delay (s)': now - latest.stamp if latest else float('inf'),
                'Dropped total': sum(drops.values()), **{f'Dropped ({k})': v for k, v in sorted(drops.items())},
                **diag.latency_values('Sensor to feature latency', self.feature_latency[m].percentiles())}))
        lat = self.label_latency.percentiles()
        p95 = lat.get('p95', 0.0)
        # Labels that stop coming (a dead encoder, a stalled input, a model that cannot step) are
        # the failure an operator must see here, whatever its cause.
        level, text = diag.freshness(self.label_rate.count, self.label_rate.age(mono), self.stale_timeout,
                                     self.stale_error_timeout, 'labels')
        if level == diag.OK:
            if p95 > self.latency_error_ms:
                level, text = diag.ERROR, f'label latency p95 {p95:.0f} ms > {self.latency_error_ms:.0f} ms'
            elif p95 > self.latency_warn_ms:
                level, text = diag.WARN, f'label latency p95 {p95:.0f} ms > {self.latency_warn_ms:.0f} ms'
            else:
                text = f'{self.label_rate.count} labels'
        statuses.append(diag.status(f'{name}: fusion', 'fusion', level, text, {
            'Fusion mode': self.fusion_mode, 'Fusion rate (Hz)': self.fusion_rate_hz, 'Max age (s)': self.max_age,
            'Labels': self.label_rate.count, 'Label frequency (Hz)': self.label_rate.rate(mono),
            'Matched feature sets': self.sync.stats.matched, 'State resets': self.state_resets,
            **{f'Dropped ({k})': v for k, v in sorted(self.fusion_drops.snapshot().items())},
            **diag.latency_values('Fusion step time', self.step_ms.percentiles()),
            **diag.latency_values('Sensor to label latency', lat)}))
        self.diag_pub.publish(diag.array_msg(self.node.get_clock().now().to_msg(), statuses))


class FusionNode(Node):
    """The fusion node: the pipeline is built and active from the start."""

    def __init__(self, node_name: str = 'fusion_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_fusion_parameters(self)
        self.pipeline = FusionPipeline(self)


class FusionLifecycleNode(LifecycleNode):
    """The fusion node as a managed node: configure loads the model and wires the topics,
    activate starts fusing and publishing, deactivate stops, cleanup releases everything."""

    def __init__(self, node_name: str = 'fusion_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        declare_fusion_parameters(self)
        self.pipeline: Optional[FusionPipeline] = None

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self.pipeline = FusionPipeline(self, active=False)
        except StartupError as exc:
            self.get_logger().error(f'cannot configure: {exc}')
            return TransitionCallbackReturn.FAILURE
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.pipeline is not None
        self.pipeline.active = True
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.pipeline is not None
        self.pipeline.active = False
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
