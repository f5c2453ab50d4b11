"""The classifier's node graph, described once and used by both ``launch/classifier.launch.py``
(``ros2 launch`` on a ROS machine) and ``hybrid-fusion launch`` (machines without it)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Tuple


@dataclass(frozen=True)
class NodeSpec:
    name: str          # node name; also its section in the YAML parameter file
    executable: str    # console script, as `ros2 run hybrid_fusion_ros <executable>`
    module: str        # python -m <module> starts the same node


CLASSIFIER_GRAPH: Tuple[NodeSpec, ...] = (
    NodeSpec('camera_encoder', 'encoder_node', 'hybrid_fusion_ros.encoder_node'),
    NodeSpec('imu_encoder', 'encoder_node', 'hybrid_fusion_ros.encoder_node'),
    NodeSpec('audio_encoder', 'encoder_node', 'hybrid_fusion_ros.encoder_node'),
    NodeSpec('fusion_node', 'fusion_node', 'hybrid_fusion_ros.fusion_node'),
)


def default_config_path() -> Path:
    """config/classifier.yaml: from the installed share directory, else the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory
        path = Path(get_package_share_directory('hybrid_fusion_ros')) / 'config' / 'classifier.yaml'
        if path.is_file():
            return path
    except (ImportError, LookupError):
        pass
    return Path(__file__).resolve().parent.parent / 'config' / 'classifier.yaml'
