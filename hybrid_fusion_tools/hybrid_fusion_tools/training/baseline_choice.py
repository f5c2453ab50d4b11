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

"""Which classical baselines a command runs (``--baseline``), without importing them: they
pull in scikit-learn, aeon and torch (``baseline.py``), which a command's listing must not."""

from __future__ import annotations

import argparse
from typing import List, Sequence

# Each baseline of baseline.py, with the key of its figures in the benchmarks' JSON and its
# printed label.
BASELINE_RESULTS = {
    'forest': ('features_rf', 'features + random forest'),
    'minirocket': ('minirocket_ridge', 'MiniRocket + ridge'),
}


def add_baseline_argument(parser: argparse.ArgumentParser) -> None:
    """``--baseline KIND ...`` of the real-data benchmarks (``baseline.py``)."""
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
    from .baseline import choose_baselines

    try:
        return choose_baselines(requested)
    except ValueError as exc:
        raise SystemExit(f'error: {exc}')
