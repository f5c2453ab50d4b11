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

"""config/classifier.yaml and the graph description agree with the nodes."""

from pathlib import Path

import pytest

from hybrid_fusion_ros.nodes.encoder_node import EncoderNode
from hybrid_fusion_ros.nodes.fusion_node import FusionNode
from hybrid_fusion_ros.ros.graph import CLASSIFIER_GRAPH
from hybrid_fusion_ros.ros.graph import classifier_graph
from hybrid_fusion_ros.ros.graph import config_checkpoint
from hybrid_fusion_ros.ros.graph import default_config_path
from hybrid_fusion_ros.ros.graph import graph_for_checkpoint
from hybrid_fusion_ros.ros.graph import load_config
from hybrid_fusion_ros.ros.graph import node_parameters
from hybrid_fusion_ros.ros.launcher import node_command

NODE_CLASSES = {'encoder_node': EncoderNode, 'fusion_node': FusionNode}


def test_every_yaml_parameter_is_declared_by_its_node(ros):
    config = load_config(default_config_path())
    assert set(config) == {'/**'} | {f'/**/{spec.name}' for spec in CLASSIFIER_GRAPH}
    for spec in CLASSIFIER_GRAPH:
        params = node_parameters(config, spec.name)
        node = NODE_CLASSES[spec.executable](spec.name, **ros.kwargs(**params))
        try:
            undeclared = [k for k in params if not node.has_parameter(k)]
            assert not undeclared, f'{spec.name}: YAML sets undeclared parameter(s) {undeclared}'
            for key, value in params.items():
                assert node.get_parameter(key).value == value
        finally:
            node.destroy_node()


@pytest.mark.parametrize('namespace', ['/', '/robot1', '/fleet/robot2'])
def test_the_yaml_loaded_as_a_params_file_reaches_nodes_in_any_namespace(namespace):
    """rclpy applies a parameter file's blocks by the node's full name: '/**/<node>' keys reach a
    node pushed into a namespace, bare '<node>' keys would not."""
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context, args=['--ros-args', '--params-file', str(default_config_path())])
    try:
        camera = EncoderNode('camera_encoder', namespace=namespace, context=context)
        fusion = FusionNode('fusion_node', namespace=namespace, context=context)
        try:
            assert camera.get_parameter('input_topic').value == 'camera/image_raw'
            assert camera.get_parameter('input_queue_depth').value == 5
            assert camera.modality == 'camera' and camera.input_name == 'camera'
            assert fusion.get_parameter('latency_error_ms').value == 1000.0
        finally:
            camera.destroy_node()
            fusion.destroy_node()
    finally:
        context.try_shutdown()


def test_the_graph_follows_the_checkpoint():
    assert [s.name for s in graph_for_checkpoint(None)] == [
        'camera_encoder',
        'imu_encoder',
        'audio_encoder',
        'fusion_node',
    ]
    graph = classifier_graph(['front_depth', 'wrist_imu'])
    assert [s.name for s in graph] == ['front_depth_encoder', 'wrist_imu_encoder', 'fusion_node']
    assert dict(graph[1].parameters) == {'input': 'wrist_imu'}
    assert config_checkpoint(default_config_path()) is None  # "": the packaged one


def test_launcher_starts_the_nodes_as_ros2_launch_would(tmp_path):
    cmd = node_command(
        CLASSIFIER_GRAPH[0], Path('/x/classifier.yaml'), {'use_sim_time': 'true'}, tmp_path
    )
    assert cmd[1:3] == ['-m', 'hybrid_fusion_ros.nodes.encoder_node']
    assert cmd[3:] == [
        '--ros-args',
        '-r',
        '__node:=camera_encoder',
        '--params-file',
        '/x/classifier.yaml',
        '--params-file',
        str(tmp_path / 'camera_encoder.overrides.yaml'),
    ]
    assert load_config(cmd[-1]) == {
        '/**/camera_encoder': {'ros__parameters': {'input': 'camera', 'use_sim_time': True}}
    }


def test_launcher_overrides_beat_the_yaml_in_any_namespace(tmp_path):
    """Eval raises encoder queues to 2000 over the YAML's 5: the override must win (as a plain -p
    would not, behind the YAML's /** block)."""
    import rclpy

    override = node_command(
        CLASSIFIER_GRAPH[0], default_config_path(), {'input_queue_depth': '2000'}, tmp_path
    )
    context = rclpy.Context()
    rclpy.init(context=context, args=override[override.index('--ros-args') :])
    try:
        node = EncoderNode('camera_encoder', namespace='/robot1', context=context)
        try:
            assert node.get_parameter('input_queue_depth').value == 2000
            assert node.get_parameter('input').value == 'camera'
        finally:
            node.destroy_node()
    finally:
        context.try_shutdown()


def test_launch_file_uses_the_same_graph():
    source = (Path(__file__).resolve().parents[2] / 'launch' / 'classifier.launch.py').read_text()
    compile(source, 'classifier.launch.py', 'exec')
    assert 'graph_for_checkpoint' in source and 'default_config_path' in source
