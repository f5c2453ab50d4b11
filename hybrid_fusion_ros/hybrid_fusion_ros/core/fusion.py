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

"""Fusion of per-modality features with an LSTM that keeps state across windows.

Strategies (``FusionConfig.strategy``):

- ``early``: the modality features (zeroed where masked) and the mask itself are
  concatenated, projected by an MLP and fed to the LSTM;
- ``attention``: each modality is projected to a common embedding, additive attention over
  the present modalities weights them, the weighted sum feeds the LSTM; the weights are
  returned so a node can publish each modality's contribution;
- ``gmu``: a gated multimodal unit (Arevalo et al., 2017) for M modalities: each modality
  gets a tanh embedding, and a gate computed from all features (and the mask) decides, per
  embedding dimension, how much of each present modality goes into the sum (a softmax over
  the modalities); the gate averaged over dimensions is returned as each modality's weight;
- ``late`` (decision level): each modality has its own LSTM and head; a masked modality's
  state is left as it was, so each modality can be updated whenever its feature arrives.
  The decision is a weighted mean of the present modalities' log-probabilities, with
  learned weights (returned as the contributions). ``decide`` fuses the current states
  without stepping, for a node that fuses on a timer.

``step`` processes one window (streaming, as the fusion node does) and ``forward`` a whole
sequence (training); ``forward`` is a loop over ``step``, so both give the same outputs.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

LstmState = Tuple[torch.Tensor, torch.Tensor]

STRATEGIES = ('early', 'attention', 'gmu', 'late')


@dataclass
class FusionConfig:
    modalities: List[str]
    feature_dims: List[int]
    num_classes: int
    strategy: str = 'early'
    embed_dim: int = 96
    hidden_dim: int = 96
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"unknown fusion strategy '{self.strategy}'; available: {', '.join(STRATEGIES)}"
            )
        if len(self.modalities) != len(self.feature_dims) or not self.modalities:
            raise ValueError('modalities and feature_dims must be non-empty and of equal length')
        if len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f'duplicate modality in {self.modalities}')
        if self.num_classes < 2:
            raise ValueError('num_classes must be >= 2')

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> 'FusionConfig':
        return cls(**dict(d))

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class StepOutput:
    logits: torch.Tensor  # (B, C)
    state: LstmState
    modality_weights: Optional[torch.Tensor] = field(default=None)  # (B, M) or None


class FusionModel(nn.Module):
    def __init__(self, config: FusionConfig) -> None:
        super().__init__()
        self.config = config
        m = len(config.modalities)
        if config.strategy == 'late':
            self.project = nn.ModuleList(
                nn.Sequential(
                    nn.Linear(d, config.embed_dim), nn.ReLU(), nn.Dropout(config.dropout)
                )
                for d in config.feature_dims
            )
            self.cells = nn.ModuleList(
                nn.LSTMCell(config.embed_dim, config.hidden_dim) for _ in range(m)
            )
            self.heads = nn.ModuleList(
                nn.Linear(config.hidden_dim, config.num_classes) for _ in range(m)
            )
            self.decision_weights = nn.Parameter(torch.zeros(m))
            return
        if config.strategy == 'early':
            self.fuse = nn.Sequential(
                nn.Linear(sum(config.feature_dims) + m, config.embed_dim),
                nn.ReLU(),
                nn.Dropout(config.dropout),
            )
        elif config.strategy == 'gmu':
            self.project = nn.ModuleList(
                nn.Sequential(nn.Linear(d, config.embed_dim), nn.Tanh())
                for d in config.feature_dims
            )
            self.gate = nn.Linear(sum(config.feature_dims) + m, m * config.embed_dim)
            self.drop = nn.Dropout(config.dropout)
        else:
            self.project = nn.ModuleList(
                nn.Sequential(nn.Linear(d, config.embed_dim), nn.ReLU())
                for d in config.feature_dims
            )
            self.score = nn.Sequential(
                nn.Linear(config.embed_dim, config.embed_dim),
                nn.Tanh(),
                nn.Linear(config.embed_dim, 1, bias=False),
            )
            self.drop = nn.Dropout(config.dropout)
        self.cell = nn.LSTMCell(config.embed_dim, config.hidden_dim)
        self.head = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(config.hidden_dim, config.num_classes)
        )

    @property
    def modalities(self) -> List[str]:
        return list(self.config.modalities)

    def initial_state(self, batch: int = 1) -> LstmState:
        width = self.config.hidden_dim * (
            len(self.config.modalities) if self.config.strategy == 'late' else 1
        )
        zeros = torch.zeros(batch, width)
        return zeros, zeros.clone()

    def _late_step(
        self, features: Sequence[torch.Tensor], mask: torch.Tensor, state: LstmState
    ) -> LstmState:
        m, hdim = len(self.config.modalities), self.config.hidden_dim
        h, c = (s.view(-1, m, hdim) for s in state)
        new_h, new_c = [], []
        for i, (proj, cell) in enumerate(zip(self.project, self.cells)):
            hi, ci = cell(proj(features[i]), (h[:, i], c[:, i]))
            keep = mask[:, i : i + 1]
            new_h.append(keep * hi + (1 - keep) * h[:, i])
            new_c.append(keep * ci + (1 - keep) * c[:, i])
        return torch.stack(new_h, 1).flatten(1), torch.stack(new_c, 1).flatten(1)

    def decide(self, state: LstmState, mask: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Late strategy: fused log-probabilities ``(B, C)`` and per-modality weights ``(B, M)``
        from the current states of the modalities present in ``mask``."""
        if self.config.strategy != 'late':
            raise ValueError('decide() needs the late strategy')
        m, hdim = len(self.config.modalities), self.config.hidden_dim
        h = state[0].view(-1, m, hdim)
        logp = torch.stack(
            [torch.log_softmax(head(h[:, i]), dim=-1) for i, head in enumerate(self.heads)], 1
        )
        scores = self.decision_weights.expand_as(mask).masked_fill(mask <= 0, float('-inf'))
        weights = torch.nan_to_num(torch.softmax(scores, dim=1), nan=0.0)
        return (weights.unsqueeze(-1) * logp).sum(dim=1), weights

    def _fuse(
        self, features: Sequence[torch.Tensor], mask: torch.Tensor
    ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        if self.config.strategy == 'early':
            parts = [f * mask[:, i : i + 1] for i, f in enumerate(features)]
            return self.fuse(torch.cat(parts + [mask], dim=1)), None
        embeds = torch.stack([p(f) for p, f in zip(self.project, features)], dim=1)  # (B, M, E)
        if self.config.strategy == 'gmu':
            parts = [f * mask[:, i : i + 1] for i, f in enumerate(features)]
            gates = self.gate(torch.cat(parts + [mask], dim=1)).view(embeds.shape)
            gates = gates.masked_fill(mask.unsqueeze(-1) <= 0, float('-inf'))
            z = torch.nan_to_num(
                torch.softmax(gates, dim=1), nan=0.0
            )  # over modalities, per dimension
            return self.drop((z * embeds).sum(dim=1)), z.mean(dim=-1)
        scores = self.score(embeds).squeeze(-1).masked_fill(mask <= 0, float('-inf'))
        # A step with every modality masked gets uniform weights over nothing: zero input.
        weights = torch.nan_to_num(torch.softmax(scores, dim=1), nan=0.0)
        return self.drop((weights.unsqueeze(-1) * embeds).sum(dim=1)), weights

    def step(
        self,
        features: Sequence[torch.Tensor],
        mask: torch.Tensor,
        state: Optional[LstmState] = None,
    ) -> StepOutput:
        """One window. ``features[i]`` is ``(B, D_i)`` for modality i; ``mask`` is ``(B, M)``
        with 1 where the modality is present; ``state`` is None to start fresh."""
        if len(features) != len(self.config.modalities):
            raise ValueError(
                f'expected {len(self.config.modalities)} feature tensors, got {len(features)}'
            )
        if state is None:
            state = self.initial_state(features[0].shape[0])
        if self.config.strategy == 'late':
            state = self._late_step(features, mask, state)
            logits, weights = self.decide(state, mask)
            return StepOutput(logits, state, weights)
        fused, weights = self._fuse(features, mask)
        h, c = self.cell(fused, state)
        return StepOutput(self.head(h), (h, c), weights)

    def forward(
        self,
        features: Sequence[torch.Tensor],
        mask: torch.Tensor,
        state: Optional[LstmState] = None,
    ) -> Tuple[torch.Tensor, LstmState]:
        """A sequence: ``features[i]`` is ``(B, T, D_i)``, ``mask`` ``(B, T, M)``; returns
        logits ``(B, T, C)`` and the final state."""
        steps = features[0].shape[1]
        logits = []
        for t in range(steps):
            out = self.step([f[:, t] for f in features], mask[:, t], state)
            logits.append(out.logits)
            state = out.state
        assert state is not None
        return torch.stack(logits, dim=1), state
