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

"""The generated messages round-trip through a real publisher and subscriber."""

from conftest import wait_until
from hybrid_fusion_msgs.msg import ActivityLabel
from hybrid_fusion_msgs.msg import AudioChunk
from hybrid_fusion_msgs.msg import FeatureVector
import numpy as np

from hybrid_fusion_ros.ros import conversions as conv
from hybrid_fusion_ros.ros.qos import RESULT_QOS


def test_messages_round_trip(ros):
    node = ros.node('roundtrip')
    got = {}
    feature = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    samples = np.sin(np.linspace(0, 20, 1600)).astype(np.float32) * 0.5
    sent = {
        'feature': conv.feature_to_msg(feature, 'imu', 'imu_cnn1d', 10.0, 11.0, 10.99, 100, 1.5),
        'audio': conv.samples_to_audio(samples, 16000, conv.sec_to_stamp(12.25)),
        'label': conv.make_label(
            conv.sec_to_stamp(13.0),
            ['a', 'b'],
            np.array([0.2, 0.8]),
            1,
            ['imu'],
            'early',
            4.5,
            np.array([1.0]),
        ),
    }
    types = {'feature': FeatureVector, 'audio': AudioChunk, 'label': ActivityLabel}
    pubs = {k: node.create_publisher(types[k], f'rt/{k}', RESULT_QOS) for k in sent}
    for k in sent:
        node.create_subscription(
            types[k], f'rt/{k}', lambda m, k=k: got.setdefault(k, m), RESULT_QOS
        )
    wait_until(
        lambda: all(p.get_subscription_count() > 0 for p in pubs.values()), what='discovery'
    )
    for k, p in pubs.items():
        p.publish(sent[k])
    wait_until(lambda: len(got) == 3, what='all three messages')

    f = got['feature']
    np.testing.assert_array_equal(conv.msg_to_feature(f), feature)
    assert (f.modality, f.encoder, f.sample_count) == ('imu', 'imu_cnn1d', 100)
    assert conv.stamp_to_sec(f.header.stamp) == conv.stamp_to_sec(f.window_end) == 11.0
    stamps, back = conv.audio_to_samples(got['audio'])
    np.testing.assert_allclose(back, samples, atol=1 / 16000)
    assert stamps[0] == 12.25 and np.isclose(stamps[1] - stamps[0], 1 / 16000)
    lab = got['label']
    assert (lab.label, lab.class_id, lab.fusion_mode) == ('b', 1, 'early')
    assert np.isclose(lab.confidence, 0.8) and list(lab.modalities_used) == ['imu']
