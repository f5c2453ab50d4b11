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

"""``hybrid-fusion launch``: start the classifier graph without ``ros2 launch``."""

from __future__ import annotations

import argparse
from pathlib import Path
import time

from . import Command


class LaunchCommand(Command):
    help = (
        'start one encoder node per input of the checkpoint and the fusion node from '
        'config/classifier.yaml (as classifier.launch.py does)'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            '--config', type=Path, help='YAML parameter file (default: the packaged one)'
        )
        parser.add_argument(
            '--checkpoint', help="checkpoint for every node (default: the config's)"
        )
        parser.add_argument('--use-sim-time', action='store_true')
        parser.add_argument(
            '--backend',
            '--inference-backend',
            dest='inference_backend',
            choices=('torch', 'onnxruntime'),
            help="every node's inference_backend (default: the config's)",
        )
        parser.add_argument(
            '--single-process',
            action='store_true',
            help=(
                'every node in one process on one executor (graph_container), '
                'with the same parameters; topics stay ROS topics'
            ),
        )

    def run(self, args: argparse.Namespace) -> int:
        from ..ros.graph import config_backend
        from ..ros.graph import config_checkpoint
        from ..ros.graph import default_config_path
        from ..ros.graph import graph_for_checkpoint
        from ..ros.launcher import GraphProcess

        config = args.config or default_config_path()
        overrides = {'use_sim_time': 'true'} if args.use_sim_time else {}
        if args.inference_backend:
            overrides['inference_backend'] = args.inference_backend
        try:
            checkpoint = args.checkpoint or config_checkpoint(config)
            nodes = graph_for_checkpoint(
                checkpoint, args.inference_backend or config_backend(config)
            )
        except (RuntimeError, FileNotFoundError) as exc:  # CheckpointError, OnnxBackendError
            raise SystemExit(f'error: {exc}')
        if args.checkpoint:
            overrides['checkpoint'] = str(Path(args.checkpoint).resolve())
        layout = 'in one process' if args.single_process else 'one process each'
        print(
            f"starting {', '.join(n.name for n in nodes)}, {layout} "
            f"(checkpoint: {checkpoint or 'packaged default'})",
            flush=True,
        )
        with GraphProcess(
            config, overrides, graph=nodes, single_process=args.single_process
        ) as graph:
            try:
                while not graph.exited():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                return 0
            print(f'node(s) exited: {graph.exited()}')
            return 1
