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

"""Log-mel spectrogram + 2D CNN over a window of audio."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import conv_block_2d
from .base import Encoder
from .base import InputSpec
from ..preprocessing import AudioLogMelCNNConfig
from ..preprocessing import AudioPreprocessor
from ..preprocessing import hz_to_mel
from ..preprocessing import log_mel
from ..preprocessing import mel_filterbank
from ..preprocessing import mel_to_hz
from ..windows import SensorWindow

__all__ = [
    'AudioLogMelCNN',
    'AudioLogMelCNNConfig',
    'hz_to_mel',
    'log_mel',
    'mel_filterbank',
    'mel_to_hz',
]


class AudioLogMelCNN(Encoder):
    """Places the window's samples on a fixed-length timeline (gaps stay silent), computes a
    log-mel spectrogram in numpy and runs a small 2D CNN over it."""

    modality = 'audio'
    config_class = AudioLogMelCNNConfig

    def __init__(self, config: AudioLogMelCNNConfig) -> None:
        super().__init__(config)
        self.preprocessor = AudioPreprocessor(config)
        c = config.base_channels
        self.features = nn.Sequential(
            conv_block_2d(1, c, stride=2),
            conv_block_2d(c, 2 * c, stride=2),
            conv_block_2d(2 * c, 4 * c, stride=2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.project = nn.Linear(4 * c, config.feature_dim)

    @property
    def filterbank(self) -> np.ndarray:
        return self.preprocessor.filterbank

    @property
    def num_samples(self) -> int:
        return self.preprocessor.num_samples

    @property
    def input_spec(self) -> InputSpec:
        return self.preprocessor.input_spec

    def preprocess(self, window: SensorWindow) -> np.ndarray:
        return self.preprocessor(window)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(self.normalize(x)))
