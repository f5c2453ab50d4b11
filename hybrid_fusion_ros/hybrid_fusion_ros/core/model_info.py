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

"""What a running model is, whichever backend loaded it: its id, classes, window, inputs,
state contract and calibration; and whether another model can replace it in a running graph.

The torch backend reads it from the checkpoint (core/checkpoint.py), the ONNX backend from the
bundle's manifest (core/onnx_backend.py), so that a node on either backend describes the same
checkpoint the same way: the fusion node publishes it on ``~/model_info`` and uses the id to
fuse only features of its own model.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
import math
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

from .inputs import ModelInput
from .windows import WindowSpec


@dataclass(frozen=True)
class ModelDescription:
    """A loaded model as the graph sees it. ``model_id`` is '' for an ONNX bundle exported
    before checkpoints had ids (its nodes then check nothing)."""

    model_id: str
    classes: Tuple[str, ...]
    window: WindowSpec
    inputs: Tuple[ModelInput, ...]
    checkpoint: str = ''
    runtime: Mapping[str, Any] = field(default_factory=dict)  # core/contract.py's contract
    calibration: Mapping[str, Any] = field(default_factory=dict)  # core/calibration.py's

    @classmethod
    def of(
        cls,
        model_id: str,
        classes: Sequence[str],
        window: WindowSpec,
        inputs: Sequence[ModelInput],
        checkpoint: Any = '',
        runtime: Optional[Mapping[str, Any]] = None,
        calibration: Optional[Mapping[str, Any]] = None,
    ) -> 'ModelDescription':
        return cls(
            str(model_id or ''),
            tuple(classes),
            window,
            tuple(inputs),
            str(checkpoint or ''),
            dict(runtime or {}),
            dict(calibration or {}),
        )

    @property
    def input_names(self) -> Tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    def swap_refusal(self, new: 'ModelDescription') -> Optional[str]:
        """Why ``new`` cannot replace this model in a running graph, or None.

        The graph's nodes, topics and windowing stay as they are in a swap: ``new`` must have
        the same inputs (names, in the same order, and sensor types) and the same window
        length and hop. Its classes, encoders' weights, calibration and state contract may all
        differ.
        """
        if new.input_names != self.input_names:
            return (
                f'its inputs {list(new.input_names)} are not those of the running graph '
                f'{list(self.input_names)}: restart the graph to change inputs'
            )
        for old_input, new_input in zip(self.inputs, new.inputs):
            if old_input.sensor_type != new_input.sensor_type:
                return (
                    f"input '{new_input.name}' is a {new_input.sensor_type} in it and a "
                    f'{old_input.sensor_type} in the running graph'
                )
        a, b = self.window, new.window
        if not (math.isclose(a.length, b.length) and math.isclose(a.hop, b.hop)):
            return (
                f'its windows ({b.length:g} s every {b.hop:g} s) are not those of the running '
                f'graph ({a.length:g} s every {a.hop:g} s): restart the graph to change them'
            )
        return None

    def to_dict(self) -> Dict[str, Any]:
        return {
            'model_id': self.model_id,
            'checkpoint': self.checkpoint,
            'classes': list(self.classes),
            'window': {'length': self.window.length, 'hop': self.window.hop},
            'inputs': [i.to_dict() for i in self.inputs],
            'calibration': dict(self.calibration),
        }


def next_boundary(stamp: int, hop: float, margin: float) -> int:
    """The first window end on the grid (``k * hop`` s, core/windows.py) at least ``margin``
    seconds after ``stamp`` (ns): where the nodes of a graph switch models together."""
    hop_ns = int(round(hop * 1e9))
    target = stamp + int(round(margin * 1e9))
    return -(-target // hop_ns) * hop_ns


__all__ = ['ModelDescription', 'next_boundary']
