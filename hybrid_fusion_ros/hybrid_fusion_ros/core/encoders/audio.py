"""Log-mel spectrogram + 2D CNN over a window of audio."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional
from functools import cached_property

import numpy as np
import torch
from torch import nn

from ..windows import SensorWindow
from .base import Encoder, InputSpec, conv_block_2d


def hz_to_mel(f: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)


def mel_to_hz(m: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters on the mel scale (HTK formula), shape ``(n_mels, n_fft // 2 + 1)``."""
    bin_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bin_hz[None, :] - lower) / (centre - lower)
    falling = (upper - bin_hz[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)


def log_mel(signal: np.ndarray, filterbank: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Log-mel spectrogram ``(n_mels, frames)`` of a mono float signal, all frames at once."""
    if len(signal) < n_fft:
        signal = np.pad(signal, (0, n_fft - len(signal)))
    frames = np.lib.stride_tricks.sliding_window_view(signal, n_fft)[::hop]
    spectrum = np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    return np.log(power @ filterbank.T + 1e-6).T.astype(np.float32)


@dataclass
class AudioLogMelCNNConfig:
    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 256
    n_mels: int = 40
    fmin: float = 50.0
    fmax: float = 8000.0
    window_seconds: float = 1.0   # the spectrogram always covers this much audio
    base_channels: int = 16
    feature_dim: int = 64
    expected_rate_hz: float = 16000.0
    norm_mean: Optional[List[float]] = None   # one channel (the spectrogram), from the training split
    norm_std: Optional[List[float]] = None


class AudioLogMelCNN(Encoder):
    """Places the window's samples on a fixed-length timeline (gaps stay silent), computes a
    log-mel spectrogram in numpy and runs a small 2D CNN over it."""

    modality = 'audio'
    config_class = AudioLogMelCNNConfig

    def __init__(self, config: AudioLogMelCNNConfig) -> None:
        super().__init__(config)
        c = config.base_channels
        self.features = nn.Sequential(
            conv_block_2d(1, c, stride=2),
            conv_block_2d(c, 2 * c, stride=2),
            conv_block_2d(2 * c, 4 * c, stride=2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.project = nn.Linear(4 * c, config.feature_dim)

    @cached_property
    def filterbank(self) -> np.ndarray:
        c = self.config
        return mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.fmin, min(c.fmax, c.sample_rate / 2))

    @property
    def num_samples(self) -> int:
        return int(round(self.config.window_seconds * self.config.sample_rate))

    @property
    def input_spec(self) -> InputSpec:
        c = self.config
        frames = 1 + (max(self.num_samples, c.n_fft) - c.n_fft) // c.hop
        return InputSpec('audio', ('hybrid_fusion_msgs/msg/AudioChunk',), (1, c.n_mels, frames),
                         c.expected_rate_hz)

    def preprocess(self, window: SensorWindow) -> np.ndarray:
        c = self.config
        if window.sample_rate is not None and int(window.sample_rate) != c.sample_rate:
            raise ValueError(f'audio sample rate {window.sample_rate} Hz, encoder expects {c.sample_rate} Hz')
        timeline = np.zeros(self.num_samples, dtype=np.float32)
        idx = np.round((window.stamps - window.start) * c.sample_rate).astype(np.int64)
        keep = (idx >= 0) & (idx < self.num_samples)
        timeline[idx[keep]] = np.asarray(window.samples, dtype=np.float32).reshape(-1)[keep]
        return log_mel(timeline, self.filterbank, c.n_fft, c.hop)[None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(self.features(self.normalize(x)))
