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

"""``hybrid-fusion bench VERB``: the benchmarks, one verb each (entry-point group
``hybrid_fusion_tools.bench_verbs``, as ros2topic's verbs are), loaded when run.

The commands they replace (``bench-latency``, ``watch-benchmark``, ...) stay for one release
as aliases that say their new name."""

from __future__ import annotations

import argparse
import sys

from hybrid_fusion_ros.cli import Command
from hybrid_fusion_ros.cli import run_command
from hybrid_fusion_ros.core.plugins import PluginError
from hybrid_fusion_ros.core.plugins import PluginRegistry

VERB_GROUP = 'hybrid_fusion_tools.bench_verbs'
verb_registry: PluginRegistry[type] = PluginRegistry(VERB_GROUP, 'bench verb')


def run_verb(verb: str, argv) -> int:
    """Load bench verb ``verb`` and run it on ``argv`` (a clear exit when it is unknown)."""
    try:
        command = verb_registry.load(verb)()
    except PluginError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    return run_command(command, f'hybrid-fusion bench {verb}', argv)


class BenchCommand(Command):
    help = 'benchmarks: latency, scale, replay, soak, dataset, train, inference, watch, ...'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        names = verb_registry.names()
        parser.add_argument(
            'verb', nargs='?', metavar='VERB', help='one of: ' + ', '.join(names)
        )
        parser.add_argument(
            'verb_args',
            nargs=argparse.REMAINDER,
            metavar='...',
            help="the verb's own arguments (hybrid-fusion bench VERB --help)",
        )

    def run(self, args: argparse.Namespace) -> int:
        if not args.verb:
            print('usage: hybrid-fusion bench VERB [--help | ARGS...]; verbs:')
            for name in verb_registry.names():
                try:
                    text = verb_registry.load(name).help
                except PluginError as exc:
                    text = f'(fails to load: {exc})'
                print(f'  {name:<14} {text}')
            return 2
        return run_verb(args.verb, args.verb_args)


class _Alias(Command):
    """A command name of the last release, now a bench verb."""

    verb = ''
    deprecated = True

    @property
    def help(self) -> str:  # noqa: A003 - the Command attribute
        return f'now `hybrid-fusion bench {self.verb}`; the old name goes in the next release'

    def __init__(self) -> None:
        self._verb = None

    def _load(self) -> Command:
        if self._verb is None:
            self._verb = verb_registry.load(self.verb)()
        return self._verb

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        self._load().add_arguments(parser)

    def run(self, args: argparse.Namespace) -> int:
        return self._load().run(args)


def _alias(verb: str) -> type:
    """The command an old name (its entry point in setup.py) runs: bench verb ``verb``."""
    return type(f'Alias_{verb}', (_Alias,), {'verb': verb})


BenchLatencyAlias = _alias('latency')
BenchReplayAlias = _alias('replay')
BenchSoakAlias = _alias('soak')
BenchDatasetAlias = _alias('dataset')
WatchBenchmarkAlias = _alias('watch')
BasicMotionsAlias = _alias('basicmotions')
AblateAlias = _alias('ablate')
