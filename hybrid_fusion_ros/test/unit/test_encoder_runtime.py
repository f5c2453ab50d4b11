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

"""The encoder run-time policy (core/encoder_runtime.py) on numpy arrays, without rclpy: the
packaged checkpoint's encoders fed samples and frames with their stamps, features out on the
window grid; the message type, topics and queue chosen at set-up and the set-ups refused;
losses counted from sequence numbers and estimated from stamp gaps; refused input counted with
a message that says why; a camera's new resolution taken in by resizing, a microphone's rate
resampled; and what the statuses say, in words, when something changes."""

from __future__ import annotations

from dataclasses import fields
import subprocess
import sys
from types import SimpleNamespace
from typing import Any, List, Tuple

import numpy as np
import pytest

from hybrid_fusion_ros.core.encoder_runtime import AudioFormat
from hybrid_fusion_ros.core.encoder_runtime import default_input_name
from hybrid_fusion_ros.core.encoder_runtime import EncoderConfig
from hybrid_fusion_ros.core.encoder_runtime import EncoderRuntime
from hybrid_fusion_ros.core.encoder_runtime import EncoderSetupError
from hybrid_fusion_ros.core.encoder_runtime import load_encoder
from hybrid_fusion_ros.core.encoder_runtime import LoadedEncoder
from hybrid_fusion_ros.core.encoder_runtime import resample_audio
from hybrid_fusion_ros.core.encoder_runtime import resize_frames
from hybrid_fusion_ros.core.health import OK
from hybrid_fusion_ros.core.health import WARN
from hybrid_fusion_ros.core.parameters import ENCODER_PARAMETERS
from hybrid_fusion_ros.core.windows import SensorWindow

T0 = 500.0
RATES = {'camera': 15.0, 'imu': 100.0}
# The grid windows 3 s of samples from T0 complete, streamed a message per sample: the one
# ending 503.0 closes on the last sample (502.99 s; a frame at 502.93 s) once the stream is seen
# to be steady (core/windows.py), not on a sample past the end that never comes.
ENDS = [501.0, 501.5, 502.0, 502.5, 503.0]


class Clock:
    """The runtime's clocks, moved by hand: ``sensor`` (s, the node's ROS clock) and
    ``mono`` (s, monotonic)."""

    def __init__(self) -> None:
        self.sensor = T0 + 10.0
        self.mono = 1000.0


class Harness:
    """A runtime on the packaged checkpoint's encoder of ``input``, with its log kept."""

    def __init__(self, loaded: LoadedEncoder, **config: Any) -> None:
        self.clock = Clock()
        self.log: List[Tuple[str, str, str]] = []
        self.rt = EncoderRuntime(
            loaded,
            EncoderConfig(input=loaded.input.name, **config),
            clock=lambda: self.clock.sensor,
            monotonic=lambda: self.clock.mono,
            log=lambda *entry: self.log.append(entry),
        )

    def push(self, stamps, samples, **kwargs):
        return list(self.rt.push(np.asarray(stamps, np.float64), samples, **kwargs))

    def stream(self, stamps, samples) -> list:
        """One message per sample, as an IMU or a camera sends them."""
        out = []
        for t, s in zip(stamps, samples):
            out += self.push([t], s[None])
        return out

    def status(self, internal_errors: int = 0) -> Tuple[int, str]:
        st = self.rt.statuses(internal_errors)[0]
        return st.level, st.message

    def texts(self, level: str = 'warning') -> List[str]:
        return [text for lvl, _, text in self.log if lvl == level]


@pytest.fixture(scope='module')
def encoders():
    """The packaged checkpoint's encoders (torch), loaded once."""
    return {name: load_encoder(EncoderConfig(input=name)) for name in ('camera', 'imu', 'audio')}


def imu_stream(seconds: float = 3.0, seed: int = 0):
    stamps = T0 + np.arange(int(seconds * 100)) / 100.0
    rows = np.random.default_rng(seed).normal(size=(len(stamps), 6)).astype(np.float32)
    rows[:, 2] += 9.8
    return stamps, rows


def frames(n: int, height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


def audio_chunks(rate: int, seconds: float = 3.0, chunk: float = 0.1, channels: int = 1):
    """``(stamps, samples, format)`` per 0.1 s chunk of a tone at ``rate``."""
    n = int(rate * chunk)
    for k in range(int(round(seconds / chunk))):
        stamps = T0 + (k * n + np.arange(n)) / rate
        samples = (0.3 * np.sin(2 * np.pi * 440.0 * (stamps - T0))).astype(np.float32)
        yield stamps, samples, AudioFormat(rate, channels, 'S16LE', n * channels * 2)


def ends(out) -> List[float]:
    return [o.end for o in out]


# --- no ROS in the core -------------------------------------------------------------------------
def test_the_encoder_runtime_imports_neither_rclpy_nor_ros_messages_nor_torch():
    code = (
        'import sys\n'
        'import hybrid_fusion_ros.core.encoder_runtime\n'
        'import hybrid_fusion_ros.core.fusion_health\n'
        'import hybrid_fusion_ros.core.parameters\n'
        'from hybrid_fusion_ros.core.inputs import INPUT_MESSAGE_TYPES\n'
        "assert 'sensor_msgs/msg/Imu' in INPUT_MESSAGE_TYPES and len(INPUT_MESSAGE_TYPES) == 4\n"
        "ros = ('rclpy', 'rcl_interfaces', 'builtin_interfaces', 'std_msgs', 'sensor_msgs',\n"
        "       'diagnostic_msgs', 'hybrid_fusion_msgs', 'torch')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ros))"
    )
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '[]'


# --- samples in, features out -------------------------------------------------------------------
def test_imu_samples_in_features_out_as_the_encoder_makes_them(encoders):
    h = Harness(encoders['imu'])
    stamps, rows = imu_stream()
    out = h.stream(stamps, rows)
    assert ends(out) == pytest.approx(ENDS)
    encoder = encoders['imu'].encoder
    for o in out:
        assert o.start == pytest.approx(o.end - 1.0)
        assert o.feature.shape == (64,) and np.isfinite(o.feature).all()
        inside = (stamps >= o.start) & (stamps < o.end)
        assert o.sample_count == inside.sum() == 100
        assert o.newest_stamp == pytest.approx(stamps[inside][-1])
        window = SensorWindow('imu', o.start, o.end, stamps[inside], rows[inside])
        np.testing.assert_allclose(o.feature, encoder.encode(window), rtol=1e-5, atol=1e-6)
    assert h.rt.counts() == {} and h.log == []
    topic, enc = h.rt.statuses()
    assert (topic.task, topic.hardware_id, topic.level, topic.message) == (
        'imu/data topic status',
        'imu',
        OK,
        'receiving',
    )
    assert topic.values['Events since startup'] == len(stamps)
    assert topic.values['Dropped total'] == 0
    assert (enc.task, enc.level, enc.message) == ('encoder', OK, '5 windows encoded')
    assert enc.values['Encoder'] == 'imu_cnn1d' and enc.values['Inference backend'] == 'torch'
    # Latency: sensor to publication, on the sensor clock (10 s after T0 here).
    p50 = enc.values['Sensor to feature latency p50 (ms)']
    assert 7000.0 < p50 < 10000.0


def test_windows_are_encoded_one_at_a_time_as_the_iterator_is_consumed(encoders):
    h = Harness(encoders['imu'])
    stamps, rows = imu_stream()
    # One chunk of 3 s: the windows are cut, none encoded. Its steadiness unknown (one
    # message), the last window waits for a sample past its end.
    pending = h.rt.push(stamps, rows)
    assert h.rt.input_rate.count == 1 and h.rt.feature_rate.count == 0
    first = next(pending)
    assert first.end == pytest.approx(ENDS[0])
    assert h.rt.feature_rate.count == 0  # counted once the feature has left
    next(pending)
    assert h.rt.feature_rate.count == 1 and len(h.rt.encode_ms) == 1
    assert ends(pending) == pytest.approx(ENDS[2:4]) and h.rt.feature_rate.count == 4


def test_camera_frames_in_features_out(encoders):
    h = Harness(encoders['camera'])
    stamps = T0 + np.arange(45) / 15.0
    out = h.stream(stamps, frames(45))
    assert ends(out) == pytest.approx(ENDS)
    assert all(o.feature.shape == (64,) and o.sample_count == 15 for o in out)


def test_audio_chunks_in_features_out(encoders):
    h = Harness(encoders['audio'])
    out = []
    for stamps, samples, fmt in audio_chunks(16000):
        out += h.push(stamps, samples, audio=fmt)
    # Audio stamps have no jitter: the last chunk proves the window ending 503.0 complete.
    assert ends(out) == pytest.approx(ENDS)
    assert all(o.sample_count == 16000 for o in out)
    assert h.rt.resampled_chunks == 0 and h.rt.format_changes == 0 and h.rt.counts() == {}


# --- set-up -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    'name, config, expect',
    [
        ('imu', {}, ('sensor_msgs/msg/Imu', 'imu/data', 'features/imu', 50, False)),
        ('camera', {}, ('sensor_msgs/msg/Image', 'camera/image_raw', 'features/camera', 5, False)),
        (
            'camera',
            {'image_transport': 'compressed'},
            (
                'sensor_msgs/msg/CompressedImage',
                'camera/image_raw/compressed',
                'features/camera',
                5,
                False,
            ),
        ),
        (
            'audio',
            {
                'input_topic': 'mic/chunk',
                'feature_topic': 'audio_features',
                'input_queue_depth': 7,
                'input_reliability': 'reliable',
            },
            ('hybrid_fusion_msgs/msg/AudioChunk', 'mic/chunk', 'audio_features', 7, True),
        ),
    ],
)
def test_the_input_is_read_as_the_configuration_says(encoders, name, config, expect):
    rt = Harness(encoders[name], **config).rt
    assert (rt.message_type, rt.input_topic, rt.feature_topic, rt.queue_depth, rt.reliable) == (
        expect
    )
    assert (rt.input_name, rt.modality) == (name, name)


@pytest.mark.parametrize(
    'name, sensor_rate_hz, expected_rate, sample_rate',
    [('imu', 0.0, 100.0, None), ('imu', 200.0, 200.0, None), ('audio', 0.0, 16000.0, 16000.0)],
)
def test_the_windows_use_the_sensor_rate_given_else_the_trained_one(
    encoders, name, sensor_rate_hz, expected_rate, sample_rate
):
    rt = Harness(encoders[name], sensor_rate_hz=sensor_rate_hz).rt
    assert (rt.windower.expected_rate, rt.windower.sample_rate) == (expected_rate, sample_rate)


def test_every_encoder_parameter_is_a_configuration_field_with_its_default():
    config = EncoderConfig()
    backend = ('inference_backend', 'onnx_options')  # node_common.py's parameters
    assert [p.name for p in ENCODER_PARAMETERS] == [
        f.name for f in fields(EncoderConfig) if f.name not in backend
    ]
    for p in ENCODER_PARAMETERS:
        assert p.default == getattr(config, p.name) and p.description, p.name


def _fake_encoder(loaded: LoadedEncoder, message_types) -> LoadedEncoder:
    spec = loaded.encoder.input_spec
    fake = SimpleNamespace(
        modality=loaded.encoder.modality,
        config=loaded.encoder.config,
        input_spec=SimpleNamespace(
            message_types=message_types, expected_rate_hz=spec.expected_rate_hz
        ),
    )
    return LoadedEncoder(fake, loaded.window, loaded.input)


@pytest.mark.parametrize(
    'config, match',
    [
        (
            {'input_reliability': 'sometimes'},
            "input_reliability must be 'best_effort' or 'reliable', got 'sometimes'",
        ),
        ({'sensor_rate_hz': -1.0}, r'sensor_rate_hz must be >= 0, got -1.0'),
    ],
)
def test_a_configuration_that_cannot_run_is_refused(encoders, config, match):
    with pytest.raises(EncoderSetupError, match=match):
        Harness(encoders['imu'], **config)


def test_an_encoder_of_messages_no_node_reads_is_refused(encoders):
    loaded = _fake_encoder(encoders['imu'], ('my_msgs/msg/Lidar',))
    match = r"consumes \['my_msgs/msg/Lidar'\]; this node reads"
    with pytest.raises(EncoderSetupError, match=match):
        EncoderRuntime(loaded, EncoderConfig(input='imu'))


@pytest.mark.parametrize(
    'config, match',
    [
        (
            {'input': 'imu', 'encoder': 'camera_cnn'},
            r"encoder 'camera_cnn' is for sensor type 'camera', input 'imu' is a imu",
        ),
        ({'input': 'wrist_imu'}, r"no input 'wrist_imu' \(it has \['camera', 'imu', 'audio'\]\)"),
        ({'input': 'imu', 'checkpoint': '/nonexistent/model.pt'}, 'no such file'),
        ({'input': 'imu', 'encoder': 'no_such_encoder'}, "unknown encoder 'no_such_encoder'"),
    ],
)
def test_from_config_names_the_problem(config, match):
    with pytest.raises(EncoderSetupError, match=match):
        EncoderRuntime.from_config(EncoderConfig(**config))


@pytest.mark.parametrize(
    'node_name, expect',
    [('imu_encoder', 'imu'), ('wrist_imu_encoder', 'wrist_imu'), ('imu', 'imu')],
)
def test_the_input_defaults_to_the_node_name(node_name, expect):
    assert default_input_name(node_name) == expect


def test_from_config_takes_the_input_from_the_node_name():
    rt = EncoderRuntime.from_config(EncoderConfig(), node_name='imu_encoder')
    assert (rt.input_name, rt.encoder_name, rt.modality) == ('imu', 'imu_cnn1d', 'imu')


def test_backend_warnings_are_logged_and_keep_the_encoder_status_warn(encoders):
    loaded = encoders['imu']
    warning = 'CUDAExecutionProvider is not available: running on CPUExecutionProvider'
    h = Harness(LoadedEncoder(loaded.encoder, loaded.window, loaded.input, True, (warning,)))
    assert h.texts() == [warning]
    h.stream(*imu_stream())
    enc = h.rt.statuses()[1]
    assert (enc.level, enc.message) == (WARN, f'5 windows encoded; {warning}')


def test_missing_weights_are_warned_about(encoders):
    loaded = encoders['imu']
    h = Harness(LoadedEncoder(loaded.encoder, loaded.window, loaded.input, has_weights=False))
    assert h.texts() == [
        "checkpoint has no weights for encoder 'imu_cnn1d': using the plugin's own initialization"
    ]


# --- losses -------------------------------------------------------------------------------------
def test_messages_lost_in_transport_are_counted_from_sequence_numbers(encoders):
    h = Harness(encoders['imu'])
    for publisher, seq in [
        (b'a', 1),
        (b'a', 2),
        (b'b', 10),
        (b'a', 5),  # 3 and 4 lost
        (b'b', 11),
        (b'a', 4),  # late, not a loss
        (b'b', 14),  # 12 and 13 lost
        (b'a', 6),
    ]:
        h.rt.note_sequence(publisher, seq)
    assert h.rt.counts() == {'lost_in_transport': 4}


def test_a_gap_in_the_stamps_estimates_the_samples_lost_unless_sequence_numbers_count_them(
    encoders,
):
    stamps, rows = imu_stream()
    keep = (stamps < T0 + 0.495) | (stamps > T0 + 0.525)  # 3 samples missing
    h = Harness(encoders['imu'])
    h.stream(stamps[keep], rows[keep])
    assert h.rt.counts() == {'lost_in_transport_est': 3}
    assert h.status() == (WARN, 'dropped 3 lost_in_transport_est')
    h.rt.note_sequence(b'a', 1)  # exact counts from here on replace the estimate
    assert h.rt.counts() == {}


def test_a_full_buffer_drops_the_oldest_and_counts_them(encoders):
    h = Harness(encoders['imu'], max_buffer_chunks=10)
    stamps, rows = imu_stream(1.0)
    h.stream(stamps, rows)
    counts = h.rt.counts()
    assert counts['buffer_overflow'] == len(stamps) - 10


# --- refused input ------------------------------------------------------------------------------
def test_a_message_that_cannot_be_converted_is_counted_with_the_reason(encoders):
    h = Harness(encoders['imu'])
    h.rt.refuse('non_finite_imu', 'IMU message has NaN or inf values')
    h.rt.refuse('non_finite_imu', 'IMU message has NaN or inf values')
    assert h.rt.counts() == {'non_finite_imu': 2}
    text = 'dropped imu input: IMU message has NaN or inf values'
    assert h.log == [('warning', 'dropped', text)] * 2


def test_a_depth_frame_into_a_colour_model_is_refused_and_the_stream_goes_on(encoders):
    h = Harness(encoders['camera'])
    stamps = T0 + np.arange(45) / 15.0
    good = frames(45)
    out = h.stream(stamps[:15], good[:15])
    depth = np.ones((1, 96, 128), np.float32)
    assert h.push([T0 + 1.005], depth) == []
    out += h.stream(stamps[15:], good[15:])
    assert h.rt.counts() == {'wrong_image_kind': 1}
    assert h.texts() == [
        'dropped camera input: a depth image for a model trained on colour images'
    ]
    assert ends(out) == pytest.approx(ENDS)
    assert h.status() == (WARN, 'dropped 1 wrong_image_kind')


def test_a_window_the_encoder_fails_on_is_counted_and_the_next_ones_encoded(encoders):
    loaded = encoders['imu']

    class FailsOnce:
        def __init__(self, encoder) -> None:
            self.encoder, self.failed = encoder, False

        def __getattr__(self, name):
            return getattr(self.encoder, name)

        def encode(self, window):
            if not self.failed:
                self.failed = True
                raise RuntimeError('out of memory')
            return self.encoder.encode(window)

    h = Harness(LoadedEncoder(FailsOnce(loaded.encoder), loaded.window, loaded.input))
    out = h.stream(*imu_stream())
    assert ends(out) == pytest.approx(ENDS[1:])
    assert h.rt.counts() == {'encode_error': 1}
    assert h.texts() == ['imu window ending 501.000 not encoded: RuntimeError: out of memory']


# --- formats ------------------------------------------------------------------------------------
def test_a_camera_resolution_change_is_taken_in_by_resizing(encoders):
    """128x96, then 320x240 for 2 s, then 128x96 again: windows go on across both changes;
    new frames are resized to the buffered ones' size until a window's worth (15) came."""
    h = Harness(encoders['camera'])
    stamps = T0 + np.arange(90) / 15.0
    big = (stamps - T0 >= 2.0) & (stamps - T0 < 4.0)
    out, shapes = [], []
    for t, is_big, frame in zip(stamps, big, frames(90)):
        if is_big:
            frame = resize_frames(frame[None], (240, 320, 3))[0]
        out += h.push([t], frame[None])
        shapes.append(h.rt.windower.buffer.sample_shape)
    assert ends(out) == pytest.approx([501.0 + 0.5 * k for k in range(11)])
    assert h.rt.format_changes == 2 and h.rt.counts() == {}
    first_big = int(np.argmax(big))
    assert shapes[first_big] == shapes[first_big + 13] == (96, 128, 3)
    assert shapes[first_big + 14] == (240, 320, 3)  # the 15th big frame: the stream's size
    assert h.texts()[0] == (
        'camera: input format changed to colour 320x240 (counted as a format change)'
    )


@pytest.mark.parametrize(
    'shape, size',
    [((4, 96, 128, 3), (240, 320, 3)), ((2, 96, 128), (48, 64))],
)
def test_resize_frames(shape, size):
    pytest.importorskip('cv2')
    dtype = np.float32 if len(shape) == 3 else np.uint8
    resized = resize_frames(np.ones(shape, dtype), size)
    assert resized.shape[1:3] == size[:2] and len(resized) == shape[0]
    assert resized.dtype == dtype


def test_audio_at_another_rate_and_channel_count_is_resampled_not_misplaced(encoders):
    """48 kHz stereo into a 16 kHz model: resampled (and counted), windows as at 16 kHz."""
    h = Harness(encoders['audio'])
    out = []
    chunks = list(audio_chunks(48000, channels=2))
    for stamps, samples, fmt in chunks:
        out += h.push(stamps, samples, audio=fmt)
    assert ends(out) == pytest.approx(ENDS)
    assert all(o.sample_count == 16000 for o in out)
    assert h.rt.resampled_chunks == len(chunks)
    assert h.rt.format_changes == 0 and h.rt.counts() == {}
    assert set(h.texts()) == {"audio: audio at 48000 Hz resampled to the model's 16000 Hz"}
    values = h.rt.statuses()[0].values
    assert values['Resampled chunks (sample rate)'] == len(chunks)


def test_audio_that_makes_no_sample_at_the_model_rate_is_refused(encoders):
    h = Harness(encoders['audio'])
    fmt = AudioFormat(4_000_000_000, 1, 'S16LE', 32)
    assert h.push(T0 + np.arange(16) / 4e9, np.zeros(16, np.float32), audio=fmt) == []
    assert h.rt.counts() == {'empty_audio': 1}
    assert h.texts() == [
        "dropped audio input: 32 bytes at 4e+09 Hz make no sample at the model's rate"
    ]


def test_a_change_of_audio_format_is_counted_and_reported(encoders):
    h = Harness(encoders['audio'])
    chunks = list(audio_chunks(16000, seconds=1.0))
    for stamps, samples, fmt in chunks[:5]:
        h.push(stamps, samples, audio=fmt)
    assert h.status() == (OK, 'receiving')
    stamps, samples, fmt = chunks[5]
    h.push(stamps, samples, audio=fmt._replace(channels=2))
    assert h.rt.format_changes == 1
    assert h.texts() == [
        'audio: input format changed to 16000 Hz, 2 channel(s), S16LE (counted as a format change)'
    ]
    assert h.status() == (WARN, 'input format changed')


@pytest.mark.parametrize(
    'from_rate, to_rate, n, expect_n',
    [(48000, 16000, 4800, 1600), (44100, 16000, 4410, 1600), (16000, 16000, 100, 100)],
)
def test_resample_audio(from_rate, to_rate, n, expect_n):
    stamps = T0 + np.arange(n) / from_rate
    samples = np.sin(np.arange(n) / 10.0).astype(np.float32)
    new_stamps, new_samples = resample_audio(stamps, samples, from_rate, to_rate)
    assert len(new_stamps) == len(new_samples) == expect_n
    assert new_stamps[0] == stamps[0] and new_samples.dtype == np.float32
    np.testing.assert_allclose(np.diff(new_stamps), 1.0 / to_rate, rtol=1e-6)
    if from_rate == 3 * to_rate:  # a box filter: the mean of each block of three
        np.testing.assert_allclose(new_samples, samples.reshape(-1, 3).mean(axis=1), rtol=1e-6)


# --- what the statuses say ----------------------------------------------------------------------
def test_an_anomaly_is_reported_in_words_for_stale_timeout_then_the_status_is_ok(encoders):
    h = Harness(encoders['imu'], stale_timeout=2.0)
    stamps, rows = imu_stream(6.0)
    h.stream(stamps[:50], rows[:50])
    assert h.status() == (OK, 'receiving')
    h.rt.refuse('non_finite_imu', 'NaN')
    seen = []
    for k in range(50, 600, 50):  # one status per 0.5 s of input
        h.clock.mono += 0.5
        h.stream(stamps[k : k + 50], rows[k : k + 50])
        seen.append(h.status())
    assert seen[:4] == [(WARN, 'dropped 1 non_finite_imu')] * 4
    assert seen[4:] == [(OK, 'receiving')] * 7


@pytest.mark.parametrize(
    'event, text',
    [
        ('drops', 'dropped 2 non_finite_imu, 1 out_of_order'),
        ('clock jump back', 'clock jumped back 10.0s (windows restarted)'),
        ('clock jump forward', 'clock jumped forward 3600.0s (windows restarted)'),
        ('internal error', 'internal error (traceback in the log)'),
    ],
)
def test_what_changed_is_said_in_words(encoders, event, text):
    h = Harness(encoders['imu'])
    stamps, rows = imu_stream(1.0)
    for t, row in zip(stamps, rows):
        h.push([t], row[None], arrival=t)
    assert h.status() == (OK, 'receiving')
    errors, t = 0, stamps[-1]
    if event == 'drops':
        h.rt.refuse('non_finite_imu', 'NaN')
        h.rt.refuse('non_finite_imu', 'NaN')
        h.push([t - 0.05], rows[:1], arrival=t)  # out of order
    elif event == 'clock jump back':
        h.push([t - 10.0], rows[:1], arrival=t + 0.01)
    elif event == 'clock jump forward':
        h.push([t + 3600.0], rows[:1], arrival=t + 0.01)
    else:
        errors = 1
    assert h.status(errors) == (WARN, text)


def test_a_silence_is_warned_about_once_and_the_input_coming_back_is_logged(encoders):
    h = Harness(encoders['imu'], stale_timeout=2.0)
    assert h.status() == (WARN, 'no input yet')
    enc = h.rt.statuses()[1]
    assert (enc.level, enc.message) == (WARN, '0 windows encoded')  # as the input's level
    stamps, rows = imu_stream(3.0)
    h.stream(stamps[:100], rows[:100])
    h.clock.mono += 3.0
    assert h.status() == (WARN, 'input stale for 3.0s')
    assert h.status() == (WARN, 'input stale for 3.0s')
    assert h.texts() == ['imu: no input on imu/data for 3.0s']  # once
    h.clock.mono += 0.5
    h.stream(stamps[100:], rows[100:])
    assert h.texts('info') == ['imu: input on imu/data resumed after 3.5s']
    assert h.status() == (OK, 'receiving')
