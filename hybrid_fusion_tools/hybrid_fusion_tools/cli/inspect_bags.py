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

r"""``hybrid-fusion inspect``: what labelled bags hold, before training on them.

    hybrid-fusion inspect BAG... [--map TOPIC:=INPUT[:TYPE] ...] [--truth FILE]
        [--window-length 1.0 --window-hop 0.5] [--group-by REGEX] [--json OUT]

Per bag: each sensor topic's rate measured within continuous runs, its runs, the pauses
between them and the samples lost inside them; the ground truth per class (intervals, their
lengths, the windows each class would give); then warnings, each with its fix. The bags,
``--map``, ``--truth`` and ``--group-by`` are read as ``hybrid-fusion train`` reads them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys

from hybrid_fusion_ros.cli import Command


class InspectCommand(Command):
    help = (
        'report what labelled bags hold (sensor rates within runs, pauses, losses, labels per '
        'class, windows per class) and what to fix before training on them'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            'bags',
            nargs='+',
            type=Path,
            metavar='BAG',
            help='rosbag2 directories (.mcap/.db3) or ROS 1 .bag files, or folders of them',
        )
        parser.add_argument(
            '--map',
            action='append',
            metavar='TOPIC:=INPUT[:TYPE]',
            help=(
                'the bag topics to inspect, as training maps them (TOPIC:=ground_truth for a '
                'label topic); default: every sensor topic of a known type'
            ),
        )
        parser.add_argument(
            '--truth',
            type=Path,
            metavar='FILE',
            help=(
                'labels of a single bag (start,end,label CSV or JSON); default: '
                '<bag>.labels.csv next to each bag, else its label topic'
            ),
        )
        parser.add_argument(
            '--window-length', type=float, default=1.0, help='window length (s); default 1.0'
        )
        parser.add_argument(
            '--window-hop', type=float, default=0.5, help='window hop (s); default 0.5'
        )
        parser.add_argument(
            '--group-by',
            metavar='REGEX',
            help=(
                "regex on the bag name picking its group (subject/session), as training's "
                '--group-by; default: each bag its own group'
            ),
        )
        parser.add_argument(
            '--json', type=Path, metavar='OUT', help='also write the same facts as JSON here'
        )

    def run(self, args: argparse.Namespace) -> int:
        from hybrid_fusion_ros.cli import parse_map
        from ..bags.bag import BagError
        from hybrid_fusion_ros.core.windows import WindowSpec
        from ..data.inspection import format_report
        from ..data.inspection import inspect_bags
        from ..data.recordings import expand_bags

        try:
            spec = WindowSpec(args.window_length, args.window_hop)
            facts = inspect_bags(
                expand_bags(args.bags), parse_map(args.map), args.truth, spec, args.group_by
            )
        except (BagError, ValueError) as exc:
            print(f'error: {exc}', file=sys.stderr)
            return 2
        print(format_report(facts))
        if args.json is not None:
            try:
                args.json.write_text(json.dumps(facts, indent=1))
            except OSError as exc:
                print(f'error: cannot write {args.json}: {exc}', file=sys.stderr)
                return 2
        return 0 if facts['pooled']['bags'] else 2
