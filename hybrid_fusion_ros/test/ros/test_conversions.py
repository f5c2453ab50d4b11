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

"""Message <-> array conversions for camera (colour and depth) and IMU messages.

Messages are plain Python classes, so these tests need no rclpy context.
"""

import struct

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image
from sensor_msgs.msg import Imu

from hybrid_fusion_ros.ros import conversions as conv

STAMP = conv.sec_to_stamp(12.5)
# Depths in metres with gaps; 1.234 m = 1234 mm = 0x04d2, whose two bytes differ, so a wrong byte
# order cannot go unnoticed.
DEPTH = np.array(
    [[0.5, 1.234, np.nan, 2.0, 9.5], [0.2, np.nan, 3.3, 4.75, 1.0], [7.0, 0.8, 1.5, np.nan, 6.125]]
)
RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
# JPEG mangles noise, so compressed colour uses smooth, per-channel-distinct content (a swap of R
# and B
# is still far off): red ramps across, green down, blue is flat.
_ramp = np.linspace(20, 230, 16)
SMOOTH = np.stack(
    np.broadcast_arrays(_ramp[None, :], _ramp[:, None], np.full((1, 1), 60.0)), axis=2
).astype(np.uint8)


# --- helpers: rewrite a message's layout the way other publishers lay it out ----------------
def padded(msg: Image, extra: int = 3) -> Image:
    """The same image with ``extra`` junk bytes after each row (an odd count breaks alignment)."""
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)
    junk = np.full((msg.height, extra), 0xAB, np.uint8)
    msg.data = np.hstack([rows, junk]).tobytes()
    msg.step += extra
    return msg


def big_endian(msg: Image) -> Image:
    """The same little-endian depth image with every value's bytes swapped and the flag set."""
    size = 2 if msg.encoding in ('16UC1', 'mono16') else 4
    values = np.frombuffer(msg.data, np.uint8).reshape(-1, size)
    msg.data = values[:, ::-1].tobytes()
    msg.is_bigendian = 1
    return msg


def raw_image(pixels: np.ndarray, encoding: str) -> Image:
    msg = Image()
    msg.height, msg.width = pixels.shape[:2]
    msg.encoding = encoding
    msg.step = msg.width * (pixels.shape[2] if pixels.ndim == 3 else 1) * pixels.itemsize
    msg.data = np.ascontiguousarray(pixels).tobytes()
    return msg


def compressed(data: bytes, fmt: str) -> CompressedImage:
    msg = CompressedImage()
    msg.format = fmt
    msg.data = data
    return msg


def png(array: np.ndarray) -> bytes:
    ok, buf = cv2.imencode('.png', array)
    assert ok
    return buf.tobytes()


def expected_mm(depth: np.ndarray) -> np.ndarray:
    """What a millimetre encoding keeps of ``depth``: whole millimetres, NaN stays NaN."""
    return np.round(depth * 1000.0) / 1000.0


def assert_depth(got: np.ndarray, want: np.ndarray, atol: float = 1e-6) -> None:
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=atol, equal_nan=True)


# --- raw depth images -----------------------------------------------------------------------
@pytest.mark.parametrize(
    'encoding, write_as, want',
    [
        ('16UC1', '16UC1', expected_mm(DEPTH)),
        ('mono16', '16UC1', expected_mm(DEPTH)),
        ('32FC1', '32FC1', DEPTH.astype(np.float32)),
    ],
)
@pytest.mark.parametrize(
    'layout',
    [[], [padded], [big_endian], [big_endian, padded]],
    ids=['plain', 'padded', 'bigendian', 'padded-bigendian'],
)
def test_depth_image_round_trip(encoding, write_as, want, layout):
    msg = conv.depth_to_image(DEPTH, STAMP, encoding=write_as)
    assert (msg.height, msg.width, msg.is_bigendian, msg.header.frame_id) == (3, 5, 0, 'depth')
    msg.encoding = encoding
    for rewrite in layout:
        msg = rewrite(msg)
    assert_depth(conv.image_to_frame(msg), want)


def test_16uc1_writer_rounds_clips_and_marks_no_reading():
    depth = np.array([[np.nan, np.inf, -0.5, 0.0004, 70.0, 1.2346]])
    msg = conv.depth_to_image(depth, STAMP)
    assert msg.step == 12
    np.testing.assert_array_equal(np.frombuffer(msg.data, '<u2'), [0, 0, 0, 0, 65535, 1235])
    assert_depth(conv.image_to_frame(msg), np.array([[np.nan] * 4 + [65.535, 1.235]]))


@pytest.mark.parametrize(
    'encoding, dtype', [('16UC1', '<u2'), ('mono16', '>u2'), ('32FC1', '<f4')]
)
def test_raw_zero_is_no_reading(encoding, dtype):
    msg = raw_image(np.array([[0, 250, 0]], dtype), encoding)
    msg.is_bigendian = int(dtype[0] == '>')
    scale = 1e-3 if encoding != '32FC1' else 1.0
    assert_depth(conv.image_to_frame(msg), np.array([[np.nan, 250 * scale, np.nan]]))


def test_32fc1_non_readings_become_nan():
    values = np.array([[np.nan, np.inf, -np.inf, 0.0, -1.0, 2.5]], np.float32)
    assert_depth(conv.image_to_frame(raw_image(values, '32FC1')), np.array([[np.nan] * 5 + [2.5]]))


# --- colour images: unchanged ---------------------------------------------------------------
def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


ALPHA = np.full(RGB.shape[:2] + (1,), 200, np.uint8)


@pytest.mark.parametrize(
    'encoding, pixels, want',
    [
        ('rgb8', RGB, RGB),
        ('bgr8', RGB[..., ::-1], RGB),
        ('rgba8', np.concatenate([RGB, ALPHA], axis=2), RGB),
        ('bgra8', np.concatenate([RGB[..., ::-1], ALPHA], axis=2), RGB),
        ('mono8', _gray(RGB), np.repeat(_gray(RGB)[..., None], 3, axis=2)),
    ],
)
@pytest.mark.parametrize('pad', [False, True], ids=['plain', 'padded'])
def test_colour_images_unchanged(encoding, pixels, want, pad):
    msg = raw_image(pixels, encoding)
    if pad:
        msg = padded(msg)
    frame = conv.image_to_frame(msg)
    assert frame.dtype == np.uint8 and frame.shape == RGB.shape
    np.testing.assert_array_equal(frame, want)
    np.testing.assert_array_equal(frame, conv.image_to_rgb(msg))


@pytest.mark.parametrize(
    'fmt, data, exact',
    [
        ('jpeg', conv.rgb_to_compressed(SMOOTH, STAMP).data, False),
        ('rgb8; jpeg compressed bgr8', conv.rgb_to_compressed(SMOOTH, STAMP).data, False),
        ('png', png(SMOOTH[..., ::-1]), True),
        ('bgr8; png compressed bgr8', png(SMOOTH[..., ::-1]), True),
    ],
)
def test_compressed_colour_unchanged(fmt, data, exact):
    msg = compressed(bytes(data), fmt)
    frame = conv.compressed_to_frame(msg)
    assert frame.dtype == np.uint8 and frame.shape == SMOOTH.shape
    np.testing.assert_array_equal(frame, conv.compressed_to_rgb(msg))
    if exact:
        np.testing.assert_array_equal(frame, SMOOTH)
    else:  # JPEG is lossy, but not this lossy (swapping R and B would be off by ~50 on average)
        error = np.abs(frame.astype(int) - SMOOTH)
        assert error.mean() < 4 and error.max() <= 20


# --- compressed depth -----------------------------------------------------------------------
@pytest.mark.parametrize(
    'encoding, params, want, atol',
    [
        ('16UC1', (0.0, 0.0), expected_mm(DEPTH), 1e-6),
        (
            '32FC1',
            (conv.DEPTH_QUANT_A, conv.DEPTH_QUANT_B),
            DEPTH,
            0.5 * 9.5**2 / conv.DEPTH_QUANT_A * 1.001,
        ),
    ],
)
def test_compressed_depth_round_trip(encoding, params, want, atol):
    msg = conv.depth_to_compressed(DEPTH, STAMP, 'cam_depth', encoding)
    assert msg.format == f'{encoding}; compressedDepth png' and msg.header.frame_id == 'cam_depth'
    fmt, a, b = struct.unpack('<iff', bytes(msg.data[:12]))
    assert (fmt, a, b) == (0, *np.float32(params))
    assert_depth(conv.compressed_to_frame(msg), want, atol=atol)


def test_upstream_defaults_for_32fc1_quantization():
    # depth_quantization 100, depth_max 10 m: A = 100 * 101, B = 1 - A / 10.
    assert (conv.DEPTH_QUANT_A, conv.DEPTH_QUANT_B, conv.DEPTH_QUANT_MAX_M) == (
        10100.0,
        -1009.0,
        10.0,
    )


def test_32fc1_quantization_error_bound():
    depth = np.linspace(0.16, 9.99, 20001)
    got = conv.compressed_to_frame(conv.depth_to_compressed(depth[None], STAMP, encoding='32FC1'))[
        0
    ]
    # Rounding the code v = A / d + B costs at most half a code; one code spans about d**2 / A
    # metres. The small factor covers the curvature of 1/v and float32 arithmetic.
    bound = 0.5 * depth**2 / conv.DEPTH_QUANT_A * 1.001 + 4 * np.finfo(np.float32).eps * depth
    error = np.abs(got - depth)
    worst = np.argmax(error - bound)
    assert (
        error <= bound
    ).all(), f'error {error[worst]} m > bound {bound[worst]} m at {depth[worst]} m'
    # The bound is close to what is reached, so a coarser quantization (e.g. truncation) fails it.
    assert error.max() > 0.4 * bound.max()


@pytest.mark.parametrize(
    'metres, want',
    [
        (np.nan, np.nan),
        (np.inf, np.nan),
        (0.0, np.nan),
        (-2.0, np.nan),
        (10.0, np.nan),
        (12.0, np.nan),  # at or beyond depth_max: not encodable
        (0.05, conv.DEPTH_QUANT_A / (65535 - conv.DEPTH_QUANT_B)),  # too near: the nearest code
    ],
)
def test_32fc1_compressed_out_of_range(metres, want):
    msg = conv.depth_to_compressed(np.array([[metres, 1.0]]), STAMP, encoding='32FC1')
    got = conv.compressed_to_frame(msg)
    assert_depth(got, np.array([[want, 1.0]]), atol=1e-4)


def test_32fc1_compressed_decodes_upstream_payload():
    # Codes and parameters written by hand, as another publisher would: depth = A / (v - B), 0 =
    # none.
    a, b = 5000.0, -400.0
    codes = np.array([[0, 1, 600], [65535, 100, 0]], np.uint16)
    msg = compressed(struct.pack('<iff', 0, a, b) + png(codes), '32FC1; compressedDepth png')
    want = np.where(codes > 0, a / (codes.astype(float) - b), np.nan)
    assert_depth(conv.compressed_to_frame(msg), want)


@pytest.mark.parametrize(
    'fmt', ['16UC1; compressedDepth png', '16UC1; compressedDepth', 'mono16; compressedDepth']
)
def test_16uc1_compressed_decodes_upstream_payload(fmt):
    codes = np.array([[0, 1000], [65535, 1]], np.uint16)
    msg = compressed(struct.pack('<iff', 0, 0.0, 0.0) + png(codes), fmt)
    assert_depth(conv.compressed_to_frame(msg), np.array([[np.nan, 1.0], [65.535, 0.001]]))


@pytest.mark.parametrize(
    'fmt', ['mono16; png', '16UC1; png', '16UC1; png compressed ', 'mono16; png compressed mono16']
)
def test_16bit_png_depth(fmt):
    mm = np.array([[0, 1234, 40000], [7, 0, 65535]], np.uint16)
    assert_depth(
        conv.compressed_to_frame(compressed(png(mm), fmt)), np.where(mm > 0, mm / 1000.0, np.nan)
    )


# --- every InputError cause -----------------------------------------------------------------
def _with(msg: Image, **changes) -> Image:
    for name, value in changes.items():
        setattr(msg, name, value)
    return msg


def _depth_msg(**changes) -> Image:
    return _with(conv.depth_to_image(DEPTH, STAMP), **changes)


def _depth_payload(fmt: str, payload: bytes, params=(0.0, 0.0)) -> CompressedImage:
    return compressed(struct.pack('<iff', 0, *params) + payload, fmt)


SUPPORTED = ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', '16UC1', 'mono16', '32FC1']


@pytest.mark.parametrize(
    'convert, make, cause, match',
    [
        (
            conv.image_to_frame,
            lambda: _depth_msg(encoding='yuv422'),
            'unsupported_encoding',
            "'yuv422' is not supported; use one of " + ', '.join(SUPPORTED),
        ),
        (conv.image_to_frame, lambda: _depth_msg(encoding='8UC3'), 'unsupported_encoding', '8UC3'),
        (
            conv.image_to_frame,
            lambda: _depth_msg(height=0, data=b''),
            'malformed_image',
            '16UC1 image of 5x0',
        ),
        (conv.image_to_frame, lambda: _depth_msg(width=0), 'malformed_image', 'image of 0x3'),
        (conv.image_to_frame, lambda: _depth_msg(step=9), 'malformed_image', 'step 9'),
        (
            conv.image_to_frame,
            lambda: _depth_msg(encoding='32FC1'),
            'malformed_image',
            '32FC1 image of 5x3, step 10',
        ),
        (
            conv.image_to_frame,
            lambda: _depth_msg(data=b'\0' * 29),
            'malformed_image',
            'has 29 bytes',
        ),
        (
            conv.image_to_frame,
            lambda: _with(raw_image(RGB, 'bgr8'), step=14),
            'malformed_image',
            'step 14',
        ),
        (
            conv.image_to_frame,
            lambda: _with(raw_image(RGB, 'rgba8'), data=b'\0' * 100),
            'malformed_image',
            '100 bytes',
        ),
        (
            conv.compressed_to_frame,
            lambda: _depth_payload('32FC1; compressedDepth rvl', b'\0' * 16),
            'unsupported_encoding',
            'RVL',
        ),
        (
            conv.compressed_to_frame,
            lambda: _depth_payload('16UC1; compressedDepth rvl', b'\0' * 16),
            'unsupported_encoding',
            'RVL',
        ),
        (
            conv.compressed_to_frame,
            lambda: _depth_payload('8UC3; compressedDepth png', png(RGB)),
            'unsupported_encoding',
            "'8UC3'.*use one of 16UC1, mono16, 32FC1",
        ),
        (
            conv.compressed_to_frame,
            lambda: _depth_payload('compressedDepth', png(RGB)),
            'unsupported_encoding',
            "'compressedDepth'",
        ),
        (
            conv.compressed_to_frame,
            lambda: compressed(b'not a jpeg', 'jpeg'),
            'undecodable_image',
            '10 bytes',
        ),
        (conv.compressed_to_frame, lambda: compressed(b'', 'png'), 'undecodable_image', None),
        (
            conv.compressed_to_frame,
            lambda: compressed(b'\0' * 12, '16UC1; compressedDepth png'),
            'undecodable_image',
            'shorter than its 12-byte header',
        ),
        (
            conv.compressed_to_frame,
            lambda: _depth_payload('16UC1; compressedDepth png', b'garbage'),
            'undecodable_image',
            'decoded to nothing',
        ),
        (
            conv.compressed_to_frame,
            lambda: _depth_payload('16UC1; compressedDepth png', png(RGB)),
            'undecodable_image',
            'not a single-channel 16-bit PNG',
        ),
        (
            conv.compressed_to_frame,
            lambda: _depth_payload('32FC1; compressedDepth png', png(_gray(RGB))),
            'undecodable_image',
            'uint8',
        ),
        (
            conv.compressed_to_frame,
            lambda: _depth_payload(
                '32FC1; compressedDepth png', png(np.ones((2, 2), np.uint16)), (np.nan, 1.0)
            ),
            'undecodable_image',
            'non-finite quantization',
        ),
        (
            conv.compressed_to_frame,
            lambda: compressed(png(_gray(RGB)), 'mono16; png'),
            'undecodable_image',
            'uint8',
        ),
        (
            lambda m: conv.depth_to_image(m, STAMP, encoding='mono8'),
            lambda: DEPTH,
            'unsupported_encoding',
            'use 16UC1 or 32FC1',
        ),
        (
            lambda m: conv.depth_to_compressed(m, STAMP, encoding='16UC2'),
            lambda: DEPTH,
            'unsupported_encoding',
            "'16UC2'",
        ),
        (
            lambda m: conv.depth_to_image(m, STAMP),
            lambda: DEPTH[None],
            'malformed_image',
            r'\(1, 3, 5\)',
        ),
        (
            lambda m: conv.depth_to_compressed(m, STAMP),
            lambda: np.zeros((0, 4)),
            'malformed_image',
            None,
        ),
    ],
)
def test_input_errors(convert, make, cause, match):
    with pytest.raises(conv.InputError, match=match) as info:
        convert(make())
    assert info.value.cause == cause


# --- IMU (REP-145) --------------------------------------------------------------------------
ACC, GYRO = [0.1, -0.2, 9.81], [0.01, 0.02, -0.03]
NAN3 = [np.nan] * 3


@pytest.mark.parametrize(
    'row, acc_given, gyro_given, written',
    [
        (ACC + GYRO, True, True, ACC + GYRO),
        (ACC, True, False, ACC + [0.0] * 3),
        (ACC + NAN3, True, False, ACC + [0.0] * 3),
        (NAN3 + GYRO, False, True, [0.0] * 3 + GYRO),
        (
            np.array(ACC + GYRO + [5.0]),
            True,
            True,
            ACC + GYRO,
        ),  # extra columns are ignored, as before
    ],
)
def test_imu_round_trip_marks_missing_parts(row, acc_given, gyro_given, written):
    msg = conv.row_to_imu(row, STAMP, 'wrist')
    assert msg.header.frame_id == 'wrist' and msg.orientation_covariance[0] == -1.0
    assert (msg.linear_acceleration_covariance[0] == -1.0) == (not acc_given)
    assert (msg.angular_velocity_covariance[0] == -1.0) == (not gyro_given)
    a, g = msg.linear_acceleration, msg.angular_velocity
    np.testing.assert_array_equal([a.x, a.y, a.z, g.x, g.y, g.z], written)
    want = np.array((ACC if acc_given else NAN3) + (GYRO if gyro_given else NAN3))
    got = conv.imu_to_row(msg)
    assert got.shape == (6,) and got.dtype == np.float64
    np.testing.assert_array_equal(got, want)


def _imu(values, acc_cov0=0.0, gyro_cov0=0.0) -> Imu:
    msg = Imu()
    a, g = msg.linear_acceleration, msg.angular_velocity
    a.x, a.y, a.z, g.x, g.y, g.z = (float(v) for v in values)
    msg.linear_acceleration_covariance[0] = acc_cov0
    msg.angular_velocity_covariance[0] = gyro_cov0
    return msg


@pytest.mark.parametrize(
    'msg, want',
    [
        # A part marked absent is ignored whatever it holds, even NaN or inf.
        (_imu(ACC + [np.nan, np.inf, 1.0], gyro_cov0=-1.0), ACC + NAN3),
        (_imu([np.inf, 0.0, 0.0] + GYRO, acc_cov0=-1.0), NAN3 + GYRO),
        # Other covariance values (known, unknown = 0, or other -1 entries) mean "provided".
        (_imu(ACC + GYRO, acc_cov0=0.04, gyro_cov0=1e-4), ACC + GYRO),
    ],
)
def test_imu_to_row_honours_covariance_flags(msg, want):
    msg.orientation.w = np.nan  # orientation is not used
    np.testing.assert_array_equal(conv.imu_to_row(msg), want)


@pytest.mark.parametrize(
    'msg, cause, match',
    [
        (
            conv.row_to_imu([np.nan, 0, 9.8, 0, 0, 0], STAMP),
            'non_finite_imu',
            'in linear_acceleration$',
        ),
        (_imu(ACC + [0.0, np.inf, 0.0]), 'non_finite_imu', 'in angular_velocity$'),
        (
            _imu([np.nan] + ACC[1:] + [np.nan] + GYRO[1:]),
            'non_finite_imu',
            'linear_acceleration and angular_velocity',
        ),
        (
            _imu([0.0, 0.0, np.inf] + GYRO, gyro_cov0=-1.0),
            'non_finite_imu',
            'in linear_acceleration$',
        ),
        (_imu(ACC + GYRO, acc_cov0=-1.0, gyro_cov0=-1.0), 'empty_imu', 'neither'),
        (conv.row_to_imu(NAN3 + NAN3, STAMP), 'empty_imu', 'neither'),
    ],
)
def test_imu_errors(msg, cause, match):
    with pytest.raises(conv.InputError, match=match) as info:
        conv.imu_to_row(msg)
    assert info.value.cause == cause


@pytest.mark.parametrize('row', [[1.0, 2.0], [1.0] * 4, []])
def test_row_to_imu_rejects_other_lengths(row):
    with pytest.raises(ValueError, match=f'3 or 6 values, not {len(row)}'):
        conv.row_to_imu(row, STAMP)


@pytest.mark.parametrize(
    'row, frame_id',
    [
        ([0.1, -9.8, 0.3, 0.01, 0.02, -0.03], 'imu'),
        ([0.1, -9.8, 0.3, float('nan'), float('nan'), float('nan')], 'wrist'),  # no gyroscope
        ([0.1, -9.8, 0.3, 0.01, 0.02, -0.03], 'a_frame_id_of_odd_length'),  # other alignment
        ([0.1, float('nan'), 0.3, 0.0, 0.0, 0.0], 'x'),  # non-finite
    ],
)
def test_imu_bytes_are_read_in_place_exactly_as_the_message(row, frame_id):
    from rclpy.serialization import serialize_message

    msg = conv.row_to_imu(row, conv.sec_to_stamp(1_700_000_123.456789), frame_id)
    data = serialize_message(msg)
    try:
        expected = conv.imu_to_row(msg)
    except conv.InputError as exc:
        with pytest.raises(conv.InputError) as err:
            conv.imu_cdr_to_row(data)
        assert err.value.cause == exc.cause
        return
    stamp, got = conv.imu_cdr_to_row(data)
    assert stamp == conv.stamp_to_sec(msg.header.stamp)
    np.testing.assert_array_equal(got, expected)


def test_audio_bytes_that_are_not_whole_samples_are_a_clear_input_error():
    msg = conv.samples_to_audio(np.zeros(160, np.float32), 16000, conv.sec_to_stamp(1.0))
    msg.data = bytes(msg.data)[:-1]  # 319 bytes of 16-bit samples
    with pytest.raises(conv.InputError) as err:
        conv.audio_to_samples(msg)
    assert err.value.cause == 'malformed_audio' and 'whole number' in str(err.value)
