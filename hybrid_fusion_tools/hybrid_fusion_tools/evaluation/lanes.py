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

"""How ``hybrid-fusion eval --jobs`` shares bags out between node graphs that replay at the
same time: one graph per lane, each lane a process of its own on a ROS domain of its own.

A bag comes out the same in any lane: in fast mode every node starts afresh for each bag
(``runner.replay_shifts``), so its windows and labels are those of a replay of it alone."""

from __future__ import annotations

import os
from typing import List, Optional, Sequence

# Cores one graph keeps busy while it replays: its encoder and fusion processes and the
# evaluator's replayer (measured 1.7 on a 2-core machine with the demo bag).
CORES_PER_GRAPH = 2
# The ROS domain IDs whose DDS ports stay clear of the ephemeral range on Linux (0..101).
MAX_DOMAIN_ID = 101


def job_count(requested: int, bags: int, realtime: bool) -> int:
    """Node graphs replaying at the same time: ``requested`` (0: enough to use every CPU
    core this process may use, ``CORES_PER_GRAPH`` each), at most one per bag. Real-time
    replay keeps one: its drops and latencies are those of a graph that has the machine to
    itself."""
    if realtime or bags < 2:
        return 1
    if requested <= 0:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
        requested = cores // CORES_PER_GRAPH
    return max(1, min(requested, bags))


def assign_lanes(seconds: Sequence[float], jobs: int) -> List[List[int]]:
    """Bag indices per lane: the longest bags first, each to the lane with the least
    recorded time so far; within a lane the bags keep their given order. No empty lane."""
    lanes: List[List[int]] = [[] for _ in range(max(1, min(jobs, len(seconds))))]
    load = [0.0] * len(lanes)
    for i in sorted(range(len(seconds)), key=lambda i: (-seconds[i], i)):
        k = min(range(len(lanes)), key=lambda k: (load[k], k))
        lanes[k].append(i)
        load[k] += seconds[i]
    return [sorted(lane) for lane in lanes if lane]


def lane_domains(lanes: int, base: Optional[str]) -> List[int]:
    """A ROS domain per lane: the first is this process's own (``ROS_DOMAIN_ID``, default
    0), the others the ones after it, wrapping around below ``MAX_DOMAIN_ID``."""
    try:
        first = int(base) if base else 0
    except ValueError:
        first = 0
    if not 0 <= first <= MAX_DOMAIN_ID:
        first = 0
    if lanes > MAX_DOMAIN_ID + 1:
        raise ValueError(f'at most {MAX_DOMAIN_ID + 1} node graphs at a time, not {lanes}')
    return [(first + k) % (MAX_DOMAIN_ID + 1) for k in range(lanes)]
