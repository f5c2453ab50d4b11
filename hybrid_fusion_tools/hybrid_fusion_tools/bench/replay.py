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

"""``hybrid-fusion bench replay``: how many times faster than real time the fast (lockstep,
sim time) evaluation replays the demo bag through the node graph, on this machine. Runs
``hybrid-fusion eval`` a few times and prints each run and the median; asserts nothing.

The wall time of a run is the replay's own, as ``eval`` reports it (``meta.wall_seconds``): from
opening the bag until the graph has turned its last window into features and a label. It leaves
out the node graph's start-up (processes, model loading, discovery) and the wait for a last round
of diagnostics after the replay; each run's whole command time, which has them, is printed
beside it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import statistics
import subprocess
import sys
import tempfile
import time

from hybrid_fusion_ros.cli import Command
from hybrid_fusion_ros.cli import parse_map

WALL_NOTE = (
    'wall time: the replay alone, from opening the bag until the last window has its features'
    ' and label; node start-up (processes, model loading, discovery) and the wait for a last'
    ' round of diagnostics after it are not in it (the whole command time has them)'
)


class BenchReplayCommand(Command):
    help = 'time fast offline replay of the demo bag through the node graph (x real time)'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            '--bag', type=Path, help='bag to replay (default: the 60 s demo bag, generated once)'
        )
        parser.add_argument('--runs', type=int, default=3)
        parser.add_argument(
            'params', nargs='*', metavar='NAME:=VALUE', help='fusion node parameters'
        )
        parser.add_argument('--json', type=Path, help='also write the figures as JSON here')

    def run(self, args: argparse.Namespace) -> int:
        from hybrid_fusion_ros.core.paths import cache_root
        from ..common.machine import machine_line
        from ..data.demo_data import generate_bag

        bag = args.bag
        if bag is None:
            bag = cache_root() / 'demo_60s_seed7_v2'
            if not bag.exists():
                print(f'generating the simulated demo bag {bag} ...', flush=True)
                generate_bag(bag, 60.0, 7)
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.runs):
                out = Path(tmp) / f'run{i}'
                started = time.monotonic()
                proc = subprocess.run(
                    [
                        sys.executable,
                        '-m',
                        'hybrid_fusion_ros.cli',
                        'eval',
                        str(bag),
                        *args.params,
                        '--out',
                        str(out),
                    ],
                    capture_output=True,
                    text=True,
                )
                command_s = time.monotonic() - started
                if proc.returncode != 0:
                    print(proc.stdout[-2000:] + proc.stderr[-2000:], file=sys.stderr)
                    return proc.returncode
                report = json.loads((out / 'report.json').read_text())
                meta, m = report['meta'], report['metrics']
                rows.append(
                    {
                        'run': i + 1,
                        'wall_s': meta['wall_seconds'],
                        'replayed_s': meta['replayed_seconds'],
                        'speed_x': meta['speed_x'],
                        'command_s': command_s,
                        'coverage': m['coverage'],
                        'accuracy': m['accuracy'],
                        'drops': sum(sum(c.values()) for c in report['drops'].values()),
                    }
                )
                r = rows[-1]
                print(
                    f"run {r['run']}: {r['replayed_s']:.1f} s of data in {r['wall_s']:.2f} s wall"
                    f" = {r['speed_x']:.1f}x real time (whole command {r['command_s']:.1f} s);"
                    f" coverage {100 * r['coverage']:.1f}%,"
                    f" accuracy {100 * (r['accuracy'] or 0):.1f}%, drops {r['drops']}",
                    flush=True,
                )
        median = statistics.median(r['speed_x'] for r in rows)
        mode = parse_map(args.params).get('fusion_mode', 'early')
        print(
            f'\nmedian {median:.1f}x real time over {len(rows)} runs ({mode} fusion, fast lockstep'
            f' replay, {bag.name}; {machine_line()})\n{WALL_NOTE}'
        )
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        # A report may be committed: no machine's home folder in it.
                        'bag': str(bag).replace(str(Path.home()), '~', 1),
                        'mode': mode,
                        'runs': rows,
                        'median_speed_x': median,
                        'wall_note': WALL_NOTE,
                        'machine': machine_line(),
                    },
                    indent=2,
                )
            )
        return 0
