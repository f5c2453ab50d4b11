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

"""Window -> network input for the built-in encoders, in numpy alone (no torch).

An encoder is split as timm's models are: preprocessing (no learned weights) and the network.
The preprocessing lives here, apart from the torch modules, so that two backends share one
implementation: the torch encoders (``core/encoders``) call these classes from their
``preprocess``, and the ONNX Runtime backend (``core/onnx_backend.py``) calls them in a
process that never imports torch. The per-channel normalization statistics (``norm_mean``,
``norm_std``) are applied by the network itself, in ``Encoder.forward`` and in the exported
ONNX graph alike, so they are not applied here.

Each preprocessor is named (``camera``, ``imu``, ``audio``); an export records the name with
the encoder's config, and :func:`create_preprocessor` rebuilds it from those two.
``InputSpec`` (what an encoder consumes) lives here too, so both backends describe it alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple, Type

import cv2
import numpy as np

from .windows import SensorWindow

GRAVITY = 9.80665


@dataclass(frozen=True)
class InputSpec:
    """What an encoder consumes: the modality, the ROS message types it accepts and the
    shape of one preprocessed window (without the batch dimension)."""

    modality: str
    message_types: Tuple[str, ...]
    shape: Tuple[int, ...]
    expected_rate_hz: float


@dataclass
class CameraCNNConfig:
    frames: int = 4  # frames sampled evenly across the window, stacked as channels
    height: int = 48  # network input size; frames are resized (aspect kept by default)
    width: int = 64
    base_channels: int = 16
    feature_dim: int = 64
    expected_rate_hz: float = 15.0
    depth: bool = False  # a depth camera (frames in metres) rather than colour
    norm_mean: Optional[List[float]] = None  # per stacked frame, from the training split
    norm_std: Optional[List[float]] = None


@dataclass
class ImuCNN1dConfig:
    length: int = 64  # samples per window after resampling onto a uniform grid
    channels: int = 6  # ax, ay, az (m/s^2), gx, gy, gz (rad/s); 3: no gyroscope
    base_channels: int = 32
    feature_dim: int = 64
    acc_scale: float = GRAVITY  # inputs are divided by these, so values are of order 1
    gyro_scale: float = 2.0
    expected_rate_hz: float = 100.0
    norm_mean: Optional[List[float]] = None  # per channel, from the training split
    norm_std: Optional[List[float]] = None  # (None: scales only)


@dataclass
class AudioLogMelCNNConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 256
    n_mels: int = 40
    fmin: float = 50.0
    fmax: float = 8000.0
    window_seconds: float = 1.0  # the spectrogram always covers this much audio
    base_channels: int = 16
    feature_dim: int = 64
    expected_rate_hz: float = 16000.0
    norm_mean: Optional[List[float]] = None  # one channel (the spectrogram), from training
    norm_std: Optional[List[float]] = None


class Preprocessor:
    """One window of a sensor -> the float32 array of shape ``input_shape`` that the encoder
    network takes. Subclasses set ``name`` (the sensor type), ``message_types`` and
    ``config_class`` and implement ``input_shape`` and ``__call__``. The config object is
    shared with the torch encoder that owns it."""

    name: ClassVar[str] = ''
    message_types: ClassVar[Tuple[str, ...]] = ()
    config_class: ClassVar[Type[Any]]

    def __init__(self, config: Any) -> None:
        self.config = config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> 'Preprocessor':
        """Build from an encoder's config mapping. Keys this preprocessor does not read are
        ignored: an encoder plugin that extends a built-in config (more network
        hyper-parameters) preprocesses as the built-in does."""
        known = {f.name for f in fields(cls.config_class)}
        return cls(cls.config_class(**{k: v for k, v in config.items() if k in known}))

    @property
    def input_shape(self) -> Tuple[int, ...]:
        raise NotImplementedError

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec(
            self.name, self.message_types, self.input_shape, self.config.expected_rate_hz
        )

    def __call__(self, window: SensorWindow) -> np.ndarray:
        raise NotImplementedError


def select_frames(stamps: np.ndarray, start: float, end: float, count: int) -> np.ndarray:
    """Indices of the frames nearest to ``count`` instants spread evenly over [start, end)."""
    targets = start + (np.arange(count) + 0.5) * (end - start) / count
    right = (
        np.clip(np.searchsorted(stamps, targets), 1, len(stamps) - 1)
        if len(stamps) > 1
        else np.zeros(count, dtype=np.int64)
    )
    if len(stamps) > 1:
        left = right - 1
        nearer = np.abs(stamps[right] - targets) < np.abs(stamps[left] - targets)
        right = np.where(nearer, right, left)
    return right


class CameraPreprocessor(Preprocessor):
    """``frames`` frames spread evenly over the window, grayscale (colour) or metres with
    no-reading as 0 (depth), resized to ``height`` x ``width`` and stacked as channels."""

    name = 'camera'
    message_types = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
    config_class = CameraCNNConfig

    @property
    def input_shape(self) -> Tuple[int, ...]:
        c = self.config
        return (c.frames, c.height, c.width)

    def __call__(self, window: SensorWindow) -> np.ndarray:
        c = self.config
        if len(window.stamps) == 0:
            raise ValueError('camera window has no frames')
        idx = select_frames(window.stamps, window.start, window.end, c.frames)
        out = np.empty((c.frames, c.height, c.width), dtype=np.float32)
        is_depth = window.samples.dtype.kind == 'f'
        if is_depth != c.depth:
            trained, got = ('depth' if c.depth else 'colour'), ('depth' if is_depth else 'colour')
            raise ValueError(f'this encoder was trained on {trained} images, got {got}')
        for i, j in enumerate(idx):  # `frames` iterations (4), not one per pixel
            frame = window.samples[j]
            if is_depth:  # metres, NaN where the camera had no reading: 0, as 16UC1 writes it
                frame = np.nan_to_num(frame, nan=0.0, posinf=0.0, neginf=0.0)
            elif frame.ndim == 3:
                frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            out[i] = cv2.resize(frame, (c.width, c.height), interpolation=cv2.INTER_AREA)
        if not is_depth:
            out *= 1.0 / 255.0
            out -= 0.5
            out *= 4.0
        return out


class ImuPreprocessor(Preprocessor):
    """The window's samples linearly resampled onto ``length`` evenly spaced instants (so the
    network does not depend on the IMU's rate or jitter), divided by g and ``gyro_scale``;
    rows ax, ay, az[, gx, gy, gz]. A part the IMU does not provide (REP-145) arrives as NaN
    and is an error when the model needs it."""

    name = 'imu'
    message_types = ('sensor_msgs/msg/Imu',)
    config_class = ImuCNN1dConfig

    @property
    def input_shape(self) -> Tuple[int, ...]:
        return (self.config.channels, self.config.length)

    def __call__(self, window: SensorWindow) -> np.ndarray:
        c = self.config
        samples = np.asarray(window.samples, dtype=np.float64).reshape(len(window.stamps), -1)
        if samples.shape[0] == 0:
            raise ValueError('IMU window has no samples')
        if samples.shape[1] < c.channels:
            raise ValueError(
                f'IMU samples have {samples.shape[1]} channels, expected {c.channels}'
            )
        samples = samples[:, : c.channels]
        if not np.isfinite(samples).all():
            raise ValueError(
                'the IMU provides no gyroscope (angular_velocity_covariance[0] = '
                '-1), but this encoder was trained with 6 channels'
                if c.channels > 3
                else 'the IMU provides no accelerometer (linear_acceleration_covariance[0] = -1)'
            )
        grid = window.start + (np.arange(c.length) + 0.5) * (window.length / c.length)
        # Linear interpolation of every channel at once: find each grid instant's neighbours.
        stamps = window.stamps
        if len(stamps) == 1:
            resampled = np.repeat(samples, c.length, axis=0)
        else:
            hi = np.clip(np.searchsorted(stamps, grid), 1, len(stamps) - 1)
            lo = hi - 1
            span = stamps[hi] - stamps[lo]
            w = np.clip((grid - stamps[lo]) / np.where(span > 0, span, 1.0), 0.0, 1.0)[:, None]
            resampled = samples[lo] * (1.0 - w) + samples[hi] * w
        scale = np.array([c.acc_scale] * 3 + [c.gyro_scale] * (c.channels - 3))
        return (resampled / scale).T.astype(np.float32)


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float
) -> np.ndarray:
    """Triangular filters on the mel scale (HTK formula), shape ``(n_mels, n_fft // 2 + 1)``."""
    bin_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def log_mel(signal: np.ndarray, filterbank: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Log-mel spectrogram ``(n_mels, frames)`` of a mono float signal, all frames at once."""
    if len(signal) < n_fft:
        signal = np.pad(signal, (0, n_fft - len(signal)))
    frames = np.lib.stride_tricks.sliding_window_view(signal, n_fft)[::hop]
    spectrum = np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    return np.log(power @ filterbank.T + 1e-6).T.astype(np.float32)


class AudioPreprocessor(Preprocessor):
    """The window's samples placed on a fixed ``window_seconds`` timeline (gaps stay silent),
    then a log-mel spectrogram, as one channel."""

    name = 'audio'
    message_types = ('hybrid_fusion_msgs/msg/AudioChunk',)
    config_class = AudioLogMelCNNConfig

    def __init__(self, config: AudioLogMelCNNConfig) -> None:
        super().__init__(config)
        self._filterbank: Optional[np.ndarray] = None

    @property
    def filterbank(self) -> np.ndarray:
        if self._filterbank is None:  # built once, on first use
            c = self.config
            self._filterbank = mel_filterbank(
                c.sample_rate, c.n_fft, c.n_mels, c.fmin, min(c.fmax, c.sample_rate / 2)
            )
        return self._filterbank

    @property
    def num_samples(self) -> int:
        return int(round(self.config.window_seconds * self.config.sample_rate))

    @property
    def input_shape(self) -> Tuple[int, ...]:
        c = self.config
        frames = 1 + (max(self.num_samples, c.n_fft) - c.n_fft) // c.hop
        return (1, c.n_mels, frames)

    def __call__(self, window: SensorWindow) -> np.ndarray:
        c = self.config
        if window.sample_rate is not None and int(window.sample_rate) != c.sample_rate:
            raise ValueError(
                f'audio sample rate {window.sample_rate} Hz, encoder expects {c.sample_rate} Hz'
            )
        timeline = np.zeros(self.num_samples, dtype=np.float32)
        idx = np.round((window.stamps - window.start) * c.sample_rate).astype(np.int64)
        keep = (idx >= 0) & (idx < self.num_samples)
        timeline[idx[keep]] = np.asarray(window.samples, dtype=np.float32).reshape(-1)[keep]
        return log_mel(timeline, self.filterbank, c.n_fft, c.hop)[None]


PREPROCESSORS: Dict[str, Type[Preprocessor]] = {
    cls.name: cls for cls in (CameraPreprocessor, ImuPreprocessor, AudioPreprocessor)
}


def create_preprocessor(name: str, config: Mapping[str, Any]) -> Preprocessor:
    """The preprocessor ``name`` built from an encoder's config; an unknown name raises with
    the known ones."""
    cls = PREPROCESSORS.get(name)
    if cls is None:
        raise KeyError(f"unknown preprocessor '{name}'; known: {', '.join(sorted(PREPROCESSORS))}")
    return cls.from_config(config)
