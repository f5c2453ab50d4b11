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

"""``graph_container``: every node of the classifier graph in one process, on one executor.

The rclpy counterpart of a component container (rclcpp's ``component_container``, which is
not on PyPI and loads C++ nodes only). The nodes are the same classes, with the same names,
parameters and topics as one process per node: each is created with its own name and its
``input`` parameter as node-local arguments, and every ``--params-file`` on the command line
reaches every node, which takes its own ``/**/<node>`` block from it, as a node process
would. Topics stay real ROS topics: other processes see the features and labels.

    graph_container [--nodes camera_encoder,imu_encoder,audio_encoder,fusion_node]
        [--executor single|multi] [--torch-threads N]
        --ros-args --params-file config/classifier.yaml [--params-file overrides.yaml]

Without ``--nodes``, the graph is that of the checkpoint the parameter files name (the
packaged one if none). One process means one torch: its intra-op threads are set once, to
``--torch-threads`` or else the largest ``torch_threads`` a node asks for. A node that cannot
start stops the container with one line naming the node and the cause, and exit status 1.
SIGINT and SIGTERM stop it cleanly.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, List, Optional, Sequence, Tuple

from ..ros.graph import config_backend
from ..ros.graph import config_checkpoint
from ..ros.graph import graph_for_checkpoint
from ..ros.graph import NodeSpec
from ..ros.graph import spec_for_node

LOGGER = 'graph_container'
EXECUTOR_KINDS = ('single', 'multi')


def params_files(ros_args: Sequence[str]) -> List[str]:
    """The ``--params-file`` arguments of a ``--ros-args`` command line, in order."""
    return [ros_args[i + 1] for i, a in enumerate(ros_args[:-1]) if a == '--params-file']


def node_class(spec: NodeSpec) -> type:
    module, _, name = spec.plugin.partition(':')
    return getattr(importlib.import_module(module), name)


def parse_args(argv: Sequence[str]) -> Tuple[argparse.Namespace, List[str]]:
    """The container's own options, and the whole command line for ``rclpy.init``."""
    from rclpy.utilities import remove_ros_args

    parser = argparse.ArgumentParser(prog='graph_container', description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--nodes',
        help=(
            'comma-separated node names (default: the graph of the '
            "checkpoint the parameter files name): '<input>_encoder', 'fusion_node'"
        ),
    )
    parser.add_argument(
        '--executor',
        choices=EXECUTOR_KINDS,
        default='single',
        help=(
            'one SingleThreadedExecutor (default) or a MultiThreadedExecutor '
            '(2 threads) for every node'
        ),
    )
    parser.add_argument(
        '--torch-threads',
        type=int,
        default=0,
        help="torch intra-op threads (0: the largest of the nodes' torch_threads)",
    )
    own = remove_ros_args(list(argv))[1:]
    return parser.parse_args(own), list(argv)


def graph_nodes(names: Optional[str], files: Sequence[str]) -> Tuple[NodeSpec, ...]:
    if names:
        return tuple(spec_for_node(n.strip()) for n in names.split(',') if n.strip())
    return graph_for_checkpoint(config_checkpoint(*files), config_backend(*files))


def create_nodes(specs: Sequence[NodeSpec]) -> List[Any]:
    """Each node with its own name and its spec's parameters as node-local arguments; a
    StartupError names the node it came from. Nodes created before a failure are destroyed."""
    from ..ros.node_common import StartupError

    nodes: List[Any] = []
    try:
        for spec in specs:
            local = [a for k, v in spec.parameters for a in ('-p', f'{k}:={v}')]
            try:
                nodes.append(
                    node_class(spec)(spec.name, cli_args=['--ros-args', *local] if local else None)
                )
            except StartupError as exc:
                raise StartupError(f'{spec.name}: {exc}') from exc
    except BaseException:
        for node in nodes:
            node.destroy_node()
        raise
    return nodes


def set_torch_threads(nodes: Sequence[Any], requested: int) -> int:
    """Once for the process: each node sets torch's threads as it starts (the last one
    would win); the container decides instead. Nodes on the onnxruntime backend never load
    torch, and then neither does this (0 is returned)."""
    if 'torch' not in sys.modules:
        return 0
    import torch

    threads = requested or max(
        [
            int(n.get_parameter('torch_threads').value)
            for n in nodes
            if n.has_parameter('torch_threads')
        ]
        or [1]
    )
    torch.set_num_threads(max(1, threads))
    return torch.get_num_threads()


def main(args: Optional[List[str]] = None) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException

    from ..ros.node_common import EXECUTORS
    from ..ros.node_common import StartupError
    from ..ros.node_common import spin
    from ..ros.qos import use_sensor_profile

    argv = list(sys.argv if args is None else ['graph_container', *args])
    options, ros_argv = parse_args(argv)
    logger = rclpy.logging.get_logger(LOGGER)
    use_sensor_profile()  # before rclpy.init: Fast DDS reads it when the participant is made
    rclpy.init(args=ros_argv)
    try:
        try:
            specs = graph_nodes(options.nodes, params_files(ros_argv))
            nodes = create_nodes(specs)
        except KeyboardInterrupt:
            return 0
        except Exception as exc:  # noqa: BLE001 - a checkpoint that does not load, and the like
            if not rclpy.ok():  # SIGINT or SIGTERM while the nodes were being made
                return 0
            known = isinstance(exc, (StartupError, ValueError, FileNotFoundError))
            logger.fatal(
                f'cannot start: {exc}' if known else f'cannot start: {type(exc).__name__}: {exc}'
            )
            return 1
        executor = EXECUTORS[options.executor]()
        try:
            threads = set_torch_threads(nodes, options.torch_threads)
            for node in nodes:
                executor.add_node(node)
                asked = (
                    node.get_parameter('executor').value
                    if node.has_parameter('executor')
                    else None
                )
                if asked not in (None, options.executor):
                    logger.warning(
                        f"{node.get_name()}: executor '{asked}' is not used: all nodes "
                        f"of this process spin on one '{options.executor}' executor"
                    )
            logger.info(
                f"{', '.join(n.get_name() for n in nodes)} in one process "
                f'({options.executor} executor, '
                + (f'{threads} torch thread(s))' if threads else 'torch not loaded)')
            )
            spin(executor, LOGGER)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            executor.shutdown()
            for node in nodes:
                node.destroy_node()
        return 0
    finally:
        rclpy.try_shutdown()


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == '__main__':
    run()
