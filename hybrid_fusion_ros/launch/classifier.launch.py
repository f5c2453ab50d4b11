"""Start the camera, IMU and audio encoders and the fusion node with config/classifier.yaml.

    ros2 launch hybrid_fusion_ros classifier.launch.py [config:=/path/to.yaml] [use_sim_time:=true]

Machines without `ros2 launch` start the same graph with `hybrid-fusion launch`.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from hybrid_fusion_ros.graph import CLASSIFIER_GRAPH, default_config_path


def generate_launch_description() -> LaunchDescription:
    config = LaunchConfiguration('config')
    use_sim_time = LaunchConfiguration('use_sim_time')
    log_level = LaunchConfiguration('log_level')
    actions = [
        DeclareLaunchArgument('config', default_value=str(default_config_path()),
                              description='YAML parameter file'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='use /clock (e.g. from ros2 bag play --clock)'),
        DeclareLaunchArgument('log_level', default_value='info'),
    ]
    for spec in CLASSIFIER_GRAPH:
        actions.append(Node(
            package='hybrid_fusion_ros', executable=spec.executable, name=spec.name, output='screen',
            parameters=[config, {'use_sim_time': use_sim_time}],
            arguments=['--ros-args', '--log-level', log_level]))
    return LaunchDescription(actions)
