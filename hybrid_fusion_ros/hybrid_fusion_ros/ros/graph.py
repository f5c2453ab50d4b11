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

"""The classifier's node graph, described once and used by ``launch/classifier.launch.py``
(``ros2 launch`` on a ROS machine), ``hybrid-fusion launch``, the demo and eval.

The graph follows the checkpoint in use: one encoder node per input of the model, named
``<input>_encoder``, and the fusion node. The checkpoint is the one the YAML parameter file
names (``checkpoint`` under ``/**`` or under a node's block), else the packaged default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from ..core.parameters import ENCODER_PARAMETERS
from ..core.parameters import FUSION_PARAMETERS
from ..core.parameters import MODEL_NODE_PARAMETERS

FUSION_NODE = 'fusion_node'
# What every node of the graph declares besides its table in core/parameters.py: the model
# nodes' shared parameters (inference backend, executor) and ROS's own use_sim_time.
EVERY_NODE_PARAMETERS = (*(p.name for p in MODEL_NODE_PARAMETERS), 'use_sim_time')


@dataclass(frozen=True)
class NodeSpec:
    name: str  # node name; also its block in the YAML parameter file
    executable: str  # console script, as `ros2 run hybrid_fusion_ros <executable>`
    module: str  # python -m <module> starts the same node
    parameters: Tuple[Tuple[str, str], ...] = ()  # set on the command line, e.g. the input's name
    plugin: str = ''  # 'module:Class' of the node, for graph_container (one process, all nodes)


def classifier_graph(input_names: Sequence[str]) -> Tuple[NodeSpec, ...]:
    """One encoder node per input, then the fusion node."""
    encoders = tuple(
        NodeSpec(
            f'{name}_encoder',
            'encoder_node',
            'hybrid_fusion_ros.nodes.encoder_node',
            (('input', name),),
            'hybrid_fusion_ros.nodes.encoder_node:EncoderNode',
        )
        for name in input_names
    )
    return encoders + (
        NodeSpec(
            FUSION_NODE,
            'fusion_node',
            'hybrid_fusion_ros.nodes.fusion_node',
            (),
            'hybrid_fusion_ros.nodes.fusion_node:FusionNode',
        ),
    )


def spec_for_node(name: str) -> NodeSpec:
    """The spec of a node of the graph by its name: ``fusion_node``, or ``<input>_encoder``."""
    if name == FUSION_NODE:
        return classifier_graph(())[0]
    if name.endswith('_encoder') and len(name) > len('_encoder'):
        return classifier_graph((name[: -len('_encoder')],))[0]
    raise ValueError(
        f"'{name}' is not a node of the classifier graph: '{FUSION_NODE}' or '<input>_encoder'"
    )


def route_parameters(
    values: Mapping[str, str], graph: Sequence[NodeSpec]
) -> Dict[str, Dict[str, str]]:
    """``NAME:=VALUE`` pairs of a command line (demo, eval), node by node: a name that the
    encoders and the fusion node both declare goes to every node of ``graph``, one that only the
    fusion node declares to it, one that only the encoders declare to each encoder. A name no
    node declares is a ``ValueError`` naming who declares what, instead of a value every node
    would ignore."""
    fusion = {p.name for p in FUSION_PARAMETERS} | set(EVERY_NODE_PARAMETERS)
    encoder = {p.name for p in ENCODER_PARAMETERS} | set(EVERY_NODE_PARAMETERS)
    unknown = sorted(set(values) - fusion - encoder)
    if unknown:
        raise ValueError(
            f'no node of the graph has parameter(s) {unknown}: the fusion node has '
            f'{sorted(fusion - encoder)}, the encoders {sorted(encoder - fusion)}, every node '
            f'{sorted(fusion & encoder)}'
        )
    routed: Dict[str, Dict[str, str]] = {spec.name: {} for spec in graph}
    for spec in graph:
        declared = fusion if spec.name == FUSION_NODE else encoder
        routed[spec.name].update({k: v for k, v in values.items() if k in declared})
    return routed


# The packaged checkpoint's graph: camera, IMU and audio encoders and the fusion node.
CLASSIFIER_GRAPH: Tuple[NodeSpec, ...] = classifier_graph(('camera', 'imu', 'audio'))


def default_config_path() -> Path:
    """config/classifier.yaml: from the installed share directory, else the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory

        path = (
            Path(get_package_share_directory('hybrid_fusion_ros')) / 'config' / 'classifier.yaml'
        )
        if path.is_file():
            return path
    except (ImportError, LookupError):
        pass
    return Path(__file__).resolve().parent.parent / 'config' / 'classifier.yaml'


def node_parameters(config: Dict[str, Any], node: str) -> Dict[str, Any]:
    """The parameters a YAML parameter file gives ``node`` (in any namespace), as rclpy applies
    them: ``/**`` first, then wildcard-namespace blocks, then the node's plain block."""
    out: Dict[str, Any] = {}
    for key in ('/**', f'/**/{node}', node, f'/{node}'):
        block = config.get(key)
        if isinstance(block, dict):
            out.update(block.get('ros__parameters') or {})
    return out


def load_config(path: Path | str) -> Dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'parameter file {path}: no such file')
    return yaml.safe_load(path.read_text()) or {}


def _fusion_parameter(name: str, default: Any, paths: Sequence[Path | str]) -> Any:
    """A fusion-node parameter as parameter files give it ('' and unset: ``default``); of
    several files, the last one that names it wins, as rcl applies them."""
    found = default
    for path in paths:
        found = node_parameters(load_config(path), FUSION_NODE).get(name) or found
    return found


def config_checkpoint(*paths: Path | str) -> Optional[str]:
    """The checkpoint parameter files name for the fusion node (None if none does)."""
    return _fusion_parameter('checkpoint', None, paths)


def config_backend(*paths: Path | str) -> str:
    """The fusion node's ``inference_backend`` in these parameter files (default torch)."""
    return _fusion_parameter('inference_backend', 'torch', paths)


def graph_for_checkpoint(
    checkpoint: Optional[str], backend: Optional[str] = None
) -> Tuple[NodeSpec, ...]:
    """The graph that runs ``checkpoint`` (None: the packaged one). With the onnxruntime
    backend, or where torch is not installed (a robot running the ONNX files), its inputs are
    read from the ONNX bundle's manifest, so that starting the graph needs no torch either. A
    checkpoint without a bundle gets one exported on first use where torch is installed, once,
    before any node starts (or a clear error where it is not)."""
    import importlib.util

    if backend == 'onnxruntime' or importlib.util.find_spec('torch') is None:
        from ..core.onnx_backend import OnnxBundle

        return classifier_graph(OnnxBundle.find(checkpoint, export_if_missing=True).modalities)
    from ..core.checkpoint import Checkpoint

    return classifier_graph(Checkpoint.load(checkpoint).modalities)
