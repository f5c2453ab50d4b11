"""config/classifier.yaml and the graph description agree with the nodes."""
from pathlib import Path

import yaml

from hybrid_fusion_ros.encoder_node import EncoderNode
from hybrid_fusion_ros.fusion_node import FusionNode
from hybrid_fusion_ros.graph import CLASSIFIER_GRAPH, default_config_path
from hybrid_fusion_ros.launcher import node_command

NODE_CLASSES = {'encoder_node': EncoderNode, 'fusion_node': FusionNode}


def test_every_yaml_parameter_is_declared_by_its_node(ros):
    config = yaml.safe_load(default_config_path().read_text())
    assert set(config) == {spec.name for spec in CLASSIFIER_GRAPH}
    for spec in CLASSIFIER_GRAPH:
        params = config[spec.name]['ros__parameters']
        node = NODE_CLASSES[spec.executable](spec.name, **ros.kwargs(**params))
        try:
            undeclared = [k for k in params if not node.has_parameter(k)]
            assert not undeclared, f'{spec.name}: YAML sets undeclared parameter(s) {undeclared}'
            for key, value in params.items():
                assert node.get_parameter(key).value == value
        finally:
            node.destroy_node()


def test_launcher_starts_the_nodes_as_ros2_launch_would():
    cmd = node_command(CLASSIFIER_GRAPH[0], Path('/x/classifier.yaml'), {'use_sim_time': 'true'})
    assert cmd[1:3] == ['-m', 'hybrid_fusion_ros.encoder_node']
    assert cmd[3:] == ['--ros-args', '-r', '__node:=camera_encoder', '--params-file', '/x/classifier.yaml',
                       '-p', 'use_sim_time:=true']


def test_launch_file_uses_the_same_graph():
    source = (Path(__file__).resolve().parents[1] / 'launch' / 'classifier.launch.py').read_text()
    compile(source, 'classifier.launch.py', 'exec')
    assert 'CLASSIFIER_GRAPH' in source and 'default_config_path' in source
