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

"""A command line's ``NAME:=VALUE`` goes to the nodes that declare it (demo, eval): the backend to
every node, a fusion parameter to the fusion node, an encoder's to each encoder; a name no node
has is refused with who has what, instead of a value every node would ignore."""

import pytest

from hybrid_fusion_ros.core.parameters import ENCODER_PARAMETERS
from hybrid_fusion_ros.core.parameters import FUSION_PARAMETERS
from hybrid_fusion_ros.ros.graph import classifier_graph
from hybrid_fusion_ros.ros.graph import FUSION_NODE
from hybrid_fusion_ros.ros.graph import route_parameters

GRAPH = classifier_graph(('front_depth', 'wrist_imu'))


def test_the_backend_goes_to_every_node():
    routed = route_parameters({'inference_backend': 'onnxruntime'}, GRAPH)
    assert routed == {spec.name: {'inference_backend': 'onnxruntime'} for spec in GRAPH}


def test_a_fusion_parameter_goes_to_the_fusion_node_only():
    routed = route_parameters({'fusion_mode': 'late', 'reset_after': '0.9'}, GRAPH)
    assert routed[FUSION_NODE] == {'fusion_mode': 'late', 'reset_after': '0.9'}
    assert routed['front_depth_encoder'] == routed['wrist_imu_encoder'] == {}


def test_an_encoder_parameter_goes_to_each_encoder():
    routed = route_parameters({'input_queue_depth': '7', 'torch_threads': '2'}, GRAPH)
    assert routed['front_depth_encoder'] == {'input_queue_depth': '7', 'torch_threads': '2'}
    assert routed['wrist_imu_encoder'] == {'input_queue_depth': '7', 'torch_threads': '2'}
    assert routed[FUSION_NODE] == {'torch_threads': '2'}  # both kinds declare it


def test_every_declared_name_is_routed_somewhere():
    for spec in (*ENCODER_PARAMETERS, *FUSION_PARAMETERS):
        routed = route_parameters({spec.name: 'x'}, GRAPH)
        assert any(spec.name in params for params in routed.values()), spec.name


def test_a_name_no_node_has_is_refused_with_who_has_what():
    with pytest.raises(ValueError) as err:
        route_parameters({'fusion_mod': 'late'}, GRAPH)
    text = str(err.value)
    assert "['fusion_mod']" in text and "'fusion_mode'" in text and "'input_topic'" in text
    assert "'inference_backend'" in text  # listed under every node
