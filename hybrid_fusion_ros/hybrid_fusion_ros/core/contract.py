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

"""How the fusion node carries, resets and masks the LSTM state: part of the model.

Training decides it from the data, records it in the checkpoint (``runtime`` section) and
trains under it; the fusion node applies it unless its ``reset_after`` parameter is set to a
value of its own (>= 0). The one rule both sides share: the state starts fresh when two
consecutive fused windows are more than ``reset_after`` seconds apart (the runtime's gap
check), so training cuts its streams exactly where the node will reset, and runs each stream
with the state carried from its first window to its last.

ROS-free, torch-free: the ONNX-only robot reads the contract from the bundle's manifest.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence

import numpy as np

# The runtime's default (core/fusion_runtime.py FusionSettings.reset_after) for recordings
# without pauses of their own, and for checkpoints written before the contract existed.
DEFAULT_RESET_AFTER = 5.0


@dataclass(frozen=True)
class StateContract:
    """``reset_after``: seconds between fused windows after which the state starts fresh;
    ``why``: one line on how training chose it."""

    reset_after: float = DEFAULT_RESET_AFTER
    why: str = 'the runtime default (no contract in the checkpoint)'

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Optional[Mapping[str, Any]]) -> 'StateContract':
        if not d:
            return cls()
        return cls(float(d.get('reset_after', DEFAULT_RESET_AFTER)), str(d.get('why', '')))


def derive_contract(
    ends: Sequence[np.ndarray], hop: float, segments: int
) -> StateContract:
    """The contract for recordings whose aligned windows end at ``ends`` (one array per
    recording) on a grid of ``hop`` seconds, labelled in ``segments`` intervals in all.

    A break is a step between consecutive windows longer than 1.5 hops (a window or more
    missing: the sensors were silent, or stopped between two takes). When the breaks are the
    data's own structure (at least one per two labelled segments: takes recorded one after
    another, with pauses between them), the state resets at every one of them: each take is
    trained from a fresh state, and the node resets at the same pauses. Otherwise (continuous
    sessions, with a dropout here and there) the state is carried across the whole session
    and resets only after a silence longer than the runtime default."""
    steps: List[np.ndarray] = [np.diff(np.asarray(e, dtype=np.float64)) for e in ends]
    gaps = np.concatenate(steps) if steps else np.empty(0)
    breaks = gaps[gaps > 1.5 * hop]
    if breaks.size and breaks.size * 2 >= max(1, segments):
        # Below the shortest break, so every take starts fresh; above a hop and a quarter, so
        # consecutive windows never reset.
        reset_after = round(max(1.25 * hop, 0.9 * float(breaks.min())), 3)
        return StateContract(
            reset_after,
            f'{breaks.size} pauses between the {segments} labelled segments (shortest'
            f' {breaks.min():.2f} s between windows): the state starts fresh after'
            f' {reset_after:g} s without a window, as each take was recorded',
        )
    return StateContract(
        DEFAULT_RESET_AFTER,
        f'continuous recordings ({breaks.size} breaks for {segments} labelled segments): the'
        f' state is carried across a whole session, reset after {DEFAULT_RESET_AFTER:g} s'
        ' without a window',
    )


def split_streams(ends: np.ndarray, reset_after: float) -> List[slice]:
    """The runs of ``ends`` the fusion node steps without a reset: cut wherever consecutive
    windows are more than ``reset_after`` seconds apart."""
    ends = np.asarray(ends, dtype=np.float64)
    if ends.size == 0:
        return []
    cuts = np.flatnonzero(np.diff(ends) > reset_after) + 1
    bounds = [0, *cuts.tolist(), int(ends.size)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]
