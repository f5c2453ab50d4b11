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

"""Start one encoder node per input of the checkpoint and the fusion node, with
config/classifier.yaml.

    ros2 launch hybrid_fusion_ros classifier.launch.py [config:=/path/to.yaml] \\
        [checkpoint:=/path/to/model.pt] [use_sim_time:=true] [single_process:=true] \\
        [inference_backend:=onnxruntime]

The checkpoint (the launch argument, else the YAML's ``checkpoint``, else the packaged one)
decides which encoder nodes start: ``<input>_encoder`` for each of its inputs. Machines
without `ros2 launch` start the same graph with `hybrid-fusion launch`.

``single_process:=true`` runs every node in one ``graph_container`` process on one executor,
as a component container would, with the same parameters. The nodes load the package's Fast
DDS sensor-transport profile (config/fastdds_sensors.xml) unless a profile is set already.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.actions import OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hybrid_fusion_ros.ros.graph import config_backend
from hybrid_fusion_ros.ros.graph import config_checkpoint
from hybrid_fusion_ros.ros.graph import default_config_path
from hybrid_fusion_ros.ros.graph import graph_for_checkpoint
from hybrid_fusion_ros.ros.qos import node_process_env


def _nodes(context, *args, **kwargs):
    config = LaunchConfiguration('config').perform(context)
    checkpoint = LaunchConfiguration('checkpoint').perform(context) or config_checkpoint(config)
    use_sim_time = LaunchConfiguration('use_sim_time').perform(context).lower() in ('true', '1')
    log_level = LaunchConfiguration('log_level').perform(context)
    single = LaunchConfiguration('single_process').perform(context).lower() in ('true', '1')
    backend = LaunchConfiguration('inference_backend').perform(context)
    common = {'use_sim_time': use_sim_time}
    if checkpoint:
        common['checkpoint'] = checkpoint
    if backend:
        common['inference_backend'] = backend
    graph = graph_for_checkpoint(checkpoint, backend or config_backend(config))
    env = node_process_env(os.environ)
    if single:
        # No name=: launch_ros would pass it as a process-wide __node remap, renaming every node.
        # Each node takes its own input from --nodes, and its own block from the YAML.
        return [
            Node(
                package='hybrid_fusion_ros',
                executable='graph_container',
                output='screen',
                parameters=[config, common],
                additional_env=env,
                arguments=[
                    '--nodes',
                    ','.join(spec.name for spec in graph),
                    '--ros-args',
                    '--log-level',
                    log_level,
                ],
            )
        ]
    return [
        Node(
            package='hybrid_fusion_ros',
            executable=spec.executable,
            name=spec.name,
            output='screen',
            parameters=[config, common, dict(spec.parameters)],
            additional_env=env,
            arguments=['--ros-args', '--log-level', log_level],
        )
        for spec in graph
    ]


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'config',
                default_value=str(default_config_path()),
                description='YAML parameter file',
            ),
            DeclareLaunchArgument(
                'checkpoint',
                default_value='',
                description="checkpoint for every node; empty: the YAML's, else the packaged one",
            ),
            DeclareLaunchArgument(
                'use_sim_time',
                default_value='false',
                description='use /clock (e.g. from ros2 bag play --clock)',
            ),
            DeclareLaunchArgument(
                'inference_backend',
                default_value='',
                choices=['', 'torch', 'onnxruntime'],
                description="every node's backend: torch or onnxruntime; empty: the YAML's",
            ),
            DeclareLaunchArgument('log_level', default_value='info'),
            DeclareLaunchArgument(
                'single_process',
                default_value='false',
                description='every node in one process on one executor (graph_container)',
            ),
            OpaqueFunction(function=_nodes),
        ]
    )
