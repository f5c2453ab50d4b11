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

"""The encoder node's run-time policy, with no ROS in it.

:class:`EncoderRuntime` decides everything an encoder node does between a sensor message
turned into arrays and a feature vector leaving: which message type the input is read as;
the input's format judged against the model and the stream so far (a camera's kind of image
and resolution, a microphone's sample rate); the windows cut on the sensor-time grid
(core/windows.py) and the encoder run on each; what was dropped and why, messages lost on the
way (from publication sequence numbers), silences; and what ``/diagnostics`` says about all of
it, in words when something changed.

As :class:`~.fusion_runtime.FusionRuntime` is, it is driven by plain values: stamps (s) and
samples as numpy arrays, an audio chunk's stated format, sequence numbers. It returns what to
publish (:class:`EncodedWindow`) and the diagnostic statuses (:class:`~.health.Status`). The
node converts messages (conversions.py, through its ``INPUT_TYPES``), runs the
subscription and timers and publishes; this module is tested without rclpy.

Times: stamps and ``clock()`` are seconds of sensor time (the node's ROS clock); ``monotonic()``
(seconds) measures rates and silences for diagnostics and decides nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
import logging
import math
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np

from .health import freshness
from .health import latency_values
from .health import OK
from .health import Status
from .health import WARN
from .inputs import INPUT_MESSAGE_TYPES
from .inputs import InputSpecError
from .inputs import ModelInput
from .inputs import QUEUE_DEPTH
from .stats import DropCounter
from .stats import LatencyWindow
from .stats import RateMeter
from .windows import SensorWindow
from .windows import StreamWindower
from .windows import WindowSpec

Log = Callable[[str, str, str], None]
"""``log(level, cause, text)``: level ``'info'`` or ``'warning'``; ``cause`` keys throttling
(``''``: a message that is logged every time)."""

RELIABILITIES = ('best_effort', 'reliable')


class EncoderSetupError(ValueError):
    """A configuration the encoder cannot start with; the message names what to fix."""


class InputRefused(ValueError):
    """Input the model cannot take; ``cause`` is its diagnostics counter key."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


@dataclass
class EncoderConfig:
    """The encoder node's parameters (names as in config/classifier.yaml), with the inference
    backend's choice and its loader options."""

    input: str = ''
    encoder: str = ''
    checkpoint: str = ''
    input_topic: str = ''
    image_transport: str = 'raw'
    feature_topic: str = ''
    torch_threads: int = 1
    input_queue_depth: int = 0
    max_buffer_chunks: int = 4096
    stale_timeout: float = 2.0
    input_reliability: str = 'best_effort'
    drain_batch: int = 64
    sensor_rate_hz: float = 0.0
    diagnostics_period: float = 1.0
    inference_backend: str = 'torch'
    onnx_options: Dict[str, Any] = field(default_factory=dict)  # core/onnx_backend.py's


class AudioFormat(NamedTuple):
    """An audio chunk's format as its message states it (the samples are mono already)."""

    sample_rate: int
    channels: int
    sample_format: str
    size: int  # bytes of sample data


@dataclass(frozen=True)
class EncodedWindow:
    """A feature vector to publish, and the window it encodes."""

    feature: np.ndarray
    start: float
    end: float
    newest_stamp: float
    sample_count: int
    encode_ms: float
    model_id: str = ''  # the model whose encoder made it ('' : an encoder of no checkpoint)


@dataclass(frozen=True)
class LoadedEncoder:
    """An input's encoder as a backend loaded it: the window spec it was trained on, the
    input's description, whether the checkpoint had its weights, and the backend's warnings
    (a slower execution provider than asked for, say)."""

    encoder: Any
    window: WindowSpec
    input: ModelInput
    has_weights: bool = True
    warnings: Tuple[str, ...] = ()
    model_id: str = ''  # the checkpoint's; '' when the encoder is not the checkpoint's own


def default_input_name(node_name: str) -> str:
    """The input an encoder node encodes when not told: its name without ``_encoder``."""
    return node_name[: -len('_encoder')] if node_name.endswith('_encoder') else node_name


def load_encoder(config: EncoderConfig) -> LoadedEncoder:
    """The encoder of ``config.input`` from the chosen backend (only torch imports torch)."""
    threads = int(config.torch_threads)
    if config.inference_backend == 'torch':
        import torch

        from .checkpoint import Checkpoint
        from .checkpoint import CheckpointError
        from .plugins import PluginError

        torch.set_num_threads(max(1, threads))
        try:
            ckpt = Checkpoint.load(config.checkpoint or None)
            spec_in = ckpt.input(config.input)
            encoder, has_weights = ckpt.build_encoder(config.input, config.encoder or None)
        except (CheckpointError, PluginError, InputSpecError) as exc:
            raise EncoderSetupError(str(exc)) from exc
        model_id = ckpt.model_id if has_weights else ''
        return LoadedEncoder(encoder, ckpt.window, spec_in, has_weights, (), model_id)
    from .onnx_backend import load_onnx_encoder
    from .onnx_backend import OnnxBackendError

    try:
        encoder = load_onnx_encoder(
            config.checkpoint or None, config.input, threads, **config.onnx_options
        )
    except (OnnxBackendError, InputSpecError) as exc:
        raise EncoderSetupError(str(exc)) from exc
    if config.encoder and config.encoder != encoder.plugin:
        raise EncoderSetupError(
            f"encoder '{config.encoder}' was asked for, the ONNX files hold "
            f"'{encoder.plugin}' for input '{config.input}': leave encoder "
            'empty or use inference_backend torch'
        )
    return LoadedEncoder(
        encoder,
        encoder.bundle.window,
        encoder.input,
        True,
        tuple(encoder.warnings),
        encoder.bundle.model_id,
    )


def resample_audio(
    stamps: np.ndarray, samples: np.ndarray, from_rate: float, to_rate: float
) -> Tuple[np.ndarray, np.ndarray]:
    """Mono samples at ``from_rate`` as samples at ``to_rate``: a whole-number downsampling ratio
    (48 kHz -> 16 kHz) averages each block (a box filter against aliasing); any other ratio
    interpolates linearly. Stamps start at the first sample's."""
    ratio = from_rate / to_rate
    if abs(ratio - round(ratio)) < 1e-9 and round(ratio) >= 1:
        r = int(round(ratio))
        n = len(samples) // r
        return stamps[: n * r : r], samples[: n * r].reshape(n, r).mean(axis=1).astype(np.float32)
    n = int(np.floor(len(samples) / ratio))
    grid = stamps[0] + np.arange(n) / to_rate
    return grid, np.interp(grid, stamps, samples).astype(np.float32)


def resize_frames(frames: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """``(N, H, W[, C])`` frames resized to one frame's ``shape``."""
    import cv2  # only a camera's change of resolution needs OpenCV

    h, w = shape[:2]
    return np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])


def _python_log(level: str, cause: str, text: str) -> None:
    logging.getLogger(__name__).log(logging.INFO if level == 'info' else logging.WARNING, text)


class EncoderRuntime:
    """One input's encoding policy (see the module docstring).

    Built from a loaded encoder and the node's configuration (:meth:`from_config` loads the
    encoder too); raises :class:`EncoderSetupError` on a configuration it cannot run. It has
    no lock: one thread feeds it (the node's input callback); another may read its statuses
    (the diagnostics timer), which then see counts a message behind at worst.
    """

    def __init__(
        self,
        loaded: LoadedEncoder,
        config: EncoderConfig,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        log: Optional[Log] = None,
    ) -> None:
        self._log = log or _python_log
        self._clock, self._mono = clock, monotonic
        self.warnings = list(loaded.warnings)
        for warning in self.warnings:
            self._log('warning', '', warning)
        self.config = config
        self.backend = config.inference_backend
        self.encoder = loaded.encoder
        self.model_id = loaded.model_id
        self.checkpoint = config.checkpoint
        # A model swap (prepare, commit, abort): the prepared encoder, and the first window
        # end (s) it encodes once committed.
        self._next: Optional[LoadedEncoder] = None
        self._switch_at: Optional[float] = None
        self._next_checkpoint = ''
        spec_in = loaded.input
        self.input_name = input_name = config.input or spec_in.name
        self.encoder_name = config.encoder or spec_in.encoder
        self.modality = modality = spec_in.sensor_type
        if self.encoder.modality != modality:
            raise EncoderSetupError(
                f"encoder '{self.encoder_name}' is for sensor type '{self.encoder.modality}', "
                f"input '{input_name}' is a {modality}"
            )
        if not loaded.has_weights:
            self._log(
                'warning',
                '',
                f"checkpoint has no weights for encoder '{self.encoder_name}': "
                "using the plugin's own initialization",
            )
        spec = self.encoder.input_spec
        self.message_type = self._message_type(spec.message_types)
        if config.input_reliability not in RELIABILITIES:
            raise EncoderSetupError(
                "input_reliability must be 'best_effort' or 'reliable', "
                f"got '{config.input_reliability}'"
            )
        if config.sensor_rate_hz < 0:
            raise EncoderSetupError(f'sensor_rate_hz must be >= 0, got {config.sensor_rate_hz}')
        rate = float(config.sensor_rate_hz) or spec_in.rate_hz or spec.expected_rate_hz
        self.window_spec = loaded.window
        self.windower = StreamWindower(
            input_name,
            loaded.window,
            rate,
            sample_rate=rate if modality == 'audio' else None,
            max_chunks=int(config.max_buffer_chunks),
        )
        self.queue_depth = int(config.input_queue_depth) or QUEUE_DEPTH.get(modality, 10)
        self.reliable = config.input_reliability == 'reliable'
        compressed = config.image_transport == 'compressed'
        self.input_topic = config.input_topic or spec_in.graph_topic(compressed)
        self.feature_topic = config.feature_topic or f'features/{input_name}'

        self.drops = DropCounter()
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

    @classmethod
    def from_config(
        cls, config: EncoderConfig, node_name: str = '', **kwargs: Any
    ) -> 'EncoderRuntime':
        """Load the encoder ``config`` names (its input, when empty, named after the node:
        :func:`default_input_name`) and build the runtime around it."""
        if not config.input:
            config = replace(config, input=default_input_name(node_name))
        return cls(load_encoder(config), config, **kwargs)

    def _message_type(self, consumed: Iterable[str]) -> str:
        """The message type the input is read as: the first the encoder consumes that a node
        can convert; for a camera, the one of the chosen ``image_transport``."""
        types = [t for t in consumed if t in INPUT_MESSAGE_TYPES]
        if self.modality == 'camera':
            wanted = (
                'sensor_msgs/msg/CompressedImage'
                if self.config.image_transport == 'compressed'
                else 'sensor_msgs/msg/Image'
            )
            types = [t for t in types if t == wanted]
        if not types:
            raise EncoderSetupError(
                f"encoder '{self.encoder_name}' consumes {list(consumed)}; this node "
                f'reads {sorted(INPUT_MESSAGE_TYPES)}'
            )
        return types[0]

    # --- input ------------------------------------------------------------------------------
    def refuse(self, cause: str, text: str) -> None:
        """Count an input dropped for ``cause`` (a message that could not be converted, say)
        and warn with ``text``."""
        self.drops.add(cause)
        self._log('warning', 'dropped', f'dropped {self.input_name} input: {text}')

    def note_sequence(self, publisher: bytes, sequence: int) -> None:
        """A message numbered ``sequence`` by ``publisher`` (its gid) arrived: the messages
        it skipped since that publisher's last are counted lost in transport."""
        self.counts_sequence = True
        last = self._sequence.pop(publisher, None)
        if last is not None and sequence > last + 1:
            self.lost_messages += sequence - last - 1
        self._sequence[publisher] = max(sequence, last or 0)
        if len(self._sequence) > 64:  # publishers come and go: forget the longest silent
            del self._sequence[next(iter(self._sequence))]

    def push(
        self,
        stamps: np.ndarray,
        samples: np.ndarray,
        *,
        arrival: Optional[float] = None,
        audio: Optional[AudioFormat] = None,
    ) -> Iterator[EncodedWindow]:
        """One message's samples (stamps ``(N,)`` in s, samples ``(N, ...)``); the windows
        they complete, encoded one at a time as the iterator is consumed, so each feature can
        leave before the next window is encoded: consume it.

        ``arrival``: the receiver's clock when the message arrived (None under sim time: a
        replayed clock is no witness of arrival); ``audio``: an audio chunk's stated format
        (None: the model's). Input the model cannot take is counted, warned about, and makes
        no window.
        """
        try:
            stamps, samples = self._check_format(stamps, samples, audio)
        except InputRefused as exc:
            self.refuse(exc.cause, str(exc))
            return iter(())
        if self._silent_since is not None:
            self._log(
                'info',
                '',
                f'{self.input_name}: input on {self.input_topic} resumed after '
                f'{self._mono() - self._silent_since:.1f}s',
            )
            self._silent_since = None
        self.input_rate.tick(self._mono())
        return self._encode(self.windower.push(stamps, samples, arrival=arrival))

    # --- model swap (the fusion node's ~/load_model drives it: core/model_info.py) ----------
    def prepare(self, checkpoint: str) -> str:
        """Load this input's encoder from ``checkpoint`` beside the running one and check
        that it can take its place (same input and sensor type, same windows); returns its
        model id. Raises :class:`EncoderSetupError` with the reason; nothing changes then."""
        loaded = load_encoder(replace(self.config, checkpoint=checkpoint, encoder=''))
        if loaded.input.sensor_type != self.modality:
            raise EncoderSetupError(
                f"input '{self.input_name}' is a {loaded.input.sensor_type} in {checkpoint}, "
                f'a {self.modality} here'
            )
        old, new = self.window_spec, loaded.window
        if not (math.isclose(old.length, new.length) and math.isclose(old.hop, new.hop)):
            raise EncoderSetupError(
                f'{checkpoint} has windows of {new.length:g} s every {new.hop:g} s, this graph '
                f'{old.length:g} s every {old.hop:g} s: restart the graph to change them'
            )
        if loaded.encoder.input_spec.shape != self.encoder.input_spec.shape:
            raise EncoderSetupError(
                f'{checkpoint}: the encoder of {self.input_name} takes windows of shape '
                f'{tuple(loaded.encoder.input_spec.shape)}, this one '
                f'{tuple(self.encoder.input_spec.shape)}: restart the graph to change it'
            )
        self._next, self._switch_at, self._next_checkpoint = loaded, None, checkpoint
        return loaded.model_id

    def commit(self, switch_at: float) -> None:
        """Encode windows ending at ``switch_at`` (s) or later with the prepared model."""
        if self._next is None:
            raise EncoderSetupError('no model prepared: call prepare first')
        self._switch_at = float(switch_at)

    def abort(self) -> None:
        """Forget the prepared model; the running one goes on."""
        self._next, self._switch_at = None, None

    @property
    def swap_pending(self) -> bool:
        return self._next is not None

    def _switch_if_due(self, end: float) -> None:
        if self._next is None or self._switch_at is None or end < self._switch_at - 1e-6:
            return
        previous = self.model_id
        self.encoder, self.model_id = self._next.encoder, self._next.model_id
        self.checkpoint = self._next_checkpoint
        self._next, self._switch_at = None, None
        self._log(
            'info',
            '',
            f'{self.input_name}: model {previous} -> {self.model_id} from the window ending '
            f'{end:.3f}',
        )

    def _encode(self, windows: List[SensorWindow]) -> Iterator[EncodedWindow]:
        for window in windows:
            self._switch_if_due(window.end)
            start = time.perf_counter()
            try:
                feature = self.encoder.encode(window)
            except Exception as exc:  # noqa: BLE001 - a bad window must not stop the node
                self.drops.add('encode_error')
                self._log(
                    'warning',
                    'encode_error',
                    f'{self.input_name} window ending {window.end:.3f} not encoded: '
                    f'{type(exc).__name__}: {exc}',
                )
                continue
            encode_ms = (time.perf_counter() - start) * 1e3
            yield EncodedWindow(
                feature,
                window.start,
                window.end,
                window.newest_stamp,
                len(window.stamps),
                encode_ms,
                self.model_id,
            )
            # Counted once the feature has left: the latency is sensor to publication.
            self.encode_ms.add(encode_ms)
            self.latency_ms.add((self._clock() - window.newest_stamp) * 1e3)
            self.feature_rate.tick(self._mono())

    def _check_format(
        self, stamps: np.ndarray, samples: np.ndarray, audio: Optional[AudioFormat]
    ) -> Tuple[np.ndarray, np.ndarray]:
        """The one place an input's format is judged against the model and the stream so far.

        Camera: a frame of the wrong kind (depth into a colour model, or the reverse) is
        refused; a new resolution is taken in (frames resized, see :meth:`_check_frame`).
        Audio: another sample rate is resampled to the model's (channels were mixed to mono
        on conversion). A change of format is counted and warned about, never used silently.
        """
        if self.modality == 'camera':
            return stamps, self._check_frame(samples)
        if self.modality == 'audio' and audio is not None:
            rate = float(audio.sample_rate)
            self._note_format(
                (int(audio.sample_rate), int(audio.channels), audio.sample_format),
                f'{audio.sample_rate} Hz, {audio.channels} channel(s), {audio.sample_format}',
            )
            model_rate = float(self.windower.sample_rate)
            if rate != model_rate:
                # A microphone at another rate (48 kHz) than the model's: resampled, never placed
                # on the model's timeline as if it were its rate.
                stamps, samples = resample_audio(stamps, samples, rate, model_rate)
                if len(samples) == 0:
                    raise InputRefused(
                        'empty_audio',
                        f"{audio.size} bytes at {rate:g} Hz make no sample at the model's rate",
                    )
                self.resampled_chunks += 1
                self._log(
                    'warning',
                    'resampled',
                    f'{self.input_name}: audio at {audio.sample_rate} Hz resampled to the '
                    f"model's {model_rate:g} Hz",
                )
        return stamps, samples

    def _note_format(self, key: Tuple[Any, ...], text: str) -> None:
        if self._format is not None and key != self._format:
            self.format_changes += 1
            self._log(
                'warning',
                'format_change',
                f'{self.input_name}: input format changed to {text} (counted as a format change)',
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
            raise InputRefused(
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
            self.windower.buffer.convert(lambda old: resize_frames(old, shape))
            self._frame_change = None
            return frames
        return resize_frames(frames, held)

    # --- health -----------------------------------------------------------------------------
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

    def _events(self, internal_errors: int) -> Dict[str, int]:
        """Everything the operator is told about when it changes: drops by cause, clock
        jumps, format changes and internal errors."""
        return {
            **{f'dropped ({k})': v for k, v in self.counts().items()},
            'clock jump': self.windower.stats.time_jumps,
            'format change': self.format_changes,
            'internal error': internal_errors,
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

    def _encoder_level(self, input_level: int) -> Tuple[int, str]:
        """The encoder status: a provider fallback (slower than asked) is a WARN."""
        text = f'{self.feature_rate.count} windows encoded'
        if self.warnings:
            return WARN, f'{text}; {self.warnings[0]}'
        return (OK if self.feature_rate.count else input_level), text

    def statuses(self, internal_errors: int = 0) -> List[Status]:
        """The input's and the encoder's diagnostic status now; ``internal_errors``: the
        node's count of callbacks that failed. Called once per diagnostics period: what
        changed since the last call is reported as an anomaly (WARN for ``stale_timeout``)."""
        now = self._mono()
        age = self.input_rate.age(now)
        newest = self.windower.buffer.newest_stamp
        drops = self.counts()
        stale_timeout = self.config.stale_timeout
        level, text = freshness(self.input_rate.count, age, stale_timeout)
        if level != OK and self.input_rate.count and self._silent_since is None:
            self._silent_since = now - age
            self._log(
                'warning', '', f'{self.input_name}: no input on {self.input_topic} for {age:.1f}s'
            )
        news = self._anomaly_text(self._events(internal_errors))
        if news is not None:
            self._anomaly = (now, news)
        # An anomaly keeps the status WARN for stale_timeout seconds, so a reader sees it.
        if level == OK and now - self._anomaly[0] < stale_timeout:
            level, text = WARN, self._anomaly[1]
        ws = self.windower.stats
        input_values = {
            'Events since startup': self.input_rate.count,
            'Actual frequency (Hz)': self.input_rate.rate(now),
            'Age of last message (s)': age,
            'Latest timestamp delay (s)': (
                self._clock() - newest if newest is not None else float('inf')
            ),
            'Dropped total': sum(drops.values()),
            **{f'Dropped ({k})': v for k, v in sorted(drops.items())},
            'Clock jumps': ws.time_jumps,
            'Interruptions': ws.interruptions,
            # Silences longer than the pause threshold (a trial ended): not losses, and the
            # windows they made sparse are not counted as incomplete.
            'Pauses': ws.pauses,
            'Paused (s)': ws.paused_seconds,
            'Windows straddling a pause': ws.straddles_pause,
            'Format changes': self.format_changes,
            'Internal errors': internal_errors,
            **(
                {'Resampled chunks (sample rate)': self.resampled_chunks}
                if self.resampled_chunks
                else {}
            ),
        }
        encoder_values = {
            'Encoder': self.encoder_name,
            'Model id': self.model_id,
            'Inference backend': self.backend,
            'Windows': self.feature_rate.count,
            'Feature frequency (Hz)': self.feature_rate.rate(now),
            **latency_values('Encode time', self.encode_ms.percentiles()),
            **latency_values('Sensor to feature latency', self.latency_ms.percentiles()),
        }
        return [
            Status(
                f'{self.input_topic} topic status', self.input_name, level, text, input_values
            ),
            Status('encoder', self.input_name, *self._encoder_level(level), encoder_values),
        ]


__all__ = [
    'AudioFormat',
    'EncodedWindow',
    'EncoderConfig',
    'EncoderRuntime',
    'EncoderSetupError',
    'InputRefused',
    'LoadedEncoder',
    'default_input_name',
    'load_encoder',
    'resample_audio',
    'resize_frames',
]
