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

"""IMU encoder with two branches: the 1D CNN of ``imu_cnn1d`` and the window statistics a
classical activity recognizer is built on, computed inside the network.

On small real datasets (a few subjects, a hundred recordings) a random forest on per-window
statistics beats a plain 1D CNN: mean, spread and range of each axis, the direction of
gravity, how much each axis moves between samples, how its power spreads over frequency and
how the axes co-vary are exactly what separates one exercise from another, and a CNN has to
learn them from few examples. Here they are computed from the same preprocessed window (so the
same numpy ``preprocess`` serves both backends) with fixed operations (mean, min, max, a DFT as
a matrix product), standardized by batch norm and joined with the CNN's pooled features.
Everything is a plain tensor operation, so the encoder exports to ONNX like the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .imu import ImuCNN1d
from .imu import ImuCNN1dConfig


@dataclass
class ImuHybridConfig(ImuCNN1dConfig):
    spectrum_bands: int = 8  # power spectrum of each channel pooled into this many bands
    stats_hidden: int = 64  # width of the statistics branch
    dropout: float = 0.2  # before the projection, sized for small datasets


def _band_matrix(length: int, bands: int) -> np.ndarray:
    """(freqs, bands) averaging matrix: rFFT bins 1..N/2 (DC left out) split into ``bands``
    contiguous groups of near-equal size."""
    freqs = length // 2 + 1
    edges = np.linspace(1, freqs, bands + 1).round().astype(int)
    out = np.zeros((freqs, bands), dtype=np.float32)
    for b in range(bands):
        lo, hi = edges[b], max(edges[b + 1], edges[b] + 1)
        out[lo:hi, b] = 1.0 / (hi - lo)
    return out


class ImuHybrid(ImuCNN1d):
    """``imu_cnn1d``'s network plus a window-statistics branch (see the module docstring)."""

    config_class = ImuHybridConfig

    def __init__(self, config: ImuHybridConfig) -> None:
        super().__init__(config)
        c, n = config.channels, config.length
        t = np.arange(n)[:, None] * np.arange(n // 2 + 1)[None, :] * (2 * np.pi / n)
        self.register_buffer(
            'dft_cos', torch.from_numpy(np.cos(t).astype(np.float32)), persistent=False
        )
        self.register_buffer(
            'dft_sin', torch.from_numpy(np.sin(t).astype(np.float32)), persistent=False
        )
        self.register_buffer(
            'bands', torch.from_numpy(_band_matrix(n, config.spectrum_bands)), persistent=False
        )
        iu = np.triu_indices(c, k=1)
        self.register_buffer(
            'pairs', torch.from_numpy(np.stack(iu).astype(np.int64)), persistent=False
        )
        stats_dim = c * (7 + config.spectrum_bands) + len(iu[0]) + 3
        self.stats_norm = nn.BatchNorm1d(stats_dim)
        self.stats = nn.Sequential(
            nn.Linear(stats_dim, config.stats_hidden), nn.ReLU(inplace=True)
        )
        self.drop = nn.Dropout(config.dropout)
        self.project = nn.Linear(
            4 * config.base_channels + config.stats_hidden, config.feature_dim
        )

    def window_statistics(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) scaled window -> (B, S) statistics."""
        mean = x.mean(dim=2)
        centred = x - mean.unsqueeze(2)
        var = (centred * centred).mean(dim=2)
        std = torch.sqrt(var + 1e-8)
        rms = torch.sqrt((x * x).mean(dim=2) + 1e-8)
        moves = (x[:, :, 1:] - x[:, :, :-1]).abs().mean(dim=2)
        re = torch.matmul(centred, self.dft_cos)
        im = torch.matmul(centred, self.dft_sin)
        power = torch.matmul(re * re + im * im, self.bands)  # (B, C, bands)
        share = power / (power.sum(dim=2, keepdim=True) + 1e-8)
        corr = (centred[:, self.pairs[0]] * centred[:, self.pairs[1]]).mean(dim=2) / (
            std[:, self.pairs[0]] * std[:, self.pairs[1]]
        )
        acc = mean[:, :3]
        gravity = acc / torch.sqrt((acc * acc).sum(dim=1, keepdim=True) + 1e-8)
        return torch.cat(
            [
                mean,
                std,
                x.amin(dim=2),
                x.amax(dim=2),
                rms,
                moves,
                torch.log(var + 1e-6),
                share.flatten(1),
                corr,
                gravity,
            ],
            dim=1,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(self.normalize(x))
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        stats = self.stats(self.stats_norm(self.window_statistics(x)))
        return self.project(self.drop(torch.cat([pooled, stats], dim=1)))
