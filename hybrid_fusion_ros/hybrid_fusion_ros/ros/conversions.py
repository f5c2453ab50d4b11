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

"""Message <-> array conversions, all in one place and vectorized (no per-sample loops).

Functions that read sensor messages raise :class:`InputError` with a short ``cause`` (used
as a diagnostics counter key) and a message an operator can act on.
"""

from __future__ import annotations

import array
import struct
from typing import Any, Callable, Dict, Optional, Sequence, Set, Tuple

from builtin_interfaces.msg import Time
import cv2
from hybrid_fusion_msgs.msg import ActivityEvent
from hybrid_fusion_msgs.msg import ActivityLabel
from hybrid_fusion_msgs.msg import AudioChunk
from hybrid_fusion_msgs.msg import FeatureVector
from hybrid_fusion_msgs.msg import ModelInfo
import numpy as np
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image
from sensor_msgs.msg import Imu

from ..core.calibration import UNKNOWN_LABEL

IMAGE_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}
# Single-channel depth encodings: numpy dtype (before byte order) and whether values are
# millimetres.
DEPTH_ENCODINGS = {'16UC1': ('u2', True), 'mono16': ('u2', True), '32FC1': ('f4', False)}
MILLIMETRE_ENCODINGS = tuple(e for e, (_, mm) in DEPTH_ENCODINGS.items() if mm)

# compressed_depth_image_transport layout: a little-endian ConfigHeader (int32 format, float32
# depthParam[2]) before the PNG. The format enum is INV_DEPTH (0) for every encoding upstream.
_DEPTH_HEADER = struct.Struct('<iff')
_INV_DEPTH = 0
# Inverse-depth quantization for 32FC1, with upstream's default parameters (depth_quantization
# Z0 = 100, depth_max = 10 m): A = Z0 * (Z0 + 1), B = 1 - A / depth_max. Stored v = A / d + B, so
# v -> 1 as d -> 10 m and v = 65535 at A / (65535 - B) ~ 0.152 m; the step between adjacent codes
# is
# about d**2 / A (0.1 mm at 1 m, 10 mm at 10 m). Depths at or beyond depth_max are stored as 0.
DEPTH_QUANT_MAX_M = 10.0
DEPTH_QUANT_A = 100.0 * (100.0 + 1.0)
DEPTH_QUANT_B = 1.0 - DEPTH_QUANT_A / DEPTH_QUANT_MAX_M


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


def ns_to_stamp(ns: int) -> Time:
    ns = int(ns)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def stamp_to_ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


# --- camera ---------------------------------------------------------------------------------
def image_to_rgb(msg: Image) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB view of a ``sensor_msgs/Image`` (row padding handled)."""
    channels = IMAGE_CHANNELS.get(msg.encoding)
    if channels is None:
        raise InputError(
            'unsupported_encoding',
            f"image encoding '{msg.encoding}' is not supported; "
            f"use one of {', '.join(IMAGE_CHANNELS)}",
        )
    h, w, step = msg.height, msg.width, msg.step
    if h == 0 or w == 0 or step < w * channels or len(msg.data) < h * step:
        raise InputError(
            'malformed_image', f'image of {w}x{h}, step {step}, has {len(msg.data)} bytes of data'
        )
    pixels = np.frombuffer(msg.data, np.uint8, count=h * step).reshape(h, step)[:, : w * channels]
    pixels = pixels.reshape(h, w, channels)
    if msg.encoding == 'rgb8':
        return pixels
    code = {
        'bgr8': cv2.COLOR_BGR2RGB,
        'rgba8': cv2.COLOR_RGBA2RGB,
        'bgra8': cv2.COLOR_BGRA2RGB,
        'mono8': cv2.COLOR_GRAY2RGB,
    }[msg.encoding]
    return cv2.cvtColor(np.ascontiguousarray(pixels), code)


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB from a JPEG/PNG ``sensor_msgs/CompressedImage``."""
    buf = np.frombuffer(msg.data, np.uint8)
    frame = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    if frame is None:
        raise InputError(
            'undecodable_image',
            f"compressed image ('{msg.format}', {buf.size} bytes) cannot be decoded",
        )
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _unsupported_encoding(encoding: str) -> InputError:
    return InputError(
        'unsupported_encoding',
        f"image encoding '{encoding}' is not supported; use one of "
        f"{', '.join([*IMAGE_CHANNELS, *DEPTH_ENCODINGS])}",
    )


def _mm_to_metres(mm: np.ndarray) -> np.ndarray:
    """float32 metres from unsigned millimetres, NaN where the sensor wrote 0 (no reading)."""
    return np.where(mm > 0, mm.astype(np.float32) * np.float32(1e-3), np.float32(np.nan))


def _clean_metres(depth: np.ndarray) -> np.ndarray:
    """float32 copy with NaN for every value that is not a reading (NaN, inf, 0, negative)."""
    depth = np.array(depth, dtype=np.float32)
    with np.errstate(invalid='ignore'):
        depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    return depth


def _metres_to_mm(depth_m: np.ndarray) -> np.ndarray:
    """uint16 millimetres: rounded, clipped to 0..65535, 0 (no reading) for
    NaN/inf/non-positive."""
    depth = np.asarray(depth_m, dtype=np.float64)
    with np.errstate(invalid='ignore'):
        mm = np.where(np.isfinite(depth), np.rint(depth * 1000.0), 0.0)
    return np.clip(mm, 0, 65535).astype(np.uint16)


def image_to_frame(msg: Image) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB for colour encodings, ``(H, W)`` float32 metres (NaN = no reading)
    for depth.

    Depth encodings: ``16UC1``/``mono16`` (millimetres, 0 = no reading) and ``32FC1`` (metres;
    NaN, inf, 0 and negative = no reading). ``is_bigendian`` and row padding are honoured.
    """
    if msg.encoding in IMAGE_CHANNELS:
        return image_to_rgb(msg)
    depth = DEPTH_ENCODINGS.get(msg.encoding)
    if depth is None:
        raise _unsupported_encoding(msg.encoding)
    kind, millimetres = depth
    dtype = np.dtype(('>' if msg.is_bigendian else '<') + kind)
    h, w, step = msg.height, msg.width, msg.step
    if h == 0 or w == 0 or step < w * dtype.itemsize or len(msg.data) < h * step:
        raise InputError(
            'malformed_image',
            f'{msg.encoding} image of {w}x{h}, step {step}, has {len(msg.data)} bytes of data',
        )
    rows = np.frombuffer(msg.data, np.uint8, count=h * step).reshape(h, step)[
        :, : w * dtype.itemsize
    ]
    # The copy makes rows contiguous (and aligned) whatever the padding, so it can be viewed as
    # dtype.
    values = np.ascontiguousarray(rows).view(dtype).reshape(h, w)
    return _mm_to_metres(values) if millimetres else _clean_metres(values)


def _format_tokens(fmt: str) -> Set[str]:
    return set(fmt.replace(';', ' ').split())


def _decode_png16(buf: np.ndarray, fmt: str) -> np.ndarray:
    """``(H, W)`` uint16 from a single-channel 16-bit PNG, else ``undecodable_image``."""
    image = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if buf.size else None
    if image is None or image.dtype != np.uint16 or image.ndim != 2:
        got = 'nothing' if image is None else f'{image.dtype} with shape {image.shape}'
        raise InputError(
            'undecodable_image',
            f"compressed depth image ('{fmt}', {buf.size} bytes) is not a "
            f'single-channel 16-bit PNG (decoded to {got})',
        )
    return image


def _compressed_depth_to_frame(msg: CompressedImage, buf: np.ndarray) -> np.ndarray:
    """compressed_depth_image_transport payload: ConfigHeader then a 16-bit PNG."""
    # As upstream: the image encoding is whatever precedes the first ';'.
    encoding = msg.format.split(';', 1)[0].strip()
    if 'rvl' in _format_tokens(msg.format):
        raise InputError(
            'unsupported_encoding',
            f"compressed depth format '{msg.format}' uses RVL, which "
            "is not supported; publish with the compressedDepth 'png' format instead",
        )
    if encoding not in DEPTH_ENCODINGS:
        raise InputError(
            'unsupported_encoding',
            f"compressed depth image encoding '{encoding}' (format "
            f"'{msg.format}') is not supported; use one of {', '.join(DEPTH_ENCODINGS)}",
        )
    if buf.size <= _DEPTH_HEADER.size:
        raise InputError(
            'undecodable_image',
            f"compressed depth image ('{msg.format}', {buf.size} bytes) is "
            f'shorter than its {_DEPTH_HEADER.size}-byte header',
        )
    _, quant_a, quant_b = _DEPTH_HEADER.unpack_from(buf)
    codes = _decode_png16(buf[_DEPTH_HEADER.size :], msg.format)
    if DEPTH_ENCODINGS[encoding][1]:
        return _mm_to_metres(codes)
    if not (np.isfinite(quant_a) and np.isfinite(quant_b)):
        raise InputError(
            'undecodable_image',
            f"compressed depth image ('{msg.format}') has non-finite "
            f'quantization parameters A={quant_a}, B={quant_b}',
        )
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.float32(quant_a) / (codes.astype(np.float32) - np.float32(quant_b))
    depth[codes == 0] = np.nan  # 0 is the code for "no reading or beyond depth_max"
    # A corrupt header could still give inf or negative depths: those are not readings either.
    return _clean_metres(depth)


def compressed_to_frame(msg: CompressedImage) -> np.ndarray:
    """Decode a ``sensor_msgs/CompressedImage`` like :func:`image_to_frame` does a raw one.

    ``compressedDepth`` formats and 16-bit PNGs whose format names ``16UC1``/``mono16`` give
    ``(H, W)`` float32 metres with NaN for no reading; everything else gives ``(H, W, 3)`` uint8
    RGB.
    """
    buf = np.frombuffer(msg.data, np.uint8)
    tokens = _format_tokens(msg.format)
    if any(t.startswith('compressedDepth') for t in tokens):
        return _compressed_depth_to_frame(msg, buf)
    if tokens & set(MILLIMETRE_ENCODINGS):
        return _mm_to_metres(_decode_png16(buf, msg.format))
    return compressed_to_rgb(msg)


def rgb_to_image(frame: np.ndarray, stamp: Time, frame_id: str = 'camera') -> Image:
    """``rgb8`` ``sensor_msgs/Image`` from an ``(H, W, 3)`` uint8 RGB frame."""
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(frame.shape[0]), int(frame.shape[1])
    msg.encoding = 'rgb8'
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(frame, dtype=np.uint8).tobytes()
    return msg


def rgb_to_compressed(
    frame: np.ndarray, stamp: Time, frame_id: str = 'camera', quality: int = 90
) -> CompressedImage:
    """JPEG ``sensor_msgs/CompressedImage`` from an ``(H, W, 3)`` uint8 RGB frame."""
    ok, buf = cv2.imencode(
        '.jpg', cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    msg = CompressedImage()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.format = 'jpeg'
    msg.data = buf.tobytes()
    return msg


def _check_depth(depth_m: np.ndarray, encoding: str) -> np.ndarray:
    depth = np.asarray(depth_m)
    if depth.ndim != 2 or depth.size == 0:
        raise InputError(
            'malformed_image',
            f'depth image must be a non-empty (H, W) array, not shape {depth.shape}',
        )
    if encoding not in ('16UC1', '32FC1'):
        raise InputError(
            'unsupported_encoding',
            f"depth encoding '{encoding}' cannot be written; use 16UC1 or 32FC1",
        )
    return depth


def depth_to_image(
    depth_m: np.ndarray, stamp: Time, frame_id: str = 'depth', encoding: str = '16UC1'
) -> Image:
    """Little-endian depth ``sensor_msgs/Image`` from ``(H, W)`` metres (NaN = no reading).

    ``16UC1``: millimetres, rounded and clipped to 0..65535, 0 for NaN/inf. ``32FC1``: metres as
    given.
    """
    depth = _check_depth(depth_m, encoding)
    values = _metres_to_mm(depth).astype('<u2') if encoding == '16UC1' else depth.astype('<f4')
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(depth.shape[0]), int(depth.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = msg.width * values.itemsize
    msg.data = np.ascontiguousarray(values).tobytes()
    return msg


def depth_to_compressed(
    depth_m: np.ndarray, stamp: Time, frame_id: str = 'depth', encoding: str = '16UC1'
) -> CompressedImage:
    """compressed_depth_image_transport ``'<encoding>; compressedDepth png'`` message from metres.

    ``16UC1``: millimetres as in :func:`depth_to_image`. ``32FC1``: inverse depth quantized with
    ``DEPTH_QUANT_A``/``DEPTH_QUANT_B`` (upstream's defaults); depths of ``DEPTH_QUANT_MAX_M`` or
    more, NaN, inf and non-positive values become "no reading", depths nearer than ~0.152 m
    saturate at the nearest code. Codes are rounded (upstream truncates), halving the error.
    """
    depth = _check_depth(depth_m, encoding)
    quant_a = quant_b = 0.0  # upstream zero-fills depthParam for 16-bit depth
    if encoding == '16UC1':
        codes = _metres_to_mm(depth)
    else:
        quant_a, quant_b = DEPTH_QUANT_A, DEPTH_QUANT_B
        depth = np.asarray(depth, dtype=np.float64)
        with np.errstate(divide='ignore', invalid='ignore'):
            valid = np.isfinite(depth) & (depth > 0) & (depth < DEPTH_QUANT_MAX_M)
            codes = np.where(valid, np.rint(quant_a / depth + quant_b), 0.0)
        # Valid depths must not collide with the "no reading" code 0, nor overflow 16 bits.
        codes = np.where(valid, np.clip(codes, 1, 65535), 0).astype(np.uint16)
    ok, png = cv2.imencode('.png', codes)
    assert ok
    msg = CompressedImage()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.format = f'{encoding}; compressedDepth png'
    msg.data = _DEPTH_HEADER.pack(_INV_DEPTH, quant_a, quant_b) + png.tobytes()
    return msg


# --- IMU ------------------------------------------------------------------------------------
def imu_to_row(msg: Imu) -> np.ndarray:
    """``(6,)`` float64: linear acceleration then angular velocity; NaN for a part not provided.

    REP-145: covariance[0] == -1 marks linear_acceleration or angular_velocity as not provided.
    Orientation is not used.
    """
    a, g = msg.linear_acceleration, msg.angular_velocity
    return _imu_row(
        np.array([a.x, a.y, a.z, g.x, g.y, g.z]),
        msg.linear_acceleration_covariance[0] != -1.0,
        msg.angular_velocity_covariance[0] != -1.0,
    )


def _imu_row(row: np.ndarray, acc: bool, gyro: bool) -> np.ndarray:
    """The one place IMU values are judged, for messages and for CDR bytes alike."""
    if not (acc or gyro):
        raise InputError(
            'empty_imu',
            'IMU message provides neither linear_acceleration nor angular_velocity '
            '(both covariance[0] are -1)',
        )
    provided = np.repeat([acc, gyro], 3)
    if not np.isfinite(row[provided]).all():
        fields = [
            name
            for name, given, part in (
                ('linear_acceleration', acc, row[:3]),
                ('angular_velocity', gyro, row[3:]),
            )
            if given and not np.isfinite(part).all()
        ]
        raise InputError('non_finite_imu', f"IMU message has NaN or inf in {' and '.join(fields)}")
    row[~provided] = np.nan
    return row


_IMU_DOUBLES = struct.Struct('<37d')  # orientation 4, then 9 + 3 + 9 + 3 + 9 after it


def imu_cdr_to_row(data: bytes) -> Tuple[float, np.ndarray]:
    """``(stamp, row)`` of a serialized little-endian ``sensor_msgs/Imu``, read in place, as
    ``imu_to_row`` reads the message: building the message object costs ~40x more, which is
    most of the time to window a recorded 100-400 Hz IMU. Big-endian data raises ValueError
    (deserialize it instead)."""
    if data[1] != 1:  # encapsulation CDR_LE
        raise ValueError('not little-endian CDR')
    sec, nanosec, length = _CDR_STAMP.unpack_from(data, 4)
    offset = 12 + length  # the frame_id's bytes, NUL included
    offset = (offset + 7) & ~7  # doubles align to 8 in CDR (from the encapsulation's end)
    v = _IMU_DOUBLES.unpack_from(data, 4 + offset)
    row = np.array([v[25], v[26], v[27], v[13], v[14], v[15]])
    return sec + nanosec * 1e-9, _imu_row(row, v[28] != -1.0, v[16] != -1.0)


_CDR_STAMP = struct.Struct('<iII')


def row_to_imu(row: Sequence[float], stamp: Time, frame_id: str = 'imu') -> Imu:
    """``sensor_msgs/Imu`` from ``[ax, ay, az]`` or ``[ax, ay, az, gx, gy, gz]``.

    A part that is all NaN (or missing, for 3 values) is marked not provided (REP-145,
    covariance[0] = -1, values 0); a part with only some NaN is written as is, so that readers
    report it as non-finite rather than silently dropping it.
    """
    values = np.asarray(row, dtype=np.float64).ravel()
    if values.size == 3:
        values = np.concatenate([values, np.full(3, np.nan)])
    elif values.size < 6:
        raise ValueError(f'an IMU row has 3 or 6 values, not {values.size}')
    values = values[:6].copy()
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    for part, covariance in (
        (slice(0, 3), msg.linear_acceleration_covariance),
        (slice(3, 6), msg.angular_velocity_covariance),
    ):
        if np.isnan(values[part]).all():
            values[part] = 0.0
            covariance[0] = -1.0
    a, g = msg.linear_acceleration, msg.angular_velocity
    a.x, a.y, a.z, g.x, g.y, g.z = (float(v) for v in values)
    msg.orientation_covariance[0] = -1.0  # REP-145: orientation not provided
    return msg


# --- audio ----------------------------------------------------------------------------------
_AUDIO_DTYPES = {
    AudioChunk.FORMAT_S16LE: ('<i2', 1.0 / 32768.0),
    AudioChunk.FORMAT_F32LE: ('<f4', 1.0),
}


def audio_to_samples(msg: AudioChunk) -> Tuple[np.ndarray, np.ndarray]:
    """``(stamps, samples)``: per-sample stamps (s) and mono float32 samples in [-1, 1]."""
    fmt = _AUDIO_DTYPES.get(msg.sample_format)
    if fmt is None:
        raise InputError(
            'unsupported_audio_format',
            f"audio sample format '{msg.sample_format}' is not "
            f"supported; use one of {', '.join(_AUDIO_DTYPES)}",
        )
    if msg.sample_rate == 0 or msg.channels == 0:
        raise InputError(
            'malformed_audio',
            f'audio chunk with sample_rate {msg.sample_rate}, channels {msg.channels}',
        )
    dtype, scale = fmt
    size = np.dtype(dtype).itemsize
    if len(msg.data) % size:
        raise InputError(
            'malformed_audio',
            f'{len(msg.data)} bytes of {msg.sample_format} audio are not a whole '
            f'number of {size}-byte samples',
        )
    raw = np.frombuffer(msg.data, dtype=dtype)
    if raw.size == 0:
        raise InputError('empty_audio', 'audio chunk has no samples')
    if raw.size % msg.channels:
        raise InputError(
            'malformed_audio', f'{raw.size} samples do not divide into {msg.channels} channels'
        )
    samples = raw.reshape(-1, msg.channels).astype(np.float32).mean(axis=1) * np.float32(scale)
    if not np.isfinite(samples).all():
        raise InputError('non_finite_audio', 'audio chunk has NaN or inf samples')
    stamps = stamp_to_sec(msg.header.stamp) + np.arange(samples.size) / float(msg.sample_rate)
    return stamps, samples


def samples_to_audio(
    samples: np.ndarray, sample_rate: int, stamp: Time, frame_id: str = 'microphone'
) -> AudioChunk:
    msg = AudioChunk()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.sample_rate = int(sample_rate)
    msg.channels = 1
    msg.sample_format = AudioChunk.FORMAT_S16LE
    msg.data = (np.clip(samples, -1.0, 1.0) * 32767.0).astype('<i2').tobytes()
    return msg


# --- features and labels --------------------------------------------------------------------
def feature_to_msg(
    feature: np.ndarray,
    modality: str,
    encoder: str,
    start: float,
    end: float,
    newest: float,
    sample_count: int,
    encode_ms: float,
    frame_id: str = '',
    model_id: str = '',
) -> FeatureVector:
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
    msg.model_id = model_id
    return msg


def msg_to_feature(msg: FeatureVector) -> np.ndarray:
    data = (
        np.frombuffer(msg.data, dtype=np.float32)
        if isinstance(msg.data, array.array)
        else np.asarray(msg.data, dtype=np.float32)
    )
    shape = tuple(int(s) for s in msg.shape) or (data.size,)
    if int(np.prod(shape)) != data.size:
        raise InputError(
            'malformed_feature', f'feature of {data.size} values does not fit shape {shape}'
        )
    if not np.isfinite(data).all():
        raise InputError('non_finite_feature', f'{msg.modality} feature has NaN or inf values')
    return data.reshape(shape)


def make_label(
    stamp: Time,
    classes: Sequence[str],
    probs: Optional[np.ndarray],
    class_id: int,
    modalities: Sequence[str],
    fusion_mode: str,
    latency_ms: float = 0.0,
    weights: Optional[np.ndarray] = None,
    frame_id: str = '',
    window_start: Optional[Time] = None,
    model_id: str = '',
) -> ActivityLabel:
    """An ActivityLabel; ``class_id`` -1 is unknown (its confidence the highest probability),
    ``stamp`` the window's end and ``window_start`` its start (default: the end)."""
    msg = ActivityLabel()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.class_names = list(classes)
    msg.class_id = int(class_id)
    msg.label = classes[class_id] if 0 <= class_id < len(classes) else UNKNOWN_LABEL
    if probs is not None:
        msg.probabilities = array.array('f', np.asarray(probs, dtype=np.float32).tobytes())
        known = 0 <= class_id < len(probs)
        msg.confidence = float(probs[class_id] if known else (np.max(probs) if len(probs) else 0))
    else:
        msg.confidence = 1.0
    msg.window_end = stamp
    msg.window_start = window_start if window_start is not None else stamp
    msg.model_id = model_id
    msg.modalities_used = list(modalities)
    if weights is not None:
        msg.modality_weights = array.array('f', np.asarray(weights, dtype=np.float32).tobytes())
    msg.fusion_mode = fusion_mode
    msg.latency_ms = float(latency_ms)
    return msg


def make_event(event: Any, model_id: str = '', frame_id: str = '') -> ActivityEvent:
    """An ActivityEvent from core/events.py's ``ActivityEvent`` (stamps in ns)."""
    msg = ActivityEvent()
    msg.header.stamp = ns_to_stamp(event.stamp)
    msg.header.frame_id = frame_id
    msg.state = event.state
    msg.label = event.label
    msg.class_id = int(event.class_id)
    msg.confidence = float(event.confidence)
    msg.start = ns_to_stamp(event.start)
    msg.end = ns_to_stamp(event.end)
    msg.model_id = model_id
    return msg


def make_model_info(
    description: Any, fusion_mode: str, temperature: float, threshold: float, stamp: Time
) -> ModelInfo:
    """The ``~/model_info`` message of core/model_info.py's ``ModelDescription``, with the
    runtime's temperature and the rejection threshold in use."""
    msg = ModelInfo()
    msg.header.stamp = stamp
    msg.model_id = description.model_id
    msg.checkpoint = description.checkpoint
    msg.class_names = list(description.classes)
    msg.input_names = [i.name for i in description.inputs]
    msg.input_types = [i.sensor_type for i in description.inputs]
    msg.input_encoders = [i.encoder for i in description.inputs]
    msg.window_length = float(description.window.length)
    msg.window_hop = float(description.window.hop)
    msg.fusion_mode = fusion_mode
    msg.temperature = float(temperature)
    msg.unknown_threshold = float(threshold)
    msg.calibrated = bool(description.calibration)
    return msg


Converter = Callable[[Any], Tuple[np.ndarray, np.ndarray]]
"""A sensor message -> ``(stamps, samples)``: stamps (s) ``(N,)``, samples ``(N, ...)``."""


def _one_sample(to_array: Callable[[Any], np.ndarray]) -> Converter:
    """A converter of a message that holds one sample, stamped by its header."""

    def convert(msg: Any) -> Tuple[np.ndarray, np.ndarray]:
        sample = to_array(msg)
        return np.array([stamp_to_sec(msg.header.stamp)]), sample[None]

    return convert


# Message type name -> (message class, converter to ``(stamps, samples)``): the sensor messages
# an encoder node reads (core.inputs.INPUT_MESSAGE_TYPES names them), for the encoder node and
# for training from bags alike.
INPUT_TYPES: Dict[str, Tuple[type, Converter]] = {
    'sensor_msgs/msg/Image': (Image, _one_sample(image_to_frame)),
    'sensor_msgs/msg/CompressedImage': (CompressedImage, _one_sample(compressed_to_frame)),
    'sensor_msgs/msg/Imu': (Imu, _one_sample(imu_to_row)),
    'hybrid_fusion_msgs/msg/AudioChunk': (AudioChunk, audio_to_samples),
}
