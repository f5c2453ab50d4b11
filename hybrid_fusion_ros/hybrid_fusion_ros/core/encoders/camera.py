"""2D CNN over a short clip of camera frames."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

import cv2
import numpy as np
import torch
from torch import nn

from ..windows import SensorWindow
from .base import Encoder, InputSpec, conv_block_2d


@dataclass
class CameraCNNConfig:
    frames: int = 4            # frames sampled evenly across the window, stacked as channels
    height: int = 48           # network input size; frames are resized (aspect kept by default)
    width: int = 64
    base_channels: int = 16
    feature_dim: int = 64
    expected_rate_hz: float = 15.0
    depth: bool = False        # a depth camera (frames in metres) rather than colour
    norm_mean: Optional[List[float]] = None   # per stacked frame, from the training split
    norm_std: Optional[List[float]] = None


def select_frames(stamps: np.ndarray, start: float, end: float, count: int) -> np.ndarray:
    """Indices of the frames nearest to ``count`` instants spread evenly over [start, end)."""
    targets = start + (np.arange(count) + 0.5) * (end - start) / count
    right = np.clip(np.searchsorted(stamps, targets), 1, len(stamps) - 1) if len(stamps) > 1 \
        else np.zeros(count, dtype=np.int64)
    if len(stamps) > 1:
        left = right - 1
        right = np.where(np.abs(stamps[right] - targets) < np.abs(stamps[left] - targets), right, left)
    return right


class CameraCNN(Encoder):
    """Stacks ``frames`` grayscale frames of the window as channels, so the 2D CNN sees
    motion as well as appearance; four strided conv blocks, global average pooling and a
    linear projection to ``feature_dim``."""

    modality = 'camera'
    config_class = CameraCNNConfig

    def __init__(self, config: CameraCNNConfig) -> None:
        super().__init__(config)
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
        c = self.config
        return InputSpec('camera', ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage'),
                         (c.frames, c.height, c.width), c.expected_rate_hz)

    def preprocess(self, window: SensorWindow) -> np.ndarray:
        c = self.config
        if len(window.stamps) == 0:
            raise ValueError('camera window has no frames')
        idx = select_frames(window.stamps, window.start, window.end, c.frames)
        out = np.empty((c.frames, c.height, c.width), dtype=np.float32)
        is_depth = window.samples.dtype.kind == 'f'
        if is_depth != c.depth:
            raise ValueError(f"this encoder was trained on {'depth' if c.depth else 'colour'} images, got "
                             f"{'depth' if is_depth else 'colour'}")
        for i, j in enumerate(idx):  # `frames` iterations (4), not one per pixel
            frame = window.samples[j]
            if is_depth:   # metres, NaN where the camera had no reading: 0, as 16UC1 writes it
                frame = np.nan_to_num(frame, nan=0.0, posinf=0.0, neginf=0.0)
            elif frame.ndim == 3:
                frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
            out[i] = cv2.resize(frame, (c.width, c.height), interpolation=cv2.INTER_AREA)
        if not is_depth:
            out *= 1.0 / 255.0
            out -= 0.5
            out *= 4.0
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(self.normalize(x)))
