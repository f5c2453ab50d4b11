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

"""``hybrid-fusion replay``: play a bag into the ROS graph (``ros2 bag play`` for machines
without ros2cli)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybrid_fusion_ros.cli import Command
from hybrid_fusion_ros.cli import parse_map


class ReplayCommand(Command):
    help = 'publish a bag (.mcap/.db3 rosbag2, or ROS 1 .bag) with its recorded timing'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('bag', type=Path)
        parser.add_argument('--rate', type=float, default=1.0)
        parser.add_argument(
            '--clock', action='store_true', help='publish /clock for use_sim_time nodes'
        )
        parser.add_argument(
            '--restamp', action='store_true', help='shift header stamps to now (rate 1 only)'
        )
        parser.add_argument('--map', action='append', metavar='FROM:=TO', help='rename a topic')

    def run(self, args: argparse.Namespace) -> int:
        import rclpy
        from tqdm import tqdm

        from ..bags.bag import BagError
        from ..bags.replay import BagReplayer

        rclpy.init()
        try:
            node = rclpy.create_node('bag_replayer')
            try:
                replayer = BagReplayer(
                    node, args.bag, args.rate, args.restamp, args.clock, parse_map(args.map)
                )
            except (BagError, ValueError) as exc:
                raise SystemExit(f'error: {exc}')
            with tqdm(total=replayer.total, unit='msg', desc='replaying') as bar:
                replayer.run(lambda _msg: bar.update())
            replayer.close()
            node.destroy_node()
        finally:
            rclpy.try_shutdown()
        return 0
