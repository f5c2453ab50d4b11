"""The encoder plugin interface.

An encoder turns one :class:`~hybrid_fusion_ros.core.windows.SensorWindow` of its modality
into a feature vector. It is split as torchvision/timm models are: ``preprocess`` (numpy,
window -> fixed-shape array, no learned weights) and ``forward`` (torch, batch of
preprocessed arrays -> ``(B, output_dim)`` features). The same ``preprocess`` serves training
and the encoder node, so what the model saw in training is what it sees on the robot.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Dict, Mapping, Tuple, Type, TypeVar

import numpy as np
import torch
from torch import nn

from ..windows import SensorWindow

E = TypeVar('E', bound='Encoder')


@dataclass(frozen=True)
class InputSpec:
    """What an encoder consumes: the modality, the ROS message types it accepts and the
    shape of one preprocessed window (without the batch dimension)."""

    modality: str
    message_types: Tuple[str, ...]
    shape: Tuple[int, ...]
    expected_rate_hz: float


class Encoder(nn.Module):
    """Base class of encoder plugins.

    Subclasses set ``modality`` and ``config_class`` (a dataclass of hyper-parameters with
    defaults), and implement ``input_spec``, ``preprocess`` and ``forward``.
    """

    modality: ClassVar[str] = ''
    config_class: ClassVar[Type[Any]]

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    @classmethod
    def from_config(cls: Type[E], config: Mapping[str, Any] | None = None) -> E:
        """Build from a plain mapping; unknown keys are an error naming the known ones."""
        config = dict(config or {})
        known = {f.name for f in fields(cls.config_class)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f'{cls.__name__}: unknown config key(s) {unknown}; known: {sorted(known)}')
        return cls(cls.config_class(**config))

    def config_dict(self) -> Dict[str, Any]:
        return asdict(self.config)

    @property
    def output_dim(self) -> int:
        return int(self.config.feature_dim)

    @property
    def input_spec(self) -> InputSpec:
        raise NotImplementedError

    def preprocess(self, window: SensorWindow) -> np.ndarray:
        """One window -> a float32 array of shape ``input_spec.shape``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def encode(self, window: SensorWindow) -> np.ndarray:
        """Preprocess and run the network on one window; returns ``(output_dim,)`` float32."""
        x = torch.from_numpy(self.preprocess(window)).unsqueeze(0)
        return self(x)[0].numpy()


def conv_block_2d(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


def conv_block_1d(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv1d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
                         nn.BatchNorm1d(cout), nn.ReLU(inplace=True))
