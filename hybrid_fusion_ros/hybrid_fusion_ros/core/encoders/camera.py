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

"""2D CNN over a short clip of camera frames."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import conv_block_2d
from .base import Encoder
from .base import InputSpec
from ..preprocessing import CameraCNNConfig
from ..preprocessing import CameraPreprocessor
from ..preprocessing import select_frames
from ..windows import SensorWindow

__all__ = ['CameraCNN', 'CameraCNNConfig', 'select_frames']


class CameraCNN(Encoder):
    """Stacks ``frames`` grayscale frames of the window as channels, so the 2D CNN sees
    motion as well as appearance; four strided conv blocks, global average pooling and a
    linear projection to ``feature_dim``."""

    modality = 'camera'
    config_class = CameraCNNConfig

    def __init__(self, config: CameraCNNConfig) -> None:
        super().__init__(config)
        self.preprocessor = CameraPreprocessor(config)
        c = config.base_channels
        self.features = nn.Sequential(
            conv_block_2d(config.frames, c, stride=2),
            conv_block_2d(c, 2 * c, stride=2),
            conv_block_2d(2 * c, 4 * c, stride=2),
            conv_block_2d(4 * c, 4 * c),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.project = nn.Linear(4 * c, config.feature_dim)

    @property
    def input_spec(self) -> InputSpec:
        return self.preprocessor.input_spec

    def preprocess(self, window: SensorWindow) -> np.ndarray:
        return self.preprocessor(window)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(self.normalize(x)))
