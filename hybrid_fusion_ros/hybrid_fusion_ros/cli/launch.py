"""``hybrid-fusion launch``: start the classifier graph without ``ros2 launch``."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import Command


class LaunchCommand(Command):
    help = ('start one encoder node per input of the checkpoint and the fusion node from '
            'config/classifier.yaml (as classifier.launch.py does)')

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--config', type=Path, help='YAML parameter file (default: the packaged one)')
        parser.add_argument('--checkpoint', help="checkpoint for every node (default: the config's)")
        parser.add_argument('--use-sim-time', action='store_true')
        parser.add_argument('--single-process', action='store_true',
                            help='every node in one process on one executor (graph_container), '
                            'with the same parameters; topics stay ROS topics')

    def run(self, args: argparse.Namespace) -> int:
        from ..core.checkpoint import CheckpointError
        from ..graph import config_checkpoint, default_config_path, graph_for_checkpoint
        from ..launcher import GraphProcess
        config = args.config or default_config_path()
        overrides = {'use_sim_time': 'true'} if args.use_sim_time else {}
        try:
            checkpoint = args.checkpoint or config_checkpoint(config)
            nodes = graph_for_checkpoint(checkpoint)
        except (CheckpointError, FileNotFoundError) as exc:
            raise SystemExit(f'error: {exc}')
        if args.checkpoint:
            overrides['checkpoint'] = str(Path(args.checkpoint).resolve())
        layout = 'in one process' if args.single_process else 'one process each'
        print(f"starting {', '.join(n.name for n in nodes)}, {layout} "
              f"(checkpoint: {checkpoint or 'packaged default'})", flush=True)
        with GraphProcess(config, overrides, graph=nodes, single_process=args.single_process) as graph:
            try:
                while not graph.exited():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                return 0
            print(f'node(s) exited: {graph.exited()}')
            return 1
