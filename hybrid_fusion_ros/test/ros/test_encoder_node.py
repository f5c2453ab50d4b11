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

"""Encoder nodes fed real published messages: features with the right stamps and shape;
bad input counted, warned about and survived; startup errors in one line."""

import time

from conftest import wait_until
import cv2
from hybrid_fusion_msgs.msg import AudioChunk
from hybrid_fusion_msgs.msg import FeatureVector
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage
from sensor_msgs.msg import Image
from sensor_msgs.msg import Imu

from hybrid_fusion_ros.core.checkpoint import default_checkpoint_path
from hybrid_fusion_ros.nodes.encoder_node import EncoderNode
from hybrid_fusion_ros.ros import conversions as conv
from hybrid_fusion_ros.ros.node_common import StartupError
from hybrid_fusion_ros.ros.qos import RESULT_QOS
from hybrid_fusion_ros.ros.qos import sensor_qos
from hybrid_fusion_tools.data.simulation import Episode

T0 = 500.0


def start(ros, modality, **params):
    params.setdefault('input_queue_depth', 1000)
    node = ros.add(EncoderNode(f'{modality}_encoder', **ros.kwargs(**params)))
    helper = ros.node(f'{modality}_feeder')
    features = []
    helper.create_subscription(FeatureVector, f'features/{modality}', features.append, RESULT_QOS)
    return node, helper, features


def publish_all(helper, node, msg_type, topic, messages):
    pub = helper.create_publisher(msg_type, topic, sensor_qos(len(messages) + 10))
    wait_until(lambda: pub.get_subscription_count() > 0, what=f'{topic} subscriber')
    for m in messages:  # paced like a sensor, faster than real time
        pub.publish(m)
        time.sleep(0.002)
    return pub


def check_features(features, modality, dim, expect_ends):
    ends = [conv.stamp_to_sec(f.header.stamp) for f in features]
    assert ends == pytest.approx(expect_ends)
    for f in features:
        assert f.modality == modality
        assert list(f.shape) == [dim]
        assert conv.stamp_to_sec(f.window_end) - conv.stamp_to_sec(
            f.window_start
        ) == pytest.approx(1.0)
        newest = conv.stamp_to_sec(f.newest_sample_stamp)
        assert conv.stamp_to_sec(f.window_start) <= newest < conv.stamp_to_sec(f.window_end)
        assert np.isfinite(conv.msg_to_feature(f)).all()


def test_imu_encoder_node(ros):
    ep = Episode(3.0, seed=1, t0=T0)
    stamps = ep.stamps(100.0)
    rows = ep.imu(stamps)
    node, helper, features = start(ros, 'imu')
    publish_all(
        helper,
        node,
        Imu,
        'imu/data',
        [conv.row_to_imu(r, conv.sec_to_stamp(t)) for r, t in zip(rows, stamps)],
    )
    # A steady 100 Hz stream: its last sample (502.99) closes the window ending 503.0 as well.
    wait_until(lambda: len(features) >= 5, what='5 IMU features')
    check_features(features, 'imu', 64, [501.0, 501.5, 502.0, 502.5, 503.0])


@pytest.mark.parametrize('compressed', [False, True])
def test_camera_encoder_node(ros, compressed):
    ep = Episode(2.6, seed=2, t0=T0)
    stamps = ep.stamps(15.0)
    frames = ep.frames(stamps)
    if compressed:
        msgs = [conv.rgb_to_compressed(f, conv.sec_to_stamp(t)) for f, t in zip(frames, stamps)]
        node, helper, features = start(
            ros, 'camera', image_transport='compressed', input_topic='camera/compressed'
        )
        publish_all(helper, node, CompressedImage, 'camera/compressed', msgs)
    else:
        node, helper, features = start(ros, 'camera')
        publish_all(
            helper,
            node,
            Image,
            'camera/image_raw',
            [conv.rgb_to_image(f, conv.sec_to_stamp(t)) for f, t in zip(frames, stamps)],
        )
    # The last frame (502.47) is within half a frame period of 502.5: that window closes too.
    wait_until(lambda: len(features) >= 4, what='4 camera features')
    check_features(features, 'camera', 64, [501.0, 501.5, 502.0, 502.5])


def test_audio_encoder_node(ros):
    ep = Episode(2.6, seed=3, t0=T0)
    stamps = ep.stamps(16000.0)
    audio = ep.audio(stamps)
    node, helper, features = start(ros, 'audio')
    publish_all(
        helper,
        node,
        AudioChunk,
        'audio/chunk',
        [
            conv.samples_to_audio(audio[i : i + 1600], 16000, conv.sec_to_stamp(stamps[i]))
            for i in range(0, len(stamps), 1600)
        ],
    )
    wait_until(lambda: len(features) >= 4, what='4 audio features')
    check_features(features, 'audio', 64, [501.0, 501.5, 502.0, 502.5])


def _bad_image():
    msg = conv.rgb_to_image(np.zeros((8, 8, 3), np.uint8), conv.sec_to_stamp(T0))
    msg.encoding = 'bayer_rggb8'
    return msg


def _nan_imu():
    return conv.row_to_imu([np.nan, 0, 9.8, 0, 0, 0], conv.sec_to_stamp(T0))


def _empty_audio():
    return conv.samples_to_audio(np.zeros(0, np.float32), 16000, conv.sec_to_stamp(T0))


def _audio_at_an_absurd_rate():
    """16 samples at 4 GHz: not one sample at the model's 16 kHz once resampled."""
    return conv.samples_to_audio(np.zeros(16, np.float32), 4_000_000_000, conv.sec_to_stamp(T0))


@pytest.mark.parametrize(
    'modality, msg_type, topic, make_bad, cause, make_good',
    [
        (
            'camera',
            Image,
            'camera/image_raw',
            _bad_image,
            'unsupported_encoding',
            lambda t: conv.rgb_to_image(np.zeros((96, 128, 3), np.uint8), conv.sec_to_stamp(t)),
        ),
        (
            'imu',
            Imu,
            'imu/data',
            _nan_imu,
            'non_finite_imu',
            lambda t: conv.row_to_imu([0, 0, 9.8, 0, 0, 0], conv.sec_to_stamp(t)),
        ),
        (
            'audio',
            AudioChunk,
            'audio/chunk',
            _empty_audio,
            'empty_audio',
            lambda t: conv.samples_to_audio(
                np.zeros(1600, np.float32), 16000, conv.sec_to_stamp(t)
            ),
        ),
        (
            'audio',
            AudioChunk,
            'audio/chunk',
            _audio_at_an_absurd_rate,
            'empty_audio',
            lambda t: conv.samples_to_audio(
                np.zeros(1600, np.float32), 16000, conv.sec_to_stamp(t)
            ),
        ),
    ],
)
def test_bad_input_is_counted_and_the_node_keeps_running(
    ros, modality, msg_type, topic, make_bad, cause, make_good
):
    node, helper, features = start(ros, modality)
    rate = {'camera': 15.0, 'imu': 100.0, 'audio': 10.0}[modality]
    good = [make_good(T0 + 0.01 + i / rate) for i in range(int(2.2 * rate))]
    publish_all(helper, node, msg_type, topic, [make_bad(), make_bad()] + good)
    wait_until(lambda: node.counts().get(cause) == 2, what=f'{cause} counted twice')
    wait_until(lambda: len(features) >= 2, what='features after the bad input')


@pytest.mark.parametrize(
    'params, match',
    [
        ({'checkpoint': '/nonexistent/model.pt'}, r'/nonexistent/model.pt: no such file'),
        (
            {'encoder': 'no_such_encoder'},
            (
                r"unknown encoder 'no_such_encoder'.*available: audio_logmel_cnn, camera_cnn,"
                r' imu_cnn1d'
            ),
        ),
        (
            {'encoder': 'camera_cnn'},
            r"encoder 'camera_cnn' is for sensor type 'camera', input 'imu' is a imu",
        ),
        ({'input': 'wrist_imu'}, r"no input 'wrist_imu' \(it has \['camera', 'imu', 'audio'\]\)"),
    ],
)
def test_startup_errors_name_the_problem(ros, params, match):
    with pytest.raises(StartupError, match=match):
        EncoderNode('imu_encoder', **ros.kwargs(**params))


def test_corrupt_checkpoint_is_a_startup_error(ros, tmp_path):
    bad = tmp_path / 'corrupt.pt'
    bad.write_bytes(b'\x80\x04 not a zip file')
    with pytest.raises(StartupError, match='corrupt.pt: cannot be read'):
        EncoderNode('imu_encoder', **ros.kwargs(checkpoint=str(bad)))
    half = tmp_path / 'truncated.pt'
    data = default_checkpoint_path().read_bytes()
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(StartupError, match='truncated.pt: cannot be read'):
        EncoderNode('imu_encoder', **ros.kwargs(checkpoint=str(half)))


def test_audio_at_another_rate_and_stereo_is_resampled_not_misplaced(ros):
    """48 kHz stereo into a 16 kHz mono model: resampled (and counted), windows as at 16 kHz."""
    ep = Episode(2.6, seed=3, t0=T0)
    stamps = ep.stamps(48000.0)
    audio = ep.audio(stamps)
    node, helper, features = start(ros, 'audio')

    def stereo_chunk(i):
        msg = conv.samples_to_audio(audio[i : i + 4800], 48000, conv.sec_to_stamp(stamps[i]))
        mono = np.frombuffer(msg.data, '<i2')
        msg.channels = 2
        msg.data = np.repeat(mono, 2).tobytes()  # both channels the same
        return msg

    publish_all(
        helper,
        node,
        AudioChunk,
        'audio/chunk',
        [stereo_chunk(i) for i in range(0, len(stamps), 4800)],
    )
    wait_until(lambda: len(features) >= 4, what='4 audio features')
    check_features(features, 'audio', 64, [501.0, 501.5, 502.0, 502.5])
    assert node.resampled_chunks == len(range(0, len(stamps), 4800))
    assert not node.counts().get('incomplete_window')


def test_camera_resolution_change_mid_stream_is_taken_in_and_counted(ros):
    """128x96, then 320x240 for 2 s, then 128x96 again: windows go on across both changes."""
    ep = Episode(5.6, seed=2, t0=T0)
    stamps = ep.stamps(15.0)
    frames = ep.frames(stamps)
    node, helper, features = start(ros, 'camera')
    msgs = [
        conv.rgb_to_image(
            cv2.resize(f, (320, 240)) if 2.0 <= t - T0 < 4.0 else f, conv.sec_to_stamp(t)
        )
        for f, t in zip(frames, stamps)
    ]
    publish_all(helper, node, Image, 'camera/image_raw', msgs)
    wait_until(lambda: len(features) >= 10, what='10 camera features')
    check_features(features, 'camera', 64, [501.0 + 0.5 * k for k in range(10)])
    assert node.format_changes == 2
    assert node.counts() == {}


def test_a_depth_image_into_a_colour_model_is_refused_where_it_arrives(ros):
    node, helper, features = start(ros, 'camera')
    good = [
        conv.rgb_to_image(
            np.zeros((96, 128, 3), np.uint8), conv.sec_to_stamp(T0 + 0.01 + i / 15.0)
        )
        for i in range(33)
    ]
    depth = conv.depth_to_image(np.ones((96, 128), np.float32), conv.sec_to_stamp(T0 + 1.005))
    publish_all(helper, node, Image, 'camera/image_raw', good[:15] + [depth] + good[15:])
    wait_until(lambda: node.counts().get('wrong_image_kind') == 1, what='wrong_image_kind counted')
    wait_until(lambda: len(features) >= 2, what='features go on')
    assert 'encode_error' not in node.counts()


def test_a_clock_jump_forward_is_a_jump_not_samples_lost(ros):
    """An IMU whose clock is stepped by an hour mid-stream: one jump, nothing 'lost'."""
    stamps = np.concatenate([T0 + np.arange(150) / 100.0, T0 + 3601.5 + np.arange(250) / 100.0])
    node, helper, features = start(ros, 'imu')
    publish_all(
        helper,
        node,
        Imu,
        'imu/data',
        [conv.row_to_imu([0, 0, 9.8, 0, 0, 0], conv.sec_to_stamp(t)) for t in stamps],
    )
    wait_until(
        lambda: any(conv.stamp_to_sec(f.header.stamp) > T0 + 3600 for f in features),
        what='features after the jump',
    )
    assert node.windower.stats.time_jumps == 1
    assert node.windower.stats.last_jump == pytest.approx(3600.0, abs=0.05)
    assert node.counts() == {}
