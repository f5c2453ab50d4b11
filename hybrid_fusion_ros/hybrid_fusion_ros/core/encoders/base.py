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

"""The encoder plugin interface.

An encoder turns one :class:`~hybrid_fusion_ros.core.windows.SensorWindow` of its modality
into a feature vector. It is split as torchvision/timm models are: ``preprocess`` (numpy,
window -> fixed-shape array, no learned weights) and ``forward`` (torch, batch of
preprocessed arrays -> ``(B, output_dim)`` features). The same ``preprocess`` serves training
and the encoder node, so what the model saw in training is what it sees on the robot.

The built-in encoders keep their preprocessing in ``core/preprocessing.py``, a module without
torch, and hold it as ``preprocessor``: the ONNX Runtime backend runs the same code in a
process that never imports torch. A plugin whose ``preprocessor`` is one of those classes
runs on that backend too; one without can still be exported, but runs only on torch.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import fields
from typing import Any, ClassVar, Dict, Mapping, Optional, Sequence, Type, TypeVar

import numpy as np
import torch
from torch import nn

from ..preprocessing import InputSpec
from ..preprocessing import Preprocessor
from ..windows import SensorWindow

E = TypeVar('E', bound='Encoder')


class Encoder(nn.Module):
    """Base class of encoder plugins.

    Subclasses set ``modality`` and ``config_class`` (a dataclass of hyper-parameters with
    defaults), and implement ``input_spec``, ``preprocess`` and ``forward``.
    """

    modality: ClassVar[str] = ''
    config_class: ClassVar[Type[Any]]
    # The numpy preprocessing ``preprocess`` runs, when it is one of core.preprocessing's.
    preprocessor: Optional[Preprocessor] = None

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        mean, std = getattr(config, 'norm_mean', None), getattr(config, 'norm_std', None)
        if mean is not None and std is not None:
            self.set_normalization(mean, std)

    @classmethod
    def from_config(cls: Type[E], config: Mapping[str, Any] | None = None) -> E:
        """Build from a plain mapping; unknown keys are an error naming the known ones."""
        config = dict(config or {})
        known = {f.name for f in fields(cls.config_class)}
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(
                f'{cls.__name__}: unknown config key(s) {unknown}; known: {sorted(known)}'
            )
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

    def set_normalization(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Per-channel statistics (channel = the first axis of ``input_spec.shape``) learned on a
        training split; ``normalize`` then standardizes with them. They are kept in the config,
        so the checkpoint records them with the weights. Configs without ``norm_mean`` and
        ``norm_std`` fields (plugins that do not opt in) cannot take them."""
        if not hasattr(self.config, 'norm_mean'):
            raise TypeError(f'{type(self).__name__} has no norm_mean/norm_std config fields')
        mean = [float(v) for v in mean]
        std = [max(float(v), 1e-6) for v in std]
        if len(mean) != len(std):
            raise ValueError('norm_mean and norm_std differ in length')
        self.config.norm_mean, self.config.norm_std = mean, std
        # Not in the state_dict: the config carries them, and weights stay comparable.
        self.register_buffer(
            '_norm_mean', torch.tensor(mean, dtype=torch.float32), persistent=False
        )
        self.register_buffer('_norm_std', torch.tensor(std, dtype=torch.float32), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, C, ...) standardized per channel; unchanged when no statistics are set."""
        mean: Optional[torch.Tensor] = getattr(self, '_norm_mean', None)
        if mean is None:
            return x
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (x - mean.view(shape)) / self._norm_std.view(shape)

    def fit_data(self, windows: np.ndarray, seed: int = 0) -> None:
        """Set what the encoder takes from data rather than gradients (``imu_rocket``'s
        biases, say) from the training windows ``(N, *input_spec.shape)``, preprocessed and
        before the first epoch. Training calls it on every encoder it does not load from a
        checkpoint; whatever it sets must be kept in buffers, so the checkpoint saves it.
        The default does nothing."""

    @property
    def fixed_front(self) -> bool:
        """Whether ``forward(x) == head(front(x))`` with a ``front`` that has no trainable
        weights and draws no noise. Training then runs ``front`` once per window before the
        first epoch, instead of in every step, when nothing augments this input's windows.
        The default: no such split."""
        return False

    def front(self, x: torch.Tensor) -> torch.Tensor:
        """The fixed part of ``forward`` (only with ``fixed_front``)."""
        raise NotImplementedError(f'{type(self).__name__} has no fixed front end')

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """The trained part of ``forward``, on ``front``'s output (only with ``fixed_front``)."""
        raise NotImplementedError(f'{type(self).__name__} has no fixed front end')

    @torch.no_grad()
    def encode(self, window: SensorWindow) -> np.ndarray:
        """Preprocess and run the network on one window; returns ``(output_dim,)`` float32."""
        x = torch.from_numpy(self.preprocess(window)).unsqueeze(0)
        return self(x)[0].numpy()


def conv_block_2d(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def conv_block_1d(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm1d(cout),
        nn.ReLU(inplace=True),
    )
