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

"""``hybrid-fusion bench teach``: teaching a held-out activity on SIMULATED data, against the
targets (training and checking under 60 s from 60 s of examples, the new class at 90 % of its
held-out windows, old classes within 2 points of the parent's accuracy)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hybrid_fusion_ros.cli import Command


class BenchTeachCommand(Command):
    help = (
        'teach a held-out simulated activity to a parent trained without it: time, new-class '
        'and old-class accuracy against the targets'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--held-out', default='waving', help='the activity to teach')
        parser.add_argument(
            '--seconds', type=float, default=60.0, help='seconds of examples (default 60)'
        )
        parser.add_argument('--seed', type=int, default=0)
        parser.add_argument('--json', type=Path, help='also write the figures here')

    def run(self, args: argparse.Namespace) -> int:
        from ..common.machine import machine_line
        from ..training.teach import simulated_teach_benchmark

        result = simulated_teach_benchmark(args.held_out, args.seconds, args.seed, progress=True)
        result['machine'] = machine_line()
        print(f"machine: {result['machine']}; SIMULATED data")
        for key, value in result.items():
            if key != 'machine':
                print(f'  {key}: {value}')
        if args.json:
            args.json.write_text(json.dumps(result, indent=2, default=str))
        return 0
