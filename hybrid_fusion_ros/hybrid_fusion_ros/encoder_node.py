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
encoder plugin named by the ``encoder`` parameter on each, publishes ``FeatureVector``s."""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import cv2
from diagnostic_msgs.msg import DiagnosticArray
from hybrid_fusion_msgs.msg import AudioChunk
from hybrid_fusion_msgs.msg import FeatureVector
import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image
from sensor_msgs.msg import Imu

from . import conversions as conv
from . import diagnostics as diag
from .core.inputs import InputSpecError
from .core.inputs import QUEUE_DEPTH
from .core.stats import DropCounter
from .core.stats import LatencyWindow
from .core.stats import RateMeter
from .core.windows import StreamWindower
from .node_common import backend_choice
from .node_common import backend_line
from .node_common import declare_backend_parameters
from .node_common import declare_executor_parameter
from .node_common import describe as _desc
from .node_common import InternalErrors
from .node_common import onnx_options
from .node_common import run_node
from .node_common import StartupError
from .qos import DIAGNOSTICS_QOS
from .qos import RESULT_QOS
from .qos import sensor_qos

Converter = Callable[[Any], Tuple[np.ndarray, np.ndarray]]


def _single(to_array: Callable[[Any], np.ndarray]) -> Converter:
    def convert(msg: Any) -> Tuple[np.ndarray, np.ndarray]:
        sample = to_array(msg)
        return np.array([conv.stamp_to_sec(msg.header.stamp)]), sample[None]

    return convert


# Message type name -> (message class, converter to (stamps, samples)).
INPUT_TYPES: Dict[str, Tuple[type, Converter]] = {
    'sensor_msgs/msg/Image': (Image, _single(conv.image_to_frame)),
    'sensor_msgs/msg/CompressedImage': (CompressedImage, _single(conv.compressed_to_frame)),
    'sensor_msgs/msg/Imu': (Imu, _single(conv.imu_to_row)),
    'hybrid_fusion_msgs/msg/AudioChunk': (AudioChunk, conv.audio_to_samples),
}


class EncoderNode(Node):
    def __init__(self, node_name: str = 'encoder_node', **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        p = self.declare_parameter
        input_name = p(
            'input',
            '',
            _desc(
                "the checkpoint's input this node encodes (e.g. wrist_imu); empty: the node name"
                " without its '_encoder' suffix",
                True,
            ),
        ).value
        encoder_name = p(
            'encoder',
            '',
            _desc(
                "encoder plugin (entry point in group 'hybrid_fusion_ros.encoders'); empty: the "
                "checkpoint's encoder for this input",
                True,
            ),
        ).value
        checkpoint = p(
            'checkpoint', '', _desc('checkpoint file; empty: the packaged default', True)
        ).value
        input_topic = p(
            'input_topic',
            '',
            _desc(
                'sensor topic; empty: <input>/image_raw, <input>/data or <input>/chunk by sensor'
                ' type',
                True,
            ),
        ).value
        transport = p(
            'image_transport',
            'raw',
            _desc("camera only: 'raw' (Image) or 'compressed' (CompressedImage)", True),
        ).value
        feature_topic = p(
            'feature_topic', '', _desc('output topic; empty: features/<input>', True)
        ).value
        threads = p(
            'torch_threads',
            1,
            _desc(
                'intra-op threads of the inference backend (torch or '
                'onnxruntime) for this process',
                True,
            ),
        ).value
        depth = p(
            'input_queue_depth',
            0,
            _desc(
                'subscription queue depth; size it to the sensor rate times the longest stall to'
                ' absorb (0: by sensor type, camera 5, imu 50, audio 10)',
                True,
            ),
        ).value
        max_chunks = p(
            'max_buffer_chunks',
            4096,
            _desc('bound on buffered messages (oldest dropped and counted beyond it)', True),
        ).value
        self.stale_timeout = p(
            'stale_timeout',
            2.0,
            _desc('seconds without input before diagnostics report the input as stale (WARN)'),
        ).value
        reliability = p(
            'input_reliability',
            'best_effort',
            _desc(
                "input QoS reliability: 'best_effort' (SensorDataQoS, for live sensors) or"
                " 'reliable' (offline replay faster than real time: the publisher waits instead of"
                ' losing data)',
                True,
            ),
        ).value
        self.drain_batch = max(
            0,
            int(
                p(
                    'drain_batch',
                    64,
                    _desc(
                        'queued input messages handled per callback without returning to the'
                        ' executor (0 = one per callback); cuts the per-message executor cost of'
                        ' high-rate sensors',
                        True,
                    ),
                ).value
            ),
        )
        sensor_rate = p(
            'sensor_rate_hz',
            0.0,
            _desc(
                "the sensor's nominal rate (samples/s; audio: sample rate), for gap detection and"
                " a window's minimum fill; 0 = the rate measured in training (else the encoder's)",
                True,
            ),
        ).value
        period = p(
            'diagnostics_period', 1.0, _desc('seconds between /diagnostics messages', True)
        ).value

        declare_executor_parameter(self)
        declare_backend_parameters(self)
        self.backend = backend_choice(self)
        if not input_name:
            input_name = (
                node_name[: -len('_encoder')] if node_name.endswith('_encoder') else node_name
            )
        window_spec, spec_in, has_weights = self._load_encoder(
            checkpoint, input_name, encoder_name, int(threads)
        )
        self.encoder_name = encoder_name or spec_in.encoder
        modality = spec_in.sensor_type
        if self.encoder.modality != modality:
            raise StartupError(
                f"encoder '{self.encoder_name}' is for sensor type '{self.encoder.modality}', "
                f"input '{input_name}' is a {modality}"
            )
        if not has_weights:
            self.get_logger().warning(
                f"checkpoint has no weights for encoder '{self.encoder_name}': "
                "using the plugin\'s own initialization"
            )
        self.input_name = input_name
        self.modality = modality
        spec = self.encoder.input_spec
        types = [t for t in spec.message_types if t in INPUT_TYPES]
        if modality == 'camera':
            wanted = (
                'sensor_msgs/msg/CompressedImage'
                if transport == 'compressed'
                else 'sensor_msgs/msg/Image'
            )
            types = [t for t in types if t == wanted]
        if not types:
            raise StartupError(
                f"encoder '{self.encoder_name}' consumes {list(spec.message_types)}; this node "
                f'reads {sorted(INPUT_TYPES)}'
            )
        msg_class, self._convert = INPUT_TYPES[types[0]]
        if reliability not in ('best_effort', 'reliable'):
            raise StartupError(
                f"input_reliability must be 'best_effort' or 'reliable', got '{reliability}'"
            )
        if sensor_rate < 0:
            raise StartupError(f'sensor_rate_hz must be >= 0, got {sensor_rate}')
        rate = float(sensor_rate) or spec_in.rate_hz or spec.expected_rate_hz
        self.windower = StreamWindower(
            input_name,
            window_spec,
            rate,
            sample_rate=rate if modality == 'audio' else None,
            max_chunks=int(max_chunks),
        )
        depth = int(depth) or QUEUE_DEPTH.get(modality, 10)

        self.drops = DropCounter()
        self.errors = InternalErrors(self)
        self.resampled_chunks = 0
        self.format_changes = 0
        self._format: Optional[Tuple[Any, ...]] = None  # the input's format as last seen
        # A new camera resolution, and how many frames have come at it so far.
        self._frame_change: Optional[Tuple[Tuple[int, ...], int]] = None
        # The model's kind of image: frames of the other kind are refused where they arrive.
        self._depth_model = (
            getattr(self.encoder.config, 'depth', None) if modality == 'camera' else None
        )
        self._silent_since: Optional[float] = None  # the input stopped: logged once
        self._anomaly: Tuple[float, str] = (float('-inf'), '')
        self._reported: Dict[str, int] = {}
        # Publication sequence numbers per publisher: a gap is a message lost on the way, in
        # transport or overwritten in the subscription's queue, which rclpy does not report.
        self._sequence: Dict[bytes, int] = {}
        self.lost_messages = 0
        self.counts_sequence = False
        self.input_rate = RateMeter()
        self.feature_rate = RateMeter()
        self.encode_ms = LatencyWindow()
        self.latency_ms = LatencyWindow()
        self.input_topic = input_topic or spec_in.graph_topic(transport == 'compressed')
        self.feature_topic = feature_topic or f'features/{input_name}'
        self.publisher = self.create_publisher(FeatureVector, self.feature_topic, RESULT_QOS)
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', DIAGNOSTICS_QOS)
        # The sensor callback and the diagnostics timer run in separate groups, so reporting
        # never waits on a network forward pass.
        self.subscription = self.create_subscription(
            msg_class,
            self.input_topic,
            self.errors.guard(_with_message_info(self._on_input), 'input callback'),
            sensor_qos(int(depth), reliability == 'reliable'),
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        handle = getattr(self.subscription, 'handle', None)
        self._input_handle = handle if hasattr(handle, 'take_message') else None  # for drain_batch
        self._handle_guarded = self.errors.guard(
            self._handle, 'input message', lambda exc: self.drops.add('internal_error')
        )
        self.create_timer(
            period,
            self.errors.guard(self._publish_diagnostics, 'diagnostics timer'),
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self.get_logger().info(
            f"{input_name} ({modality}) encoder '{self.encoder_name}' ready: {self.input_topic} "
            f'({types[0]}) -> {self.feature_topic}, windows {window_spec.length}s '
            f'every {window_spec.hop}s, {backend_line(self.backend)}'
        )

    def _load_encoder(self, checkpoint: str, input_name: str, encoder_name: str, threads: int):
        """The encoder of ``input_name`` from the chosen backend (only torch imports torch);
        returns the window spec, the input's spec and whether the weights came with it."""
        if self.backend == 'torch':
            import torch

            from .core.checkpoint import Checkpoint
            from .core.checkpoint import CheckpointError
            from .core.plugins import PluginError

            torch.set_num_threads(max(1, threads))
            try:
                ckpt = Checkpoint.load(checkpoint or None)
                spec_in = ckpt.input(input_name)
                self.encoder, has_weights = ckpt.build_encoder(input_name, encoder_name or None)
            except (CheckpointError, PluginError, InputSpecError) as exc:
                raise StartupError(str(exc)) from exc
            self.backend_warnings: List[str] = []
            return ckpt.window, spec_in, has_weights
        from .core.onnx_backend import load_onnx_encoder
        from .core.onnx_backend import OnnxBackendError

        try:
            self.encoder = load_onnx_encoder(
                checkpoint or None, input_name, threads, **onnx_options(self)
            )
        except (OnnxBackendError, InputSpecError) as exc:
            raise StartupError(str(exc)) from exc
        if encoder_name and encoder_name != self.encoder.plugin:
            raise StartupError(
                f"encoder '{encoder_name}' was asked for, the ONNX files hold "
                f"'{self.encoder.plugin}' for input '{input_name}': leave encoder "
                'empty or use inference_backend torch'
            )
        self.backend_warnings = list(self.encoder.warnings)
        for warning in self.backend_warnings:
            self.get_logger().warning(warning)
        return self.encoder.bundle.window, self.encoder.input, True

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _encoder_level(self, input_level: int) -> Tuple[int, str]:
        """The encoder status: a provider fallback (slower than asked) is a WARN."""
        text = f'{self.feature_rate.count} windows encoded'
        if self.backend_warnings:
            return diag.WARN, f'{text}; {self.backend_warnings[0]}'
        return (diag.OK if self.feature_rate.count else input_level), text

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
        """Count the messages a publisher sent that never reached this node."""
        seq = info.get('publication_sequence_number') if info else None
        gid = (info.get('publisher_gid') or {}).get('data') if info else None
        if not seq or gid is None:
            return
        self.counts_sequence = True
        gid = bytes(gid)
        last = self._sequence.pop(gid, None)
        if last is not None and seq > last + 1:
            self.lost_messages += seq - last - 1
        self._sequence[gid] = max(seq, last or 0)
        if len(self._sequence) > 64:  # publishers come and go: forget the longest silent
            del self._sequence[next(iter(self._sequence))]

    def _handle(self, msg: Any) -> None:
        try:
            stamps, samples = self._convert(msg)
            stamps, samples = self._check_format(msg, stamps, samples)
        except conv.InputError as exc:
            self.drops.add(exc.cause)
            self.get_logger().warning(
                f'dropped {self.input_name} input: {exc}', throttle_duration_sec=5.0
            )
            return
        if self._silent_since is not None:
            self.get_logger().info(
                f'{self.input_name}: input on {self.input_topic} resumed after '
                f'{time.monotonic() - self._silent_since:.1f}s'
            )
            self._silent_since = None
        self.input_rate.tick(time.monotonic())
        # Under sim time the clock comes from a replay on its own topic, in no fixed order
        # with the data: it is no witness of when a chunk arrived, so a pause in a bag is not
        # taken for a clock jump (which would restart the windows and lose the ones due).
        sim_time = getattr(self.get_clock(), 'ros_time_is_active', False)
        arrival = None if sim_time else self._now()
        for window in self.windower.push(stamps, samples, arrival=arrival):
            start = time.perf_counter()
            try:
                feature = self.encoder.encode(window)
            except Exception as exc:  # noqa: BLE001 - a bad window must not stop the node
                self.drops.add('encode_error')
                self.get_logger().warning(
                    f'{self.input_name} window ending {window.end:.3f} not encoded: '
                    f'{type(exc).__name__}: {exc}',
                    throttle_duration_sec=5.0,
                )
                continue
            encode_ms = (time.perf_counter() - start) * 1e3
            self.publisher.publish(
                conv.feature_to_msg(
                    feature,
                    self.input_name,
                    self.encoder_name,
                    window.start,
                    window.end,
                    window.newest_stamp,
                    len(window.stamps),
                    encode_ms,
                    msg.header.frame_id,
                )
            )
            self.encode_ms.add(encode_ms)
            self.latency_ms.add((self._now() - window.newest_stamp) * 1e3)
            self.feature_rate.tick(time.monotonic())

    def _check_format(
        self, msg: Any, stamps: np.ndarray, samples: np.ndarray
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The one place an input's format is judged against the model and the stream so far.

        Camera: a frame of the wrong kind (depth into a colour model, or the reverse) is
        refused; a new resolution is taken in (frames resized, see :meth:`_check_frame`).
        Audio: another sample rate is resampled to the model's (channels were mixed to mono
        on conversion). A change of format is counted and warned about, never used silently.
        """
        if self.modality == 'camera':
            return stamps, self._check_frame(samples)
        if self.modality == 'audio':
            rate = float(msg.sample_rate)
            self._note_format(
                (int(msg.sample_rate), int(msg.channels), msg.sample_format),
                f'{msg.sample_rate} Hz, {msg.channels} channel(s), {msg.sample_format}',
            )
            if rate != self.windower.sample_rate:
                # A microphone at another rate (48 kHz) than the model's: resampled, never placed
                # on the model's timeline as if it were its rate.
                stamps, samples = conv.resample_audio(
                    stamps, samples, rate, float(self.windower.sample_rate)
                )
                if len(samples) == 0:
                    raise conv.InputError(
                        'empty_audio',
                        f'{len(msg.data)} bytes at {rate:g} Hz '
                        "make no sample at the model's rate",
                    )
                self.resampled_chunks += 1
                self.get_logger().warning(
                    f"{self.input_name}: audio at {msg.sample_rate} Hz resampled to the model's "
                    f'{self.windower.sample_rate:g} Hz',
                    throttle_duration_sec=5.0,
                )
        return stamps, samples

    def _note_format(self, key: Tuple[Any, ...], text: str) -> None:
        if self._format is not None and key != self._format:
            self.format_changes += 1
            self.get_logger().warning(
                f'{self.input_name}: input format changed to {text} (counted as a format change)',
                throttle_duration_sec=5.0,
            )
        self._format = key

    def _check_frame(self, frames: np.ndarray) -> np.ndarray:
        """Frames of a camera whose resolution changes mid-stream are resized to the
        resolution of the frames buffered before them, so windows go on across the change;
        once a whole window's worth of frames has come at the new resolution, the buffered
        frames are resized to it instead and the new resolution is the stream's."""
        depth = frames.dtype.kind == 'f'
        if self._depth_model is not None and depth != self._depth_model:
            kinds = ('depth' if depth else 'colour', 'depth' if self._depth_model else 'colour')
            raise conv.InputError(
                'wrong_image_kind', 'a {} image for a model trained on {} images'.format(*kinds)
            )
        shape = tuple(frames.shape[1:])
        h, w = shape[:2]
        self._note_format((depth, w, h), f"{'depth' if depth else 'colour'} {w}x{h}")
        held = self.windower.buffer.sample_shape
        if held is None or held == shape:
            self._frame_change = None
            return frames
        if held[2:] != shape[2:]:  # not the same kind of frame: no resize makes it one
            return frames
        change = self._frame_change
        seen = (change[1] if change is not None and change[0] == shape else 0) + 1
        self._frame_change = (shape, seen)
        if seen >= self.windower.expected_rate * self.windower.spec.length:
            self.windower.buffer.convert(lambda old: _resize_frames(old, shape))
            self._frame_change = None
            return frames
        return _resize_frames(frames, held)

    def counts(self) -> Dict[str, int]:
        """Drops by cause, windowing and buffer counters included."""
        out = self.drops.snapshot()
        ws = self.windower.stats
        for cause, n in (
            ('incomplete_window', ws.incomplete),
            ('out_of_order', ws.out_of_order),
            ('lost_in_transport', self.lost_messages),
            # Stamp gaps only estimate what sequence numbers, where rclpy gives
            # them, count exactly.
            ('lost_in_transport_est', 0 if self.counts_sequence else ws.missing_samples),
            ('buffer_overflow', self.windower.buffer.stats.overflowed_chunks),
            ('format_change', self.windower.buffer.stats.reshaped_chunks),
            # Kept for the next windows, missing from one already encoded.
            ('late_for_closed_window', ws.late_samples),
        ):
            if n:
                out[cause] = n
        return out

    def _events(self) -> Dict[str, int]:
        """Everything the operator is told about when it changes: drops by cause, clock
        jumps, format changes and internal errors."""
        ws = self.windower.stats
        return {
            **{f'dropped ({k})': v for k, v in self.counts().items()},
            'clock jump': ws.time_jumps,
            'format change': self.format_changes,
            'internal error': self.errors.count,
        }

    def _anomaly_text(self, events: Dict[str, int]) -> Optional[str]:
        """What changed since the last report, in words (None: nothing did)."""
        changed = {
            k: v - self._reported.get(k, 0)
            for k, v in events.items()
            if v != self._reported.get(k, 0)
        }
        self._reported = events
        if not changed:
            return None
        if 'clock jump' in changed:
            jump = self.windower.stats.last_jump
            return (
                f"clock jumped {'forward' if jump > 0 else 'back'} {abs(jump):.1f}s "
                '(windows restarted)'
            )
        if 'internal error' in changed:
            return 'internal error (traceback in the log)'
        if 'format change' in changed:
            return 'input format changed'
        return 'dropped ' + ', '.join(f'{n} {k[9:-1]}' for k, n in changed.items())

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        age = self.input_rate.age(now)
        newest = self.windower.buffer.newest_stamp
        drops = self.counts()
        level, text = diag.freshness(self.input_rate.count, age, self.stale_timeout)
        if level != diag.OK and self.input_rate.count and self._silent_since is None:
            self._silent_since = now - age
            self.get_logger().warning(
                f'{self.input_name}: no input on {self.input_topic} for {age:.1f}s'
            )
        news = self._anomaly_text(self._events())
        if news is not None:
            self._anomaly = (now, news)
        # An anomaly keeps the status WARN for stale_timeout seconds, so a reader sees it.
        if level == diag.OK and now - self._anomaly[0] < self.stale_timeout:
            level, text = diag.WARN, self._anomaly[1]
        ws = self.windower.stats
        name = self.get_name()
        statuses = [
            diag.status(
                f'{name}: {self.input_topic} topic status',
                self.input_name,
                level,
                text,
                {
                    'Events since startup': self.input_rate.count,
                    'Actual frequency (Hz)': self.input_rate.rate(now),
                    'Age of last message (s)': age,
                    'Latest timestamp delay (s)': (
                        self._now() - newest if newest is not None else float('inf')
                    ),
                    'Dropped total': sum(drops.values()),
                    **{f'Dropped ({k})': v for k, v in sorted(drops.items())},
                    'Clock jumps': ws.time_jumps,
                    'Interruptions': ws.interruptions,
                    # Silences longer than the pause threshold (a trial ended): not losses, and
                    # the windows they made sparse are not counted as incomplete.
                    'Pauses': ws.pauses,
                    'Paused (s)': ws.paused_seconds,
                    'Windows straddling a pause': ws.straddles_pause,
                    'Format changes': self.format_changes,
                    'Internal errors': self.errors.count,
                    **(
                        {'Resampled chunks (sample rate)': self.resampled_chunks}
                        if self.resampled_chunks
                        else {}
                    ),
                },
            ),
            diag.status(
                f'{name}: encoder',
                self.input_name,
                *self._encoder_level(level),
                {
                    'Encoder': self.encoder_name,
                    'Inference backend': self.backend,
                    'Windows': self.feature_rate.count,
                    'Feature frequency (Hz)': self.feature_rate.rate(now),
                    **diag.latency_values('Encode time', self.encode_ms.percentiles()),
                    **diag.latency_values(
                        'Sensor to feature latency', self.latency_ms.percentiles()
                    ),
                },
            ),
        ]
        self.diag_pub.publish(diag.array_msg(self.get_clock().now().to_msg(), statuses))


def _with_message_info(callback: Callable[[Any, Optional[dict]], None]) -> Callable[..., None]:
    """The subscription callback in the form this rclpy calls: with the message info (Iron
    on, which has ``Subscription.CallbackType``), else with the message alone (Humble)."""
    from rclpy.subscription import Subscription

    if hasattr(Subscription, 'CallbackType'):
        return lambda msg, info: callback(msg, info if isinstance(info, dict) else None)
    return lambda msg: callback(msg, None)


def _resize_frames(frames: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """``(N, H, W[, C])`` frames resized to one frame's ``shape``."""
    h, w = shape[:2]
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def main(args: Optional[List[str]] = None) -> None:
    sys.exit(run_node(EncoderNode, 'encoder_node', args))


if __name__ == '__main__':
    main()
