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

"""``hybrid-fusion``: one CLI whose commands are entry-point plugins (group
``hybrid_fusion_ros.commands``), as ros2cli's commands are.

The runtime package registers ``launch``; ``hybrid_fusion_tools`` adds the offline commands
(``train``, ``eval``, ``bench`` ...) to the same group, as ros2topic adds ``ros2 topic``.
Commands load on demand: ``hybrid-fusion VERB ...`` imports only VERB's module, and the listing
of ``hybrid-fusion --help`` imports each command module without building its arguments, so a
command module imports nothing heavy (torch, rclpy) at module level: that happens in ``run``."""

from __future__ import annotations

import argparse
import re
import sys
from typing import Dict, List, Optional, Sequence

from ..core.plugins import PluginError
from ..core.plugins import PluginRegistry

COMMAND_GROUP = 'hybrid_fusion_ros.commands'
# A ``NAME:=VALUE`` parameter (not a topic remap: a parameter name has no slash).
ASSIGNMENT = re.compile(r'[A-Za-z_][A-Za-z0-9_.]*:=.*')
command_registry: PluginRegistry[type] = PluginRegistry(COMMAND_GROUP, 'command')


class Command:
    """A command: ``help`` for the listing, ``add_arguments`` and ``run``.

    ``deprecated`` commands (old names kept for a release) run, but are listed apart. A command
    that takes ``NAME:=VALUE`` parameters names the list they go to in ``assignments``: they
    are then accepted anywhere on its line, as on a ``ros2 launch`` line, also after options
    (``eval BAG --out DIR reset_after:=0.9``)."""

    help = ''
    deprecated = False
    assignments = ''

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


def parse_map(items):
    """``['a:=b', ...]`` -> ``{'a': 'b'}`` (topic maps, parameter overrides)."""
    out = {}
    for item in items or []:
        src, sep, dst = item.partition(':=')
        if not sep or not src or not dst:
            raise SystemExit(f"error: expected NAME:=VALUE, got '{item}'")
        out[src] = dst
    return out


def run_command(
    command: Command, prog: str, argv: Sequence[str]
) -> int:
    """Parse ``argv`` for ``command`` (its own parser, named ``prog``) and run it: how a command
    with verbs (``bench``) runs the verb it was given."""
    parser = argparse.ArgumentParser(prog=prog, description=command.help)
    command.add_arguments(parser)
    try:
        return int(command.run(parser.parse_args(list(argv))) or 0)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130


def _first_word(argv: Sequence[str]) -> Optional[str]:
    for token in argv:
        if not token.startswith('-'):
            return token
        if token == '--':
            return None
    return None


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog='hybrid-fusion', description='Multimodal CNN-LSTM activity fusion for ROS 2.'
    )
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    names = command_registry.names()
    wanted = _first_word(argv)
    chosen = [wanted] if wanted in names else names
    commands: Dict[str, Command] = {}
    old_names = []
    for name in chosen:
        try:
            cmd = command_registry.load(name)()
        except PluginError as exc:  # a broken plugin nobody asked for is reported, not fatal
            print(f'warning: {exc}', file=sys.stderr)
            continue
        if cmd.deprecated and name != wanted:
            old_names.append(name)
            continue
        if cmd.deprecated:
            print(f'note: `hybrid-fusion {name}` is deprecated: {cmd.help}', file=sys.stderr)
        commands[name] = cmd
        command_parser = sub.add_parser(name, help=cmd.help, description=cmd.help)
        if name == wanted:  # only the command being run builds its arguments
            cmd.add_arguments(command_parser)
    if old_names:
        parser.epilog = f'old names, kept for this release: {", ".join(old_names)}'
    args, extra = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if extra:
        into = commands[args.command].assignments
        if not into or not all(ASSIGNMENT.fullmatch(token) for token in extra):
            parser.error(f'unrecognized arguments: {" ".join(extra)}')
        setattr(args, into, list(getattr(args, into) or []) + extra)
    try:
        return int(commands[args.command].run(args) or 0)
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
