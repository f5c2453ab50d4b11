"""Fusion node: synchronizes the modalities' feature vectors, steps the fusion LSTM (its state
kept across windows) and publishes activity labels on ``activity`` and its health on
``/diagnostics``."""
from __future__ import annotations

import sys
import threading
import time
from typing import Any, List, Optional

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray
from hybrid_fusion_msgs.msg import ActivityLabel, FeatureVector
from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import ParameterUninitializedException
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger

from . import conversions as conv
from . import diagnostics as diag
from .core.checkpoint import Checkpoint, CheckpointError
from .core.stats import DropCounter, LatencyWindow, RateMeter
from .core.sync import ApproximateTimeSynchronizer, Input
from .node_common import StartupError, declare_executor_parameter, describe as _desc, run_node
from .qos import DIAGNOSTICS_QOS, RESULT_QOS

FUSION_MODES = ('early',)


class FusionNode(Node):
    def __init__(self, node_name: str = 'fusion_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        p = self.declare_parameter
        checkpoint = p('checkpoint', '', _desc('checkpoint file; empty: the packaged default', True)).value
        self.fusion_mode = p('fusion_mode', 'early', _desc(f'fusion mode: {", ".join(FUSION_MODES)}')).value
        slop = p('slop', 0.05, _desc('ApproximateTime slop: max stamp spread of one feature set (s)')).value
        queue_size = p('queue_size', 10, _desc('feature sets kept per input while waiting for a match', True)).value
        prefix = p('feature_topic_prefix', 'features', _desc('features are read from <prefix>/<modality>', True)).value
        label_topic = p('label_topic', 'activity', _desc('topic of the published ActivityLabel', True)).value
        self.reset_after = p('reset_after', 5.0, _desc('reset the LSTM state after a gap in windows longer '
                                                       'than this (s)')).value
        self.stale_timeout = p('stale_timeout', 2.0, _desc('seconds without a feature before its input is '
                                                           'reported stale (WARN)')).value
        self.latency_warn_ms = p('latency_warn_ms', 250.0, _desc(
            'label latency p95 above this is reported as WARN')).value
        period = p('diagnostics_period', 1.0, _desc('seconds between /diagnostics messages', True)).value
        threads = p('torch_threads', 1, _desc('torch intra-op threads for this process', True)).value
        p('modalities', Parameter.Type.STRING_ARRAY, _desc(
            "modalities to fuse; unset: the checkpoint's, in its order", True))
        declare_executor_parameter(self)
        torch.set_num_threads(max(1, int(threads)))
        if self.fusion_mode not in FUSION_MODES:
            raise StartupError(f"fusion_mode '{self.fusion_mode}' is not supported; use one of {FUSION_MODES}")
        try:
            ckpt = Checkpoint.load(checkpoint or None)
            self.model = ckpt.build_fusion()
        except CheckpointError as exc:
            raise StartupError(str(exc)) from exc
        self.classes = ckpt.classes
        self.modalities: List[str] = self.model.modalities
        try:
            wanted = self.get_parameter('modalities').value
        except ParameterUninitializedException:
            wanted = None
        if wanted and list(wanted) != self.modalities:
            raise StartupError(f'modalities {list(wanted)} do not match the checkpoint\'s fusion model '
                               f'{self.modalities}')

        self._model_lock = threading.Lock()
        self._state: Optional[tuple] = None
        self._last_stamp: Optional[float] = None
        self.state_resets = 0
        self.drops = DropCounter()
        self.rates = {m: RateMeter() for m in self.modalities}
        self.feature_latency = {m: LatencyWindow() for m in self.modalities}
        self.label_latency = LatencyWindow()
        self.step_ms = LatencyWindow()
        self.label_rate = RateMeter()

        self.inputs = [Input() for _ in self.modalities]
        self.sync = ApproximateTimeSynchronizer(self.inputs, int(queue_size), float(slop))
        self.sync.registerCallback(self._on_features)
        self.label_pub = self.create_publisher(ActivityLabel, label_topic, RESULT_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', DIAGNOSTICS_QOS)
        # Feature callbacks may run concurrently (they only queue into the synchronizer, whose
        # lock is released before the model runs); the model itself is guarded by its own lock.
        inputs_group = ReentrantCallbackGroup()
        self.subscriptions_ = [
            self.create_subscription(FeatureVector, f'{prefix}/{m}', self._input_callback(i), RESULT_QOS,
                                     callback_group=inputs_group)
            for i, m in enumerate(self.modalities)]
        self.create_service(Trigger, '~/reset', self._on_reset)
        self.create_timer(period, self._publish_diagnostics, callback_group=MutuallyExclusiveCallbackGroup())
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.get_logger().info(f'fusing {self.modalities} ({self.fusion_mode}, {ckpt.fusion["config"]["strategy"]}) '
                               f'-> {label_topic}; {len(self.classes)} classes')

    # --- parameters -------------------------------------------------------------------------
    def _validate_parameters(self, params: List[Parameter]) -> SetParametersResult:
        for param in params:
            if param.name == 'fusion_mode' and param.value not in FUSION_MODES:
                return SetParametersResult(successful=False,
                                           reason=f'fusion_mode must be one of {FUSION_MODES}')
            if param.name in ('slop', 'reset_after', 'stale_timeout', 'latency_warn_ms') and not (
                    isinstance(param.value, (int, float)) and param.value >= 0):
                return SetParametersResult(successful=False, reason=f'{param.name} must be a number >= 0')
        for param in params:
            if param.name == 'slop':
                self.sync.slop = float(param.value)
            elif param.name in ('reset_after', 'stale_timeout', 'latency_warn_ms', 'fusion_mode'):
                setattr(self, param.name, param.value)
        return SetParametersResult(successful=True)

    # --- data path --------------------------------------------------------------------------
    def _input_callback(self, index: int):
        modality = self.modalities[index]

        def callback(msg: FeatureVector) -> None:
            if msg.modality and msg.modality != modality:
                self.drops.add('wrong_modality')
                self.get_logger().warning(f"feature on the {modality} input says modality '{msg.modality}'",
                                          throttle_duration_sec=5.0)
                return
            self.rates[modality].tick(time.monotonic())
            self.feature_latency[modality].add(
                (self._now() - conv.stamp_to_sec(msg.newest_sample_stamp)) * 1e3)
            self.inputs[index].add(msg)
        return callback

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def reset_state(self, reason: str) -> None:
        with self._model_lock:
            self._state = None
            self._last_stamp = None
            self.state_resets += 1
        self.get_logger().info(f'LSTM state reset: {reason}')

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.reset_state('~/reset service')
        response.success = True
        response.message = 'state reset'
        return response

    def _on_features(self, *msgs: FeatureVector) -> None:
        try:
            feats = [torch.from_numpy(conv.msg_to_feature(m).reshape(1, -1).copy()) for m in msgs]
        except conv.InputError as exc:
            self.drops.add(exc.cause)
            self.get_logger().warning(f'dropped feature set: {exc}', throttle_duration_sec=5.0)
            return
        stamp = conv.stamp_to_sec(msgs[0].header.stamp)
        if self._last_stamp is not None:
            if stamp < self._last_stamp:
                self.reset_state(f'time jumped back {self._last_stamp - stamp:.2f}s')
            elif stamp - self._last_stamp > self.reset_after:
                self.reset_state(f'gap of {stamp - self._last_stamp:.2f}s between windows')
        start = time.perf_counter()
        with self._model_lock, torch.no_grad():
            out = self.model.step(feats, torch.ones(1, len(feats)), self._state)
            self._state = out.state
            self._last_stamp = stamp
        probs = torch.softmax(out.logits[0], dim=0).numpy()
        self.step_ms.add((time.perf_counter() - start) * 1e3)
        newest = max(conv.stamp_to_sec(m.newest_sample_stamp) for m in msgs)
        latency_ms = (self._now() - newest) * 1e3
        weights = None if out.modality_weights is None else out.modality_weights[0].numpy()
        self.label_pub.publish(conv.make_label(msgs[0].header.stamp, self.classes, probs, int(np.argmax(probs)),
                                               self.modalities, self.fusion_mode, latency_ms, weights))
        self.label_latency.add(latency_ms)
        self.label_rate.tick(time.monotonic())

    # --- diagnostics ------------------------------------------------------------------------
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        name = self.get_name()
        statuses = []
        for i, m in enumerate(self.modalities):
            age = self.rates[m].age(now)
            if self.rates[m].count == 0:
                level, text = diag.WARN, 'no features yet'
            elif age > self.stale_timeout:
                level, text = diag.WARN, f'stale for {age:.1f}s'
            else:
                level, text = diag.OK, 'receiving'
            statuses.append(diag.status(f'{name}: features/{m} topic status', m, level, text, {
                'Events in window': self.rates[m].count, 'Actual frequency (Hz)': self.rates[m].rate(now),
                'Age of last message (s)': age, 'Dropped (unmatched)': self.sync.stats.dropped[i],
                **diag.latency_values('Sensor to feature latency', self.feature_latency[m].percentiles())}))
        lat = self.label_latency.percentiles()
        level, text = diag.OK, f'{self.label_rate.count} labels'
        if self.label_rate.count == 0:
            level, text = diag.WARN, 'no labels yet'
        elif lat.get('p95', 0.0) > self.latency_warn_ms:
            level, text = diag.WARN, f'label latency p95 {lat["p95"]:.0f} ms > {self.latency_warn_ms:.0f} ms'
        statuses.append(diag.status(f'{name}: fusion', 'fusion', level, text, {
            'Fusion mode': self.fusion_mode, 'Labels': self.label_rate.count,
            'Label frequency (Hz)': self.label_rate.rate(now), 'Matched feature sets': self.sync.stats.matched,
            'State resets': self.state_resets,
            **{f'Dropped ({k})': v for k, v in sorted(self.drops.snapshot().items())},
            **diag.latency_values('Fusion step time', self.step_ms.percentiles()),
            **diag.latency_values('Sensor to label latency', lat)}))
        self.diag_pub.publish(diag.array_msg(self.get_clock().now().to_msg(), statuses))


def main(args: Optional[List[str]] = None) -> None:
    sys.exit(run_node(FusionNode, 'fusion_node', args))


if __name__ == '__main__':
    main()
