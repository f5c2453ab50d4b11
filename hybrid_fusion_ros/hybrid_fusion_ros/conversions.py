"""Message <-> array conversions, all in one place and vectorized (no per-sample loops).

Functions that read sensor messages raise :class:`InputError` with a short ``cause`` (used
as a diagnostics counter key) and a message an operator can act on.
"""
from __future__ import annotations

import array
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from builtin_interfaces.msg import Time
from hybrid_fusion_msgs.msg import ActivityLabel, AudioChunk, FeatureVector
from sensor_msgs.msg import CompressedImage, Image, Imu

IMAGE_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}


class InputError(ValueError):
    """A sensor message that cannot be used; ``cause`` names the kind of problem."""

    def __init__(self, cause: str, message: str) -> None:
        super().__init__(message)
        self.cause = cause


# --- time -----------------------------------------------------------------------------------
def stamp_to_sec(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def sec_to_stamp(seconds: float) -> Time:
    ns = int(round(seconds * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def stamp_to_ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


# --- camera ---------------------------------------------------------------------------------
def image_to_rgb(msg: Image) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB view of a ``sensor_msgs/Image`` (row padding handled)."""
    channels = IMAGE_CHANNELS.get(msg.encoding)
    if channels is None:
        raise InputError('unsupported_encoding', f"image encoding '{msg.encoding}' is not supported; "
                         f"use one of {', '.join(IMAGE_CHANNELS)}")
    h, w, step = msg.height, msg.width, msg.step
    if h == 0 or w == 0 or step < w * channels or len(msg.data) < h * step:
        raise InputError('malformed_image', f'image of {w}x{h}, step {step}, has {len(msg.data)} bytes of data')
    pixels = np.frombuffer(msg.data, np.uint8, count=h * step).reshape(h, step)[:, :w * channels]
    pixels = pixels.reshape(h, w, channels)
    if msg.encoding == 'rgb8':
        return pixels
    code = {'bgr8': cv2.COLOR_BGR2RGB, 'rgba8': cv2.COLOR_RGBA2RGB, 'bgra8': cv2.COLOR_BGRA2RGB,
            'mono8': cv2.COLOR_GRAY2RGB}[msg.encoding]
    return cv2.cvtColor(np.ascontiguousarray(pixels), code)


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    buf = np.frombuffer(msg.data, np.uint8)
    frame = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if frame is None:
        raise InputError('undecodable_image', f"compressed image ('{msg.format}', {buf.size} bytes) cannot be decoded")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def rgb_to_image(frame: np.ndarray, stamp: Time, frame_id: str = 'camera') -> Image:
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(frame.shape[0]), int(frame.shape[1])
    msg.encoding = 'rgb8'
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(frame, dtype=np.uint8).tobytes()
    return msg


def rgb_to_compressed(frame: np.ndarray, stamp: Time, frame_id: str = 'camera', quality: int = 90) -> CompressedImage:
    ok, buf = cv2.imencode('.jpg', cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    msg = CompressedImage()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.format = 'jpeg'
    msg.data = buf.tobytes()
    return msg


# --- IMU ------------------------------------------------------------------------------------
def imu_to_row(msg: Imu) -> np.ndarray:
    """``(6,)`` float64: linear acceleration then angular velocity."""
    a, g = msg.linear_acceleration, msg.angular_velocity
    row = np.array([a.x, a.y, a.z, g.x, g.y, g.z])
    if not np.isfinite(row).all():
        raise InputError('non_finite_imu', 'IMU message has NaN or inf in linear_acceleration/angular_velocity')
    return row


def row_to_imu(row: Sequence[float], stamp: Time, frame_id: str = 'imu') -> Imu:
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    a, g = msg.linear_acceleration, msg.angular_velocity
    a.x, a.y, a.z, g.x, g.y, g.z = (float(v) for v in row[:6])
    msg.orientation_covariance[0] = -1.0  # REP-145: orientation not provided
    return msg


# --- audio ----------------------------------------------------------------------------------
_AUDIO_DTYPES = {AudioChunk.FORMAT_S16LE: ('<i2', 1.0 / 32768.0), AudioChunk.FORMAT_F32LE: ('<f4', 1.0)}


def audio_to_samples(msg: AudioChunk) -> Tuple[np.ndarray, np.ndarray]:
    """``(stamps, samples)``: per-sample stamps (s) and mono float32 samples in [-1, 1]."""
    fmt = _AUDIO_DTYPES.get(msg.sample_format)
    if fmt is None:
        raise InputError('unsupported_audio_format', f"audio sample format '{msg.sample_format}' is not "
                         f"supported; use one of {', '.join(_AUDIO_DTYPES)}")
    if msg.sample_rate == 0 or msg.channels == 0:
        raise InputError('malformed_audio', f'audio chunk with sample_rate {msg.sample_rate}, channels {msg.channels}')
    dtype, scale = fmt
    raw = np.frombuffer(msg.data, dtype=dtype)
    if raw.size == 0:
        raise InputError('empty_audio', 'audio chunk has no samples')
    if raw.size % msg.channels:
        raise InputError('malformed_audio', f'{raw.size} samples do not divide into {msg.channels} channels')
    samples = raw.reshape(-1, msg.channels).astype(np.float32).mean(axis=1) * np.float32(scale)
    if not np.isfinite(samples).all():
        raise InputError('non_finite_audio', 'audio chunk has NaN or inf samples')
    stamps = stamp_to_sec(msg.header.stamp) + np.arange(samples.size) / float(msg.sample_rate)
    return stamps, samples


def samples_to_audio(samples: np.ndarray, sample_rate: int, stamp: Time, frame_id: str = 'microphone') -> AudioChunk:
    msg = AudioChunk()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.sample_rate = int(sample_rate)
    msg.channels = 1
    msg.sample_format = AudioChunk.FORMAT_S16LE
    msg.data = (np.clip(samples, -1.0, 1.0) * 32767.0).astype('<i2').tobytes()
    return msg


# --- features and labels --------------------------------------------------------------------
def feature_to_msg(feature: np.ndarray, modality: str, encoder: str, start: float, end: float,
                   newest: float, sample_count: int, encode_ms: float, frame_id: str = '') -> FeatureVector:
    msg = FeatureVector()
    msg.header.stamp = sec_to_stamp(end)
    msg.header.frame_id = frame_id
    msg.modality = modality
    msg.encoder = encoder
    msg.window_start = sec_to_stamp(start)
    msg.window_end = sec_to_stamp(end)
    msg.newest_sample_stamp = sec_to_stamp(newest)
    msg.sample_count = int(sample_count)
    feature = np.ascontiguousarray(feature, dtype=np.float32)
    msg.data = array.array('f', feature.tobytes())
    msg.shape = array.array('I', [int(s) for s in feature.shape])
    msg.encode_time_ms = float(encode_ms)
    return msg


def msg_to_feature(msg: FeatureVector) -> np.ndarray:
    data = np.frombuffer(msg.data, dtype=np.float32) if isinstance(msg.data, array.array) \
        else np.asarray(msg.data, dtype=np.float32)
    shape = tuple(int(s) for s in msg.shape) or (data.size,)
    if int(np.prod(shape)) != data.size:
        raise InputError('malformed_feature', f'feature of {data.size} values does not fit shape {shape}')
    if not np.isfinite(data).all():
        raise InputError('non_finite_feature', f'{msg.modality} feature has NaN or inf values')
    return data.reshape(shape)


def make_label(stamp: Time, classes: Sequence[str], probs: Optional[np.ndarray], class_id: int,
               modalities: Sequence[str], fusion_mode: str, latency_ms: float = 0.0,
               weights: Optional[np.ndarray] = None, frame_id: str = '') -> ActivityLabel:
    msg = ActivityLabel()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.class_names = list(classes)
    msg.class_id = int(class_id)
    msg.label = classes[class_id] if 0 <= class_id < len(classes) else ''
    if probs is not None:
        msg.probabilities = array.array('f', np.asarray(probs, dtype=np.float32).tobytes())
        msg.confidence = float(probs[class_id])
    else:
        msg.confidence = 1.0
    msg.modalities_used = list(modalities)
    if weights is not None:
        msg.modality_weights = array.array('f', np.asarray(weights, dtype=np.float32).tobytes())
    msg.fusion_mode = fusion_mode
    msg.latency_ms = float(latency_ms)
    return msg
