"""``hybrid-fusion launch``: start the classifier graph without ``ros2 launch``."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import Command


class LaunchCommand(Command):
    help = 'start the encoder and fusion nodes from config/classifier.yaml (as classifier.launch.py does)'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--config', type=Path, help='YAML parameter file (default: the packaged one)')
        parser.add_argument('--use-sim-time', action='store_true')

    def run(self, args: argparse.Namespace) -> int:
        from ..graph import default_config_path
        from ..launcher import GraphProcess
        overrides = {'use_sim_time': 'true'} if args.use_sim_time else {}
        with GraphProcess(args.config or default_config_path(), overrides) as graph:
            try:
                while not graph.exited():
                    time.sleep(0.5)
            except KeyboardInterrupt:
                return 0
            print(f'node(s) exited: {graph.exited()}')
            return 1
