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

"""Encoder node: cuts one sensor stream into windows on the sensor-time grid, runs the
encoder plugin named by the ``encoder`` parameter on each, publishes ``FeatureVector``s.

What is read, how its format is judged, what is windowed, encoded, dropped and counted, and
what ``/diagnostics`` says is decided by core/encoder_runtime.py. This module is the wiring:
parameters (core/parameters.py), the subscription, publishers and timer, message conversion
(conversions.py, through its ``INPUT_TYPES``) and diagnostics.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from diagnostic_msgs.msg import DiagnosticArray
from hybrid_fusion_msgs.msg import FeatureVector
from hybrid_fusion_msgs.srv import LoadModel
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node

from ..core.encoder_runtime import AudioFormat
from ..core.encoder_runtime import EncoderConfig
from ..core.encoder_runtime import EncoderRuntime
from ..core.encoder_runtime import EncoderSetupError
from ..core.parameters import ENCODER_PARAMETERS
from ..ros import conversions as conv
from ..ros import node_common as common
from ..ros.qos import DIAGNOSTICS_QOS
from ..ros.qos import RESULT_QOS
from ..ros.qos import sensor_qos


class EncoderNode(Node):
    """One input's encoder node around an :class:`EncoderRuntime`."""

    def __init__(self, node_name: str = 'encoder_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        common.declare_model_node_parameters(self, ENCODER_PARAMETERS)
        self.backend = common.backend_choice(self)
        config = EncoderConfig(
            **common.parameter_values(self, ENCODER_PARAMETERS),
            inference_backend=self.backend,
            onnx_options=common.onnx_options(self),
        )
        try:
            self.runtime = rt = EncoderRuntime.from_config(
                config, node_name, clock=self._now, log=common.ThrottledLog(self.get_logger())
            )
        except EncoderSetupError as exc:
            raise common.StartupError(str(exc)) from exc
        # What tests and tools read off the node.
        self.input_name, self.modality = rt.input_name, rt.modality
        self.encoder_name, self.encoder, self.windower = rt.encoder_name, rt.encoder, rt.windower
        self.drain_batch = max(0, int(config.drain_batch))
        msg_class, self._convert = conv.INPUT_TYPES[rt.message_type]

        self.errors = common.InternalErrors(self)
        self.publisher = self.create_publisher(FeatureVector, rt.feature_topic, RESULT_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', DIAGNOSTICS_QOS)
        # The sensor callback and the diagnostics timer run in separate groups, so reporting
        # never waits on a network forward pass.
        self.subscription = self.create_subscription(
            msg_class,
            rt.input_topic,
            self.errors.guard(_with_message_info(self._on_input), 'input callback'),
            sensor_qos(rt.queue_depth, rt.reliable),
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        handle = getattr(self.subscription, 'handle', None)
        self._input_handle = handle if hasattr(handle, 'take_message') else None  # for drain_batch
        self._handle_guarded = self.errors.guard(
            self._handle, 'input message', lambda exc: rt.drops.add('internal_error')
        )
        self.load_model_service = self.create_service(
            LoadModel,
            '~/load_model',
            self.errors.guard(
                self._on_load_model,
                'load_model service',
                on_error=lambda exc: LoadModel.Response(
                    success=False, message=f'internal error: {exc}'
                ),
            ),
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self.create_timer(
            config.diagnostics_period,
            self.errors.guard(self._publish_diagnostics, 'diagnostics timer'),
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        window = rt.window_spec
        self.get_logger().info(
            f"{rt.input_name} ({rt.modality}) encoder '{rt.encoder_name}' ready: "
            f'{rt.input_topic} ({rt.message_type}) -> {rt.feature_topic}, windows '
            f'{window.length}s every {window.hop}s, {common.backend_line(self.backend)}'
        )

    def counts(self) -> Dict[str, int]:
        """Drops by cause, windowing and buffer counters included."""
        return self.runtime.counts()

    @property
    def resampled_chunks(self) -> int:
        return self.runtime.resampled_chunks

    @property
    def format_changes(self) -> int:
        return self.runtime.format_changes

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_input(self, msg: Any, info: Optional[dict] = None) -> None:
        self._count_sequence(info)
        self._handle_guarded(msg)
        # Drain what else is queued before going back to the executor: its wait-set round
        # trip costs ~0.25 ms per message here, the bulk of a 100 Hz IMU node's CPU.
        for _ in range(self.drain_batch):
            more = self._take_queued()
            if more is None:
                break
            self._count_sequence(more[1])
            self._handle_guarded(more[0])

    def _take_queued(self) -> Optional[Tuple[Any, Optional[dict]]]:
        """The next queued input message and its info, taken directly (None when the queue is
        empty or this rclpy has no such call)."""
        handle = self._input_handle
        if handle is None:
            return None
        try:
            with handle:
                taken = handle.take_message(self.subscription.msg_type, False)
        except Exception:  # noqa: BLE001 - an rclpy without this call: use the executor only
            self.drain_batch = 0
            return None
        if taken is None:
            return None
        return taken[0], (taken[1] if len(taken) > 1 and isinstance(taken[1], dict) else None)

    def _count_sequence(self, info: Optional[dict]) -> None:
        """Pass the message's publication sequence number on, where rclpy gives it."""
        seq = info.get('publication_sequence_number') if info else None
        gid = (info.get('publisher_gid') or {}).get('data') if info else None
        if seq and gid is not None:
            self.runtime.note_sequence(bytes(gid), seq)

    def _handle(self, msg: Any) -> None:
        rt = self.runtime
        try:
            stamps, samples = self._convert(msg)
        except conv.InputError as exc:
            rt.refuse(exc.cause, str(exc))
            return
        audio = None
        if rt.modality == 'audio':
            audio = AudioFormat(msg.sample_rate, msg.channels, msg.sample_format, len(msg.data))
        # Under sim time the clock comes from a replay on its own topic, in no fixed order
        # with the data: it is no witness of when a chunk arrived, so a pause in a bag is not
        # taken for a clock jump (which would restart the windows and lose the ones due).
        sim_time = getattr(self.get_clock(), 'ros_time_is_active', False)
        arrival = None if sim_time else self._now()
        for out in rt.push(stamps, samples, arrival=arrival, audio=audio):
            self.publisher.publish(
                conv.feature_to_msg(
                    out.feature,
                    rt.input_name,
                    rt.encoder_name,
                    out.start,
                    out.end,
                    out.newest_stamp,
                    out.sample_count,
                    out.encode_ms,
                    msg.header.frame_id,
                    out.model_id,
                )
            )

    def _on_load_model(
        self, request: LoadModel.Request, response: LoadModel.Response
    ) -> LoadModel.Response:
        """One step of a graph's model swap, which the fusion node's ~/load_model drives."""
        rt = self.runtime
        response.previous_model_id = rt.model_id
        if request.action == LoadModel.Request.PREPARE:
            try:
                response.model_id = rt.prepare(request.checkpoint)
            except EncoderSetupError as exc:
                response.success, response.message = False, str(exc)
                response.model_id = rt.model_id
                return response
            response.success = True
            response.message = f'{rt.input_name}: model {response.model_id} loaded, not in use'
        elif request.action == LoadModel.Request.COMMIT:
            switch_at = conv.stamp_to_sec(request.switch_at)
            try:
                rt.commit(switch_at)
            except EncoderSetupError as exc:
                response.success, response.message = False, str(exc)
                return response
            response.success, response.switch_at = True, request.switch_at
            response.message = f'{rt.input_name}: switches from the window ending {switch_at:.3f}'
        elif request.action == LoadModel.Request.ABORT:
            rt.abort()
            response.success, response.message = True, f'{rt.input_name}: prepared model dropped'
        else:
            response.success = False
            response.message = (
                "an encoder swaps with its graph: call the fusion node's ~/load_model "
                '(hybrid-fusion swap CHECKPOINT)'
            )
        response.model_id = response.model_id or rt.model_id
        return response

    def _publish_diagnostics(self) -> None:
        statuses = self.runtime.statuses(self.errors.count)
        self.diag_pub.publish(common.diagnostic_array(self, statuses))


def _with_message_info(callback: Callable[[Any, Optional[dict]], None]) -> Callable[..., None]:
    """The subscription callback in the form this rclpy calls: with the message info (Iron
    on, which has ``Subscription.CallbackType``), else with the message alone (Humble)."""
    from rclpy.subscription import Subscription

    if hasattr(Subscription, 'CallbackType'):
        return lambda msg, info: callback(msg, info if isinstance(info, dict) else None)
    return lambda msg: callback(msg, None)


def main(args: Optional[List[str]] = None) -> None:
    sys.exit(common.run_node(EncoderNode, 'encoder_node', args))


if __name__ == '__main__':
    main()
