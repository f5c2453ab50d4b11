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

from glob import glob

from setuptools import find_packages
from setuptools import setup

package_name = 'hybrid_fusion_ros'

setup(
    name=package_name,
    version='0.2.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['py.typed', 'models/*.pt']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        (
            'share/' + package_name + '/config',
            glob('config/*.yaml') + glob('config/*.xml') + glob('config/*.json'),
        ),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='hybrid_fusion_ros maintainers',
    maintainer_email='maintainers@hybrid-fusion-ros.dev',
    description='Plugin-based multimodal CNN-LSTM sensor fusion for ROS 2: the runtime.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'encoder_node = hybrid_fusion_ros.nodes.encoder_node:main',
            'fusion_node = hybrid_fusion_ros.nodes.fusion_node:main',
            'fusion_lifecycle_node = hybrid_fusion_ros.nodes.fusion_node:main_lifecycle',
            'graph_container = hybrid_fusion_ros.nodes.container:run',
            'hybrid-fusion = hybrid_fusion_ros.cli:main',
        ],
        # Encoders are plugins: the built-ins are registered exactly as a third-party
        # package would register its own.
        'hybrid_fusion_ros.encoders': [
            'camera_cnn = hybrid_fusion_ros.core.encoders.camera:CameraCNN',
            'imu_cnn1d = hybrid_fusion_ros.core.encoders.imu:ImuCNN1d',
            'imu_hybrid = hybrid_fusion_ros.core.encoders.imu_hybrid:ImuHybrid',
            'imu_rocket = hybrid_fusion_ros.core.encoders.imu_rocket:ImuRocket',
            'audio_logmel_cnn = hybrid_fusion_ros.core.encoders.audio:AudioLogMelCNN',
        ],
        # Commands of `hybrid-fusion`, registered the same way; hybrid_fusion_tools adds the
        # offline ones (train, eval, bench, ...) to this group.
        'hybrid_fusion_ros.commands': [
            'launch = hybrid_fusion_ros.cli.launch:LaunchCommand',
            'swap = hybrid_fusion_ros.cli.swap:SwapCommand',
        ],
    },
)
