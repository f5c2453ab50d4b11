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

"""What a node tells the operator on ``/diagnostics``, as plain data, with no ROS in it.

The core runtimes decide each diagnostic task's level, message and values
(:class:`Status`); the nodes turn a status into a ``diagnostic_msgs/DiagnosticStatus``
(diagnostics.py), naming it ``<node>: <task>`` as diagnostic_updater does. The levels are
``DiagnosticStatus``'s numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Tuple

OK, WARN, ERROR, STALE = 0, 1, 2, 3


@dataclass(frozen=True)
class Status:
    """One diagnostic task: ``task`` is its name after ``'<node>: '``."""

    task: str
    hardware_id: str
    level: int
    message: str
    values: Mapping[str, object]


def freshness(
    count: int,
    age: float,
    warn_after: float,
    error_after: float = float('inf'),
    what: str = 'input',
) -> Tuple[int, str]:
    """Level and message of an input by the age (s) of its last message: WARN before the
    first one or after ``warn_after``, ERROR after ``error_after``."""
    if count == 0:
        return WARN, f'no {what} yet'
    if age > error_after:
        return ERROR, f'no {what} for {age:.1f}s'
    if age > warn_after:
        return WARN, f'{what} stale for {age:.1f}s'
    return OK, 'receiving'


def latency_values(prefix: str, pct: Dict[str, float]) -> Dict[str, object]:
    """Latency percentiles as status values: ``'<prefix> p95 (ms)'``."""
    return {f'{prefix} {k} (ms)': v for k, v in pct.items()}
