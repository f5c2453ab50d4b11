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

"""The torch backend of the fusion runtime: core/fusion.py's ``FusionModel`` behind the stepper
interface of core/fusion_runtime.py (``step``, and ``late_update`` / ``decide`` for the late
model). Another backend implements the same three methods without torch."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .checkpoint import Checkpoint
from .fusion import FusionModel
from .fusion_runtime import StepResult
from .model_info import ModelDescription


def _batch_of_one(
    features: Sequence[np.ndarray], mask: np.ndarray
) -> Tuple[List[torch.Tensor], torch.Tensor]:
    feats = [torch.from_numpy(np.asarray(f, dtype=np.float32)).reshape(1, -1) for f in features]
    return feats, torch.from_numpy(np.asarray(mask, dtype=np.float32)).reshape(1, -1)


class TorchFusionStepper:
    """One ``FusionModel`` (in eval mode) as a ``FusionStepper`` / ``LateFusionStepper``;
    the state is the model's own LSTM state."""

    def __init__(self, model: FusionModel) -> None:
        self.model = model.eval()
        self.modalities = model.modalities
        self.feature_dims = list(model.config.feature_dims)

    def step(self, features: Sequence[np.ndarray], mask: np.ndarray, state: Any) -> StepResult:
        feats, mask_t = _batch_of_one(features, mask)
        with torch.no_grad():
            out = self.model.step(feats, mask_t, state)
        weights = None if out.modality_weights is None else out.modality_weights[0].numpy()
        return StepResult(out.logits[0].numpy(), weights, out.state)

    def late_update(self, features: Sequence[np.ndarray], mask: np.ndarray, state: Any) -> Any:
        return self.step(features, mask, state).state

    def decide(self, state: Any, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            logp, weights = self.model.decide(state, _batch_of_one([], mask)[1])
        return logp[0].numpy(), weights[0].numpy()


def load_torch_steppers(
    checkpoint: Optional[str] = None, threads: int = 1
) -> Tuple[List[str], Dict[str, TorchFusionStepper]]:
    """A checkpoint's class names and one stepper per fusion model, the primary first
    (``None`` or '': the packaged checkpoint). Raises ``CheckpointError``."""
    return load_torch_fusion(checkpoint, threads)[:2]


def describe(ckpt: Checkpoint) -> ModelDescription:
    """What the graph needs to know of a loaded checkpoint (core/model_info.py)."""
    return ModelDescription.of(
        ckpt.model_id,
        ckpt.classes,
        ckpt.window,
        ckpt.inputs,
        ckpt.path or '',
        ckpt.runtime,
        ckpt.calibration,
    )


def load_torch_fusion(
    checkpoint: Optional[str] = None, threads: int = 1
) -> Tuple[List[str], Dict[str, TorchFusionStepper], ModelDescription]:
    """:func:`load_torch_steppers` and the model's description (its id, state contract
    and calibration among it)."""
    torch.set_num_threads(max(1, int(threads)))
    ckpt = Checkpoint.load(checkpoint or None)
    steppers = {s: TorchFusionStepper(ckpt.build_fusion(s)) for s in ckpt.fusion_strategies}
    return ckpt.classes, steppers, describe(ckpt)
