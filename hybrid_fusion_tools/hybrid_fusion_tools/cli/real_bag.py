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

"""``hybrid-fusion real-bag``: align separately recorded REAL camera, IMU and audio streams
into one bag (see real_data.py for what it is and is not)."""

from __future__ import annotations

import argparse
from pathlib import Path

from hybrid_fusion_ros.cli import Command
from hybrid_fusion_ros.core.paths import cache_root


def default_source_dir() -> Path:
    """Where scripts/fetch_real_streams.sh puts the sources."""
    return cache_root() / 'real'


class RealBagCommand(Command):
    help = 'build a bag from real, separately recorded camera/IMU/audio streams (no ground truth)'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            'output', type=Path, help='bag to create (a directory; .bag with --storage ros1)'
        )
        parser.add_argument('--video', type=Path, default=default_source_dir() / 'vtest.avi')
        parser.add_argument('--wav', type=Path, default=default_source_dir() / 'conversation.wav')
        parser.add_argument(
            '--imu-recording', type=int, help='seglearn watch recording index (default: longest)'
        )
        parser.add_argument(
            '--seconds', type=float, default=30.0, help='at most this long (the wav is 30 s)'
        )
        parser.add_argument('--storage', choices=['mcap', 'sqlite3', 'ros1'], default='mcap')

    def run(self, args: argparse.Namespace) -> int:
        from ..data.real_data import build_real_bag
        from ..data.real_data import RealDataError

        if args.output.exists():
            raise SystemExit(f'error: {args.output} exists; choose a new path')
        for source in (args.video, args.wav):
            if not source.is_file():
                raise SystemExit(
                    f'error: {source}: no such file; fetch the sources with '
                    'scripts/fetch_real_streams.sh or pass --video/--wav'
                )
        try:
            path, note = build_real_bag(
                args.output, args.video, args.wav, args.imu_recording, args.seconds, args.storage
            )
        except RealDataError as exc:
            raise SystemExit(f'error: {exc}')
        print(f'wrote {path}\n  {note}')
        return 0
