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

"""``hybrid-fusion``: one CLI whose subcommands are entry-point plugins
(group ``hybrid_fusion_ros.commands``), as ros2cli's verbs are."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Sequence

from ..core.plugins import PluginError
from ..core.plugins import PluginRegistry

COMMAND_GROUP = 'hybrid_fusion_ros.commands'
command_registry: PluginRegistry[type] = PluginRegistry(COMMAND_GROUP, 'command')


class Command:
    """A subcommand: ``help`` for the listing, ``add_arguments`` and ``run``."""

    help = ''

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


# The classical baselines of core/baseline.py (not imported here: it pulls in torch), each with
# the key of its figures in the benchmarks' JSON and its printed label.
BASELINE_RESULTS = {
    'forest': ('features_rf', 'features + random forest'),
    'minirocket': ('minirocket_ridge', 'MiniRocket + ridge'),
}


def add_baseline_argument(parser: argparse.ArgumentParser) -> None:
    """``--baseline KIND ...`` of the real-data benchmarks (``core/baseline.py``)."""
    parser.add_argument(
        '--baseline',
        nargs='+',
        choices=tuple(BASELINE_RESULTS),
        default=[],
        metavar='KIND',
        help='classical baselines run beside the network (default: every one installed)',
    )


def baselines_or_exit(requested: Sequence[str]) -> List[str]:
    """The baselines to run for ``--baseline`` (empty: every one installed), or a clear exit."""
    from ..core.baseline import choose_baselines

    try:
        return choose_baselines(requested)
    except ValueError as exc:
        raise SystemExit(f'error: {exc}')


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='hybrid-fusion', description='Multimodal CNN-LSTM activity fusion for ROS 2.'
    )
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands = {}
    for name in command_registry.names():
        try:
            cmd = command_registry.load(name)()
        except PluginError as exc:  # a broken plugin nobody asked for is reported, not fatal
            print(f'warning: {exc}', file=sys.stderr)
            continue
        commands[name] = cmd
        cmd.add_arguments(sub.add_parser(name, help=cmd.help, description=cmd.help))
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(commands[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
