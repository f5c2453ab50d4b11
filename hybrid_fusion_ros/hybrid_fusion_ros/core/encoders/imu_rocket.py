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

"""IMU encoder with a random-convolution front end in the manner of MiniRocket.

MiniRocket (Dempster, Schmidt and Webb, KDD 2021) describes a series by thousands of fixed
convolutions: 84 kernels of length 9 whose weights are -1 except for three taps of 2, each
applied at a range of dilations to a random sum of channels, and each output summarized by the
proportion of its values above a few biases (PPV). The biases are quantiles of the kernel's
output on training series; nothing in the front end is learned by gradient. With a ridge
classifier on top it is the strongest classical baseline this project measures on small IMU
datasets (docs/results.md section 7).

Here the same kind of features feed the LSTM fusion instead of a ridge: they are standardized
with statistics of the training windows, pass a dropout sized for small data and a linear
projection, and are joined (``hybrid``) with the CNN and window-statistics branches of
``imu_hybrid``. The LSTM then adds what a per-window classifier cannot see: the windows before.

The kernels, dilations, channel sums and paddings follow from the config (``kernel_seed``), so
they are rebuilt identically when a checkpoint is loaded. The biases and the feature statistics
depend on data: :meth:`ImuRocket.fit_data` sets them from the training windows before the first
epoch, and they are saved with the weights as buffers. Every step is a plain tensor operation
(a dilated convolution, a comparison, a weighted sum), so the encoder exports to ONNX and runs
on both backends like the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import List, Tuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .imu_hybrid import ImuHybrid
from .imu_hybrid import ImuHybridConfig

KERNEL_LENGTH = 9
# The 84 ways to place the three taps of weight 2 among the nine.
TAPS = tuple(combinations(range(KERNEL_LENGTH), 3))
NUM_KERNELS = len(TAPS)
# The golden ratio's fractional steps spread each kernel's quantiles evenly over (0, 1).
_PHI = (np.sqrt(5.0) - 1.0) / 2.0


@dataclass
class ImuRocketConfig(ImuHybridConfig):
    rocket_features: int = 2016  # PPV features: a multiple of 84 kernels (rounded down)
    max_dilations: int = 32  # dilations per kernel at the most (fewer on short windows)
    kernel_seed: int = 0  # picks the channel sums and the windows the biases come from
    rocket_dropout: float = 0.3  # on the standardized PPV features
    hybrid: bool = True  # also imu_hybrid's CNN and window-statistics branches
    # After MultiRocket (Tan, Dempster, Bergmeir and Webb, 2022): the same kernels also over
    # the window's first difference (with biases of their own), and each output also
    # summarized by the mean of its values above the bias (MPV), besides their share (PPV).
    difference: bool = False
    mpv: bool = False
    # imu_hybrid's window statistics (channel means, spread, extremes, band powers, channel
    # correlations, gravity direction) beside the random-convolution features, standardized
    # with them. The kernels sum to zero, so alone they cannot see the sensor's orientation.
    statistics: bool = False


def kernel_weights() -> np.ndarray:
    """(84, 1, 9) float32: -1 everywhere, 2 at the three taps of each kernel (their sum is
    0, so a constant offset of the input does not change the output)."""
    w = -np.ones((NUM_KERNELS, 1, KERNEL_LENGTH), dtype=np.float32)
    for k, taps in enumerate(TAPS):
        w[k, 0, list(taps)] = 2.0
    return w


def dilation_plan(length: int, features: int, max_dilations: int) -> List[Tuple[int, int]]:
    """``(dilation, biases per kernel)`` pairs: dilations spread exponentially up to the
    largest one whose kernel still fits the window, the biases shared out among them (a
    dilation hit more than once by the rounding gets that many shares)."""
    per_kernel = max(1, features // NUM_KERNELS)
    count = max(1, min(max_dilations, per_kernel))
    top = np.log2(max(1.0, (length - 1) / (KERNEL_LENGTH - 1)))
    drawn = np.floor(2.0 ** np.linspace(0.0, top, count)).astype(int)
    dilations, hits = np.unique(drawn, return_counts=True)
    shares = (hits * (per_kernel // count)).astype(int)
    shares[0] += per_kernel - int(shares.sum())
    return [(int(d), int(n)) for d, n in zip(dilations, shares) if n > 0]


class ImuRocket(ImuHybrid):
    """MiniRocket-style PPV features of the window, optionally with ``imu_hybrid``'s branches,
    projected to ``feature_dim`` (see the module docstring)."""

    config_class = ImuRocketConfig

    def __init__(self, config: ImuRocketConfig) -> None:
        super().__init__(config)
        if config.rocket_features < NUM_KERNELS:
            raise ValueError(f'rocket_features must be at least {NUM_KERNELS}')
        c, n = config.channels, config.length
        self.plan = dilation_plan(n, config.rocket_features, config.max_dilations)
        rng = np.random.default_rng(config.kernel_seed)
        sums, masks = [], []
        for i, (d, _) in enumerate(self.plan):
            # Each kernel at each dilation sees the sum of a random subset of channels, of
            # 1 to min(C, 9) channels, smaller subsets more likely (MiniRocket's draw).
            m = np.zeros((NUM_KERNELS, c), dtype=np.float32)
            for k in range(NUM_KERNELS):
                size = int(2.0 ** rng.uniform(0.0, np.log2(min(c, KERNEL_LENGTH) + 1)))
                m[k, rng.choice(c, size=max(1, min(size, c)), replace=False)] = 1.0
            sums.append(m)
            # Half the kernels (alternating) pool over the whole padded output, the other half
            # over the positions where the dilated kernel lies wholly inside the window.
            pad = (KERNEL_LENGTH - 1) * d // 2
            t = np.ones((NUM_KERNELS, n), dtype=np.float32)
            if n - 2 * pad > 0:
                for k in range(NUM_KERNELS):
                    if (i + k) % 2:
                        t[k, :pad] = 0.0
                        t[k, n - pad :] = 0.0
            masks.append(t / t.sum(axis=1, keepdims=True))
        # Laid out for few, dense operations per window: a kernel over a sum of channels is
        # one dense convolution whose weights are the kernel times the channel mask (six
        # times faster here than a channel sum followed by a depthwise convolution), one per
        # dilation; then one gather, comparison and weighted sum over all features. Feature
        # f belongs to output ``source[f]`` of the stacked convolutions (dilation-major).
        source = np.concatenate(
            [
                i * NUM_KERNELS + np.repeat(np.arange(NUM_KERNELS), nb)
                for i, (_, nb) in enumerate(self.plan)
            ]
        )
        weights = np.concatenate([m[:, :, None] * kernel_weights() for m in sums])
        self.register_buffer('kernels', torch.from_numpy(weights), persistent=False)
        self.register_buffer('source', torch.from_numpy(source), persistent=False)
        self.register_buffer(
            'time_masks', torch.from_numpy(np.concatenate(masks)[source]), persistent=False
        )
        per_series = len(source)
        series = 2 if config.difference else 1
        dim = per_series * series * (2 if config.mpv else 1)
        if config.statistics:
            with torch.no_grad():
                dim += self.window_statistics(torch.zeros(1, c, n)).shape[1]
        # Data-dependent, so saved with the weights: fit_data sets them.
        self.register_buffer('rocket_bias', torch.zeros(per_series * series))
        self.register_buffer('rocket_mean', torch.zeros(dim))
        self.register_buffer('rocket_std', torch.ones(dim))
        self.rocket_drop = nn.Dropout(config.rocket_dropout)
        width = dim
        if config.hybrid:
            width += 4 * config.base_channels + config.stats_hidden
        else:  # no parameter may go without a gradient (DDP), so the branches go
            del self.features, self.stats_norm, self.stats
        self.project = nn.Linear(width, config.feature_dim)

    @property
    def rocket_dim(self) -> int:
        """How many features the fixed front end gives (with ``statistics``, those too)."""
        return int(self.rocket_mean.numel())

    @property
    def per_series(self) -> int:
        """Features of one series under one pooling: kernels x biases at every dilation."""
        return int(self.source.numel())

    def series(self, x: torch.Tensor) -> List[torch.Tensor]:
        """The series the kernels run over: the window, and with ``difference`` its first
        difference (a zero first, to keep the length)."""
        if not self.config.difference:
            return [x]
        return [x, F.pad(x[..., 1:] - x[..., :-1], (1, 0))]

    def convolve_at(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """(B, C, L) -> (B, 84, L): every kernel at the plan's dilation ``i`` over its
        channel sum."""
        d = self.plan[i][0]
        weight = self.kernels[i * NUM_KERNELS : (i + 1) * NUM_KERNELS]
        return F.conv1d(x, weight, padding=(KERNEL_LENGTH - 1) * d // 2, dilation=d)

    def convolve(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) -> (B, 84 * dilations, L): every kernel at every dilation over its
        channel sum, dilation-major."""
        return torch.cat([self.convolve_at(x, i) for i in range(len(self.plan))], dim=1)

    def ppv(self, x: torch.Tensor, part: int = 0) -> torch.Tensor:
        """(B, C, L) series -> (B, per_series) proportions of positive values, against the
        biases of series ``part`` (0: the window itself)."""
        return self.pool(self.convolve(x)[:, self.source], part)[0]

    def pool(self, conv: torch.Tensor, part: int) -> List[torch.Tensor]:
        """(B, per_series, L) outputs -> ``[PPV]``, or ``[PPV, MPV]`` with ``mpv``, each
        (B, per_series)."""
        n = self.per_series
        bias = self.rocket_bias[part * n : (part + 1) * n].unsqueeze(-1)
        above = (conv > bias).to(conv.dtype)
        ppv = (above * self.time_masks).sum(dim=2)
        if not self.config.mpv:
            return [ppv]
        inside = (self.time_masks > 0).to(conv.dtype)
        count = (above * inside).sum(dim=2).clamp(min=1.0)
        return [ppv, (F.relu(conv - bias) * inside).sum(dim=2) / count]

    def rocket(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) normalized window -> (B, rocket_dim): PPV (and MPV) of each series."""
        out = []
        for part, s in enumerate(self.series(x)):
            out += self.pool(self.convolve(s)[:, self.source], part)
        return torch.cat(out, dim=1)

    @torch.no_grad()
    def fit_data(self, windows: np.ndarray, seed: int = 0) -> None:
        """Biases and feature statistics from the training windows ``(N, C, L)``.

        Each kernel's biases are quantiles of its output on one training window drawn at
        random (seeded by ``kernel_seed`` and ``seed``), at low-discrepancy quantile levels; the
        PPV features of (up to 4096 of) the windows then give the standardization."""
        raw = torch.as_tensor(np.asarray(windows), dtype=torch.float32)
        x = self.normalize(raw)
        if x.dim() != 3 or x.shape[0] == 0:
            raise ValueError(f'fit_data takes windows of shape (N, C, L); got {tuple(x.shape)}')
        rng = np.random.default_rng([self.config.kernel_seed, seed])
        biases = []
        for s in self.series(x):
            for i, (_, nb) in enumerate(self.plan):
                pick = torch.from_numpy(rng.integers(0, x.shape[0], size=NUM_KERNELS))
                conv = self.convolve_at(s[pick], i)  # (84 windows, 84 kernels, L)
                own = conv[torch.arange(NUM_KERNELS), torch.arange(NUM_KERNELS)]  # (84, L)
                levels = torch.tensor(((np.arange(nb) + 1) * _PHI) % 1.0, dtype=torch.float32)
                biases.append(torch.quantile(own, levels, dim=1).T.reshape(-1))
        self.rocket_bias.copy_(torch.cat(biases))
        sample = raw[torch.from_numpy(rng.permutation(x.shape[0])[:4096])]
        feats = torch.cat([self.unscaled_front(part) for part in sample.split(256)])
        self.rocket_mean.copy_(feats.mean(dim=0))
        # A floor on the spread: a feature nearly constant on the training windows must not
        # be blown up on the test windows.
        self.rocket_std.copy_(torch.sqrt(feats.var(dim=0, unbiased=False) + 1e-4))

    @property
    def fixed_front(self) -> bool:
        # The CNN branch learns from the window itself, so only the PPV-only encoder splits.
        return not self.config.hybrid

    def unscaled_front(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) window -> (B, rocket_dim) features before standardization."""
        feats = self.rocket(self.normalize(x))
        if not self.config.statistics:
            return feats
        return torch.cat([feats, self.window_statistics(x)], dim=1)

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, L) window -> (B, rocket_dim) standardized features; nothing learned."""
        return (self.unscaled_front(x) - self.rocket_mean) / self.rocket_std

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.project(self.rocket_drop(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.config.hybrid:
            return self.head(self.front(x))
        h = self.features(self.normalize(x))
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        stats = self.stats(self.stats_norm(self.window_statistics(x)))
        learned = self.drop(torch.cat([pooled, stats], dim=1))
        return self.project(torch.cat([self.rocket_drop(self.front(x)), learned], dim=1))
