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

"""1D CNN over a window of accelerometer + gyroscope samples."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import conv_block_1d
from .base import Encoder
from .base import InputSpec
from ..preprocessing import GRAVITY
from ..preprocessing import ImuCNN1dConfig
from ..preprocessing import ImuPreprocessor
from ..windows import SensorWindow

__all__ = ['GRAVITY', 'ImuCNN1d', 'ImuCNN1dConfig']


class ImuCNN1d(Encoder):
    """Resamples the window's samples onto ``length`` evenly spaced instants (so the
    network does not depend on the IMU's rate or jitter), scales them, and runs three
    1D conv blocks with average + max pooling over time."""

    modality = 'imu'
    config_class = ImuCNN1dConfig

    def __init__(self, config: ImuCNN1dConfig) -> None:
        super().__init__(config)
        self.preprocessor = ImuPreprocessor(config)
        c = config.base_channels
        self.features = nn.Sequential(
            conv_block_1d(config.channels, c, 5),
            conv_block_1d(c, 2 * c, 5, stride=2),
            conv_block_1d(2 * c, 2 * c, 3, stride=2),
        )
        self.project = nn.Linear(4 * c, config.feature_dim)

    @property
    def input_spec(self) -> InputSpec:
        return self.preprocessor.input_spec

    def preprocess(self, window: SensorWindow) -> np.ndarray:
        return self.preprocessor(window)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(self.normalize(x))
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.project(pooled)
