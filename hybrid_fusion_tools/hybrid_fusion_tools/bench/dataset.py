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

"""``hybrid-fusion bench dataset``: how fast training data is built from a bag of a depth camera
and an IMU (x real time), and whether memory grows with the bag's length: the same build on a
bag and on one ten times longer, each in a fresh process, peak RSS from the kernel's own
accounting (``wait4``). Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
import time

from hybrid_fusion_ros.cli import Command

# One build in a fresh process: what `hybrid-fusion train` does to a bag before training.
_WORKER = """
import sys
from pathlib import Path
from hybrid_fusion_ros.core.windows import WindowSpec
from hybrid_fusion_tools.data.loading import load_recordings
bag, cache, jobs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
maps = {'/front_depth/depth/image_raw': 'front_depth', '/wrist_imu/imu': 'wrist_imu'}
data = load_recordings([bag], maps, WindowSpec(1.0, 0.5), cache_root=cache, jobs=jobs,
                       progress=False)
rec = data.recordings[0]
print(data.build['wall_seconds'], rec.meta['build_seconds'], len(rec.ends))
"""


_GENERATE = """
import sys
from pathlib import Path
from hybrid_fusion_tools.data.simulation import SimulationConfig
from hybrid_fusion_tools.data.demo_data import generate_robot_bag
out, seconds, fps, hz, w, h = Path(sys.argv[1]), *map(float, sys.argv[2:])
sim = SimulationConfig(camera_rate=fps, imu_rate=hz, width=int(w), height=int(h))
generate_robot_bag(out, seconds, seed=3, sensors={'front_depth': 'depth', 'wrist_imu': 'imu'},
                   config=sim)
"""


def _run_build(bag: Path, cache: Path, jobs: int):
    """(seconds building, windows, peak RSS MiB, process wall s) of one build in a fresh
    process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, '-c', _WORKER, str(bag), str(cache), str(jobs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f'error: the build failed:\n{err[-2000:]}')
    _, build_s, windows = out.split()
    return float(build_s), int(windows), usage.ru_maxrss / 1024.0, wall


class BenchDatasetCommand(Command):
    help = (
        'time building training data from a depth camera + IMU bag (x real time) and its peak RSS'
        ' vs length'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            '--seconds', type=float, default=60.0, help='length of the short bag (the long is 10x)'
        )
        parser.add_argument(
            '--camera-rate', type=float, default=30.0, help='depth frames per second'
        )
        parser.add_argument('--imu-rate', type=float, default=200.0, help='IMU samples per second')
        parser.add_argument('--size', default='160x120', help='depth frame size WxH (16UC1)')
        parser.add_argument('--json', type=Path, help='also write the figures as JSON here')

    def run(self, args: argparse.Namespace) -> int:
        from ..common.machine import machine_line

        width, height = (int(v) for v in args.size.lower().split('x'))
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for scale in (1, 10):
                seconds = args.seconds * scale
                bag = Path(tmp) / f'bag_{scale}x'
                print(
                    f'writing a simulated {seconds:.0f} s bag: {width}x{height} 16UC1 depth at '
                    f'{args.camera_rate:g} fps + IMU at {args.imu_rate:g} Hz ...',
                    flush=True,
                )
                # In a process of its own: a child's peak RSS on Linux counts its parent's pages at
                # fork, so this process stays small while it starts the measured builds.
                subprocess.run(
                    [
                        sys.executable,
                        '-c',
                        _GENERATE,
                        str(bag),
                        str(seconds),
                        str(args.camera_rate),
                        str(args.imu_rate),
                        str(width),
                        str(height),
                    ],
                    check=True,
                )
                size = sum(p.stat().st_size for p in bag.iterdir())
                build_s, windows, rss, wall = _run_build(bag, Path(tmp) / f'cache_{scale}x', 1)
                rows.append(
                    {
                        'bag_seconds': seconds,
                        'bag_mb': size / 1e6,
                        'windows': windows,
                        'build_seconds': build_s,
                        'speed_x': seconds / build_s,
                        'peak_rss_mib': rss,
                        'process_wall_seconds': wall,
                    }
                )
                r = rows[-1]
                print(
                    f"  {seconds:6.0f} s bag ({r['bag_mb']:.0f} MB): {windows} windows built in"
                    f" {build_s:.1f} s = {r['speed_x']:.0f}x real time (one process); peak RSS"
                    f' {rss:.0f} MiB',
                    flush=True,
                )
        growth = rows[1]['peak_rss_mib'] / rows[0]['peak_rss_mib']
        print(
            f'\npeak RSS, 10x longer bag / short bag: {growth:.2f}; build speed'
            f" {rows[0]['speed_x']:.0f}x and {rows[1]['speed_x']:.0f}x real time on one core"
            f' ({machine_line()}; simulated data)'
        )
        if args.json:
            args.json.write_text(
                json.dumps(
                    {'rows': rows, 'rss_ratio': growth, 'machine': machine_line()}, indent=2
                )
            )
        return 0
