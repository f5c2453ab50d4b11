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

"""Bags written and read with rosbags; restamping; clear errors for unusable bags."""

import pytest
from rclpy.serialization import deserialize_message
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Imu

from hybrid_fusion_ros.ros import conversions as conv
from hybrid_fusion_tools.bags.bag import BagError
from hybrid_fusion_tools.bags.bag import decode
from hybrid_fusion_tools.bags.bag import open_reader
from hybrid_fusion_tools.bags.bag import read_messages
from hybrid_fusion_tools.bags.bag import topics_and_types
from hybrid_fusion_tools.bags.replay import shift_stamp
from hybrid_fusion_tools.data.demo_data import generate_bag
from hybrid_fusion_tools.data.demo_data import TOPICS


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_generated_bag_has_every_stream(tmp_path, storage):
    path = generate_bag(tmp_path / f'bag_{storage}', seconds=3.0, seed=1, storage=storage)
    reader = open_reader(path)
    topics = topics_and_types(reader)
    assert topics[TOPICS['camera']] == ('sensor_msgs/msg/Image', 45)
    assert topics[TOPICS['imu']] == ('sensor_msgs/msg/Imu', 300)
    assert topics[TOPICS['audio']] == ('hybrid_fusion_msgs/msg/AudioChunk', 30)
    assert topics[TOPICS['ground_truth']][1] == 30
    msgs = list(read_messages(reader, [TOPICS['imu'], TOPICS['ground_truth']]))
    assert all(a.log_time_ns <= b.log_time_ns for a, b in zip(msgs, msgs[1:]))
    for m in msgs[:20]:  # each message is logged at its header stamp
        assert conv.stamp_to_ns(decode(m).header.stamp) == m.log_time_ns
    gt = decode(next(m for m in msgs if m.topic == TOPICS['ground_truth']))
    assert gt.fusion_mode == 'ground_truth' and gt.label in gt.class_names
    reader.close()


def test_shift_stamp_moves_only_the_header_stamp():
    msg = conv.row_to_imu([1, 2, 3, 4, 5, 6], conv.sec_to_stamp(1_700_000_000.25))
    shifted = deserialize_message(
        shift_stamp(serialize_message(msg), 86_400 * 10**9 + 900_000_000), Imu
    )
    assert conv.stamp_to_sec(shifted.header.stamp) == pytest.approx(1_700_086_401.15)
    assert shifted.linear_acceleration.z == 3 and shifted.angular_velocity.z == 6


def test_missing_empty_and_corrupt_bags_are_clear_errors(tmp_path):
    with pytest.raises(BagError, match='no such file'):
        open_reader(tmp_path / 'nothing')
    path = generate_bag(tmp_path / 'good', seconds=1.0, seed=1)
    mcap = next(path.glob('*.mcap'))
    mcap.write_bytes(mcap.read_bytes()[:2000])
    with pytest.raises(BagError, match='cannot be opened'):
        reader = open_reader(path)
        list(read_messages(reader))


def test_the_replayer_publishes_as_a_driver_so_reliable_subscribers_see_it(ros, demo_bag):
    """REP-2003: drivers publish reliable and subscribers choose; a reliable subscriber (RViz,
    a recorder) got nothing from a best-effort publisher."""
    from conftest import wait_until
    from rclpy.qos import QoSProfile
    from rclpy.qos import ReliabilityPolicy
    from sensor_msgs.msg import Imu

    from hybrid_fusion_tools.bags.replay import BagReplayer

    node = ros.node('replayer')
    replayer = BagReplayer(
        node,
        demo_bag,
        rate=20.0,
        topics={'/imu/data'},
        topic_map={'/imu/data': f'{ros.namespace}/imu/data'},
    )
    got, best_effort = [], []
    listener = ros.node('listeners')
    for sink, reliability in (
        (got, ReliabilityPolicy.RELIABLE),
        (best_effort, ReliabilityPolicy.BEST_EFFORT),
    ):
        listener.create_subscription(
            Imu, 'imu/data', sink.append, QoSProfile(depth=100, reliability=reliability)
        )
    pub = replayer.publisher_for('/imu/data')
    wait_until(lambda: pub.get_subscription_count() == 2, what='both subscribers matched')
    replayer.run()
    wait_until(lambda: len(got) >= 100 and len(best_effort) >= 50, what='messages at both QoS')
