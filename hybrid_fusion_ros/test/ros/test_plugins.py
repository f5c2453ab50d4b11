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

"""An encoder from outside this repository, registered through an entry point in a
``dist-info`` on a temporary path, is loaded by name by the encoder node."""

import textwrap

from conftest import wait_until
from hybrid_fusion_msgs.msg import FeatureVector
import numpy as np
from sensor_msgs.msg import Imu

from hybrid_fusion_ros.core.encoders import available_encoders
from hybrid_fusion_ros.nodes.encoder_node import EncoderNode
from hybrid_fusion_ros.ros import conversions as conv
from hybrid_fusion_ros.ros.qos import RESULT_QOS
from hybrid_fusion_ros.ros.qos import sensor_qos

PLUGIN = '''
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hybrid_fusion_ros.core.encoders import Encoder, InputSpec


@dataclass
class Config:
    feature_dim: int = 5


class MeanStdImu(Encoder):
    """Mean and standard deviation of each IMU channel, through one linear layer."""
    modality = 'imu'
    config_class = Config

    def __init__(self, config):
        super().__init__(config)
        self.linear = nn.Linear(12, config.feature_dim)

    @property
    def input_spec(self):
        return InputSpec('imu', ('sensor_msgs/msg/Imu',), (12,), 100.0)

    def preprocess(self, window):
        x = np.asarray(window.samples, dtype=np.float32)
        return np.concatenate([x.mean(axis=0), x.std(axis=0)]).astype(np.float32)

    def forward(self, x):
        return self.linear(x)
'''


def install_plugin(root):
    (root / 'ext_encoders').mkdir()
    (root / 'ext_encoders' / '__init__.py').write_text(PLUGIN)
    info = root / 'ext_encoders-0.1.dist-info'
    info.mkdir()
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: ext-encoders\nVersion: 0.1\n')
    (info / 'entry_points.txt').write_text(textwrap.dedent("""
        [hybrid_fusion_ros.encoders]
        mean_std_imu = ext_encoders:MeanStdImu
    """))


def test_external_encoder_is_loaded_by_name(ros, tmp_path, monkeypatch):
    assert 'mean_std_imu' not in available_encoders()
    install_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert 'mean_std_imu' in available_encoders()

    node = ros.add(
        EncoderNode('imu_encoder', **ros.kwargs(encoder='mean_std_imu', input_queue_depth=500))
    )
    assert node.encoder_name == 'mean_std_imu'
    helper = ros.node('feeder')
    features = []
    helper.create_subscription(FeatureVector, 'features/imu', features.append, RESULT_QOS)
    pub = helper.create_publisher(Imu, 'imu/data', sensor_qos(500))
    wait_until(lambda: pub.get_subscription_count() > 0, what='subscriber')
    for i in range(160):
        pub.publish(conv.row_to_imu(np.full(6, float(i)), conv.sec_to_stamp(10.0 + i / 100.0)))
    wait_until(lambda: len(features) >= 1, what='a feature from the plugin')
    f = features[0]
    assert f.encoder == 'mean_std_imu'
    assert list(f.shape) == [5]
    assert conv.stamp_to_sec(f.header.stamp) == 11.0
