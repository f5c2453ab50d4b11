"""1D CNN over a window of accelerometer + gyroscope samples."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import numpy as np
import torch
from torch import nn

from ..windows import SensorWindow
from .base import Encoder, InputSpec, conv_block_1d

GRAVITY = 9.80665


@dataclass
class ImuCNN1dConfig:
    length: int = 64            # samples per window after resampling onto a uniform grid
    channels: int = 6           # ax, ay, az (m/s^2), gx, gy, gz (rad/s); 3: an IMU with no gyroscope
    base_channels: int = 32
    feature_dim: int = 64
    acc_scale: float = GRAVITY  # inputs are divided by these, so values are of order 1
    gyro_scale: float = 2.0
    expected_rate_hz: float = 100.0
    norm_mean: Optional[List[float]] = None   # per channel, from the training split (None: scales only)
    norm_std: Optional[List[float]] = None


class ImuCNN1d(Encoder):
    """Resamples the window's samples onto ``length`` evenly spaced instants (so the
    network does not depend on the IMU's rate or jitter), scales them, and runs three
    1D conv blocks with average + max pooling over time."""

    modality = 'imu'
    config_class = ImuCNN1dConfig

    def __init__(self, config: ImuCNN1dConfig) -> None:
        super().__init__(config)
        c = config.base_channels
        self.features = nn.Sequential(
            conv_block_1d(config.channels, c, 5),
            conv_block_1d(c, 2 * c, 5, stride=2),
            conv_block_1d(2 * c, 2 * c, 3, stride=2),
        )
        self.project = nn.Linear(4 * c, config.feature_dim)

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec('imu', ('sensor_msgs/msg/Imu',), (self.config.channels, self.config.length),
                         self.config.expected_rate_hz)

    def preprocess(self, window: SensorWindow) -> np.ndarray:
        c = self.config
        samples = np.asarray(window.samples, dtype=np.float64).reshape(len(window.stamps), -1)
        if samples.shape[0] == 0:
            raise ValueError('IMU window has no samples')
        if samples.shape[1] < c.channels:
            raise ValueError(f'IMU samples have {samples.shape[1]} channels, expected {c.channels}')
        # Rows are ax, ay, az, gx, gy, gz; a part the IMU does not provide (REP-145) is NaN.
        samples = samples[:, :c.channels]
        if not np.isfinite(samples).all():
            raise ValueError('the IMU provides no gyroscope (angular_velocity_covariance[0] = -1), but this '
                             'encoder was trained with 6 channels' if c.channels > 3 else
                             'the IMU provides no accelerometer (linear_acceleration_covariance[0] = -1)')
        grid = window.start + (np.arange(c.length) + 0.5) * (window.length / c.length)
        # Linear interpolation of every channel at once: find each grid instant's neighbours.
        stamps = window.stamps
        if len(stamps) == 1:
            resampled = np.repeat(samples, c.length, axis=0)
        else:
            hi = np.clip(np.searchsorted(stamps, grid), 1, len(stamps) - 1)
            lo = hi - 1
            span = stamps[hi] - stamps[lo]
            w = np.clip((grid - stamps[lo]) / np.where(span > 0, span, 1.0), 0.0, 1.0)[:, None]
            resampled = samples[lo] * (1.0 - w) + samples[hi] * w
        scale = np.array([c.acc_scale] * 3 + [c.gyro_scale] * (c.channels - 3))
        return (resampled / scale).T.astype(np.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(self.normalize(x))
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.project(pooled)
