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


"""Validation as deployed: recordings run window by window through the fusion node's own
policy (:class:`~.fusion_runtime.FusionRuntime`, early mode, the torch stepper), with the state
carried and reset as the checkpoint's contract says. The figure training prints is this one,
not a score of chunks from a fresh state."""

from __future__ import annotations

from typing import List, Sequence

import numpy as np
import torch

from hybrid_fusion_ros.core.contract import StateContract
from hybrid_fusion_ros.core.fusion_backend import TorchFusionStepper
from hybrid_fusion_ros.core.fusion_runtime import Feature
from hybrid_fusion_ros.core.fusion_runtime import FusionRuntime
from hybrid_fusion_ros.core.fusion_runtime import FusionSettings
from hybrid_fusion_ros.core.fusion_runtime import NS_PER_S
from ..data.dataset import SequenceData


@torch.no_grad()
def _features(model, seq: SequenceData, batch: int = 256) -> List[np.ndarray]:
    out = []
    for m in model.fusion.modalities:
        x = torch.from_numpy(np.ascontiguousarray(seq.inputs[m]))
        out.append(
            torch.cat([model.encoders[m](part) for part in x.split(batch)]).numpy()
            if len(x)
            else np.zeros((0, model.fusion.config.feature_dims[len(out)]), np.float32)
        )
    return out


def stream_probabilities(
    model, recording: Sequence[SequenceData], classes: Sequence[str], contract: StateContract
) -> np.ndarray:
    """Probabilities ``(T, C)`` for the windows of one recording (its sequences, in time
    order, concatenated), as the fusion node publishes them: each window's features go into a
    fresh :class:`FusionRuntime` one input at a time, stamped with the window's end; the
    runtime matches them, steps the model and resets its state after a gap longer than
    ``contract.reset_after``. A window that got no label has a row of NaN."""
    model.eval()
    seqs = sorted((s for s in recording if len(s)), key=lambda s: float(s.ends[0]))
    total = sum(len(s) for s in seqs)
    probs = np.full((total, len(classes)), np.nan, dtype=np.float32)
    if not seqs:
        return probs
    runtime = FusionRuntime(
        {'primary': TorchFusionStepper(model.fusion)},
        classes,
        FusionSettings(reset_after=float(contract.reset_after)),
    )
    modalities = model.fusion.modalities
    row, index = 0, {}
    for seq in seqs:
        feats = _features(model, seq)
        for k, end in enumerate(seq.ends):
            stamp = int(round(float(end) * NS_PER_S))
            index[stamp] = row + k
            for i, m in enumerate(modalities):
                feature = Feature(feats[i][k], stamp, stamp, m)
                for record in runtime.on_feature(m, feature, stamp):
                    probs[index[record.stamp]] = record.probabilities
        row += len(seq)
    return probs


def stream_predictions(
    model,
    recordings: Sequence[Sequence[SequenceData]],
    classes: Sequence[str],
    contract: StateContract,
) -> np.ndarray:
    """Concatenated probabilities of several recordings (each from a fresh runtime)."""
    parts = [stream_probabilities(model, r, classes, contract) for r in recordings]
    return np.concatenate(parts) if parts else np.zeros((0, len(classes)), np.float32)
