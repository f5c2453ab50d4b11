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

"""``hybrid-fusion generate``: write the SIMULATED multimodal demo bag."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybrid_fusion_ros.cli import Command


class GenerateCommand(Command):
    help = 'write a simulated camera + IMU + audio bag with a ground-truth label topic'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('output', type=Path, help='bag directory to create')
        parser.add_argument('--seconds', type=float, default=60.0)
        parser.add_argument('--seed', type=int, default=7)
        parser.add_argument(
            '--storage',
            choices=['mcap', 'sqlite3', 'ros1'],
            help='rosbag2 MCAP or SQLite3 directory, or a ROS 1 .bag file (ros1)',
            default='mcap',
        )
        parser.add_argument(
            '--compressed',
            action='store_true',
            help='camera as CompressedImage (JPEG; with --robot: compressedDepth)',
        )
        parser.add_argument(
            '--robot',
            action='store_true',
            help=(
                "a robot's own sensor set instead: a depth camera (/front_depth/depth/image_raw, "
                '10 fps) and two IMUs (/wrist_imu/imu, /thigh_imu/imu, 50 Hz), no microphone; '
                'labels in <bag>.labels.csv next to the bag'
            ),
        )

    def run(self, args: argparse.Namespace) -> int:
        from ..data.demo_data import generate_bag
        from ..data.demo_data import generate_robot_bag

        if args.output.exists():
            raise SystemExit(f'error: {args.output} exists; choose a new path')
        if args.robot:
            path = generate_robot_bag(
                args.output, args.seconds, args.seed, args.storage, compressed=args.compressed
            )
            print(
                f'wrote {path} and {path.name}.labels.csv ({args.seconds:.0f} s, seed {args.seed};'
                ' simulated depth camera + two IMUs)'
            )
            return 0
        path = generate_bag(args.output, args.seconds, args.seed, args.storage, args.compressed)
        print(
            f'wrote {path} ({args.seconds:.0f} s, seed {args.seed}, {args.storage}; simulated'
            ' data)'
        )
        return 0
