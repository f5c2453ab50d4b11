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

"""Training of encoders + fusion model end to end on windowed sequences."""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
import math
import random
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.checkpoint import fusion_entry
from hybrid_fusion_ros.core.contract import StateContract
from hybrid_fusion_ros.core.encoders import create_encoder
from hybrid_fusion_ros.core.encoders import Encoder
from hybrid_fusion_ros.core.fusion import FusionConfig
from hybrid_fusion_ros.core.fusion import FusionModel
from hybrid_fusion_ros.core.fusion import LstmState
from hybrid_fusion_ros.core.inputs import DEFAULT_ENCODERS
from hybrid_fusion_ros.core.inputs import ModelInput
from hybrid_fusion_ros.core.metrics import classification_report
from hybrid_fusion_ros.core.windows import WindowSpec
from ..data.dataset import SequenceData
from ..data.dataset import simulated_sequences
from ..data.simulation import CLASSES

SIMULATED_MODALITIES = ('camera', 'imu', 'audio')


@dataclass
class TrainConfig:
    # Per input name, the encoder plugin; an input's sensor type is in input_types (default:
    # its name, as for the simulated camera, imu and audio).
    encoders: Dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ENCODERS))
    encoder_configs: Dict[str, Dict[str, Any]] = field(
        default_factory=dict
    )  # per input, plugin config
    input_types: Dict[str, str] = field(default_factory=dict)
    # Inputs whose encoders keep their initial (e.g. --from) weights: no gradient, BatchNorm
    # frozen.
    frozen_encoders: List[str] = field(default_factory=list)
    strategy: str = 'early'
    window_length: float = 1.0
    window_hop: float = 0.5
    train_episodes: int = 40
    val_episodes: int = 10
    episode_seconds: float = 40.0
    seed: int = 0
    epochs: int = 30
    batch_size: int = 12
    seq_len: int = 24
    lr: float = 2e-3
    weight_decay: float = 1e-2
    grad_clip: float = 1.0
    warmup_fraction: float = 0.1
    patience: int = 8
    # Which weights training ends with: 'best', the epoch with the best validation macro-F1
    # (early stopping after `patience` epochs without one); 'last', every epoch run and the
    # final, annealed weights kept (validation only reported): on a few subjects, the best epoch
    # on one held-out subject is a noisy choice.
    keep: str = 'best'
    # keep 'last' only: end with the mean of the last `average_last` epochs' weights
    # (stochastic weight averaging over the annealed tail of the schedule); 0 or 1: the last
    # epoch's own weights.
    average_last: int = 0
    modality_dropout: float = 0.15
    # Probability that a training chunk loses exactly one of its inputs, drawn uniformly, for
    # its whole length, on top of modality_dropout: trains the fused model for a sensor that
    # is missing for good, not for a few windows. 0 disables it.
    drop_one_modality: float = 0.0
    # Cross-entropy label smoothing: on a few subjects' recordings, keeps the network from
    # growing over-confident on one wearer's way of doing an exercise. 0 disables it.
    label_smoothing: float = 0.0
    # Further fusion models trained on the frozen encoders' features and stored beside the
    # primary one, so the fusion node can switch mode (late needs a 'late' model) at run time.
    # IMU augmentation: every training chunk is rotated by up to this many degrees about a
    # random axis (accelerometer and gyroscope alike) and scaled by 1 ± imu_scale_jitter,
    # so the model does not learn one wearer's sensor orientation. 0 disables it.
    imu_rotation_deg: float = 0.0
    imu_scale_jitter: float = 0.0
    extra_strategies: List[str] = field(default_factory=lambda: ['late', 'attention', 'gmu'])
    extra_epochs: int = 25
    # 'cnn': the encoders' networks; 'linear': the ablation without a CNN front end, each
    # preprocessed window flattened and projected linearly (no checkpoint is written for it).
    front_end: str = 'cnn'

    def __post_init__(self) -> None:
        from hybrid_fusion_ros.core.encoders import encoder_registry
        from hybrid_fusion_ros.core.plugins import PluginError

        if not self.encoders:
            raise ValueError('encoders is empty: name at least one modality and its encoder')
        for input_name, name in self.encoders.items():
            try:
                cls = encoder_registry.load(name)
            except PluginError as exc:
                raise ValueError(str(exc)) from exc
            sensor_type = self.input_types.get(input_name, input_name)
            if cls.modality != sensor_type:
                raise ValueError(
                    f"encoder '{name}' is for sensor type '{cls.modality}', not '{sensor_type}' "
                    f"(input '{input_name}')"
                )
        unknown = sorted(set(self.frozen_encoders) - set(self.encoders))
        if unknown:
            raise ValueError(f'frozen_encoders names unknown input(s) {unknown}')
        if self.keep not in ('best', 'last'):
            raise ValueError(f"keep must be 'best' or 'last', got '{self.keep}'")
        if self.average_last < 0 or (self.average_last > 1 and self.keep != 'last'):
            raise ValueError(
                f"average_last {self.average_last} needs keep 'last' and a count >= 0"
            )
        for name in ('modality_dropout', 'drop_one_modality'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'{name} is a probability, got {getattr(self, name)}')
        if self.front_end not in ('cnn', 'linear'):
            raise ValueError(f"front_end must be 'cnn' or 'linear', got '{self.front_end}'")
        for strategy in [self.strategy, *self.extra_strategies]:  # validates the names
            FusionConfig(list(self.encoders), [1] * len(self.encoders), 2, strategy)
        if self.train_episodes < 1 or self.val_episodes < 1:
            raise ValueError('train_episodes and val_episodes must be >= 1')


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class ActivityModel(nn.Module):
    """Encoders + fusion, for training: inputs are ``(B, T, *input_shape)`` per modality."""

    def __init__(self, encoders: Mapping[str, Encoder], fusion: FusionModel) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(dict(encoders))
        self.fusion = fusion

    def forward(
        self,
        inputs: Mapping[str, torch.Tensor],
        mask: torch.Tensor,
        state: Optional[LstmState] = None,
        resets: Optional[torch.Tensor] = None,
        present: Optional[torch.Tensor] = None,
        return_state: bool = False,
    ):
        """Logits ``(B, T, C)`` (with ``return_state``: and the final state).

        ``state`` carries the LSTM state in from the previous chunk (None: fresh); ``resets``
        ``(B, T)`` bool starts a fresh state at a step, as the fusion node does after a gap;
        ``present`` ``(B, T)`` bool marks real windows (the rest is padding: no encoder sees
        it, so BatchNorm statistics stay those of real windows)."""
        feats = []
        for m in self.fusion.modalities:
            x = inputs[m]
            b, t = x.shape[:2]
            # A lone real window (the tail of the last lane) goes through with its padding:
            # BatchNorm cannot take a batch of one.
            if present is None or bool(present.all()) or int(present.sum()) < 2:
                feats.append(self.encoders[m](x.flatten(0, 1)).view(b, t, -1))
                continue
            flat = present.reshape(-1)
            out = self.encoders[m](x.flatten(0, 1)[flat])
            full = out.new_zeros((b * t,) + tuple(out.shape[1:]))
            full[flat] = out
            feats.append(full.view(b, t, -1))
        if resets is None:
            logits, state = self.fusion(feats, mask, state)
        else:
            steps = []
            for k in range(feats[0].shape[1]):
                if state is not None and bool(resets[:, k].any()):
                    keep = (~resets[:, k]).to(feats[0].dtype)[:, None]
                    state = (state[0] * keep, state[1] * keep)
                out = self.fusion.step([f[:, k] for f in feats], mask[:, k], state)
                steps.append(out.logits)
                state = out.state
            logits = torch.stack(steps, dim=1)
        return (logits, state) if return_state else logits


def check_sequences(sequences: Sequence[SequenceData], num_classes: int, what: str) -> None:
    """Fail before training on NaN/inf inputs or out-of-range labels."""
    for i, seq in enumerate(sequences):
        for m, x in seq.inputs.items():
            if not np.isfinite(x).all():
                raise ValueError(f'{what} sequence {i}: modality {m} has NaN or inf values')
        # -1: a window without a label, which feeds the state but is not scored.
        if len(seq) and (seq.labels.min() < -1 or seq.labels.max() >= num_classes):
            raise ValueError(f'{what} sequence {i}: labels outside [-1, {num_classes})')


class TrainingFailed(ValueError):
    """Training ran but produced no usable model (no data, a loss that is not finite, a
    validation at chance); the message names the cause and what to change."""


UNLABELLED = -1


@dataclass(frozen=True)
class _Piece:
    lane_start: int  # step of the lane where the piece begins (a fresh state)
    sequence: int
    start: int
    stop: int


def _lanes(
    sequences: Sequence[SequenceData], lanes: int, seq_len: int, rng: np.random.Generator
) -> Tuple[List[List[_Piece]], int]:
    """Every window of every sequence, once, laid out in ``lanes`` parallel lanes for
    truncated back-propagation through time with the state carried from chunk to chunk.

    A sequence is a stream the fusion node runs without a reset, so the state runs on across
    a whole sequence as it will on the robot. One longer than a lane's share is cut at random
    points into pieces (each starts fresh, as after a reset), and one longer than ``seq_len``
    also at about one random point per ``2 * seq_len`` windows (the node starts fresh wherever
    it is switched on); pieces are shuffled and each goes to the shortest lane. Lanes are
    padded at their end to a common length, a multiple of ``seq_len``. Nothing is dropped: a
    sequence shorter than ``seq_len``, or of one window, trains like any other. Returns
    (lanes, steps)."""
    total = sum(len(s) for s in sequences)
    if total == 0:
        return [], 0
    share = max(seq_len, -(-total // lanes))
    pieces: List[Tuple[int, int, int]] = []
    for si, seq in enumerate(sequences):
        n = len(seq)
        if n == 0:
            continue
        cuts = {0, n}
        if n > share:
            first = int(rng.integers(1, share + 1))
            cuts.update(range(first, n, share))
        # Fresh starts at random points too, about one per 2 * seq_len windows: the node
        # starts fresh wherever it is switched on or reset, not only where a recording began,
        # and a model that must name the activity from a fresh state learns what the windows
        # show rather than leaning on what it remembers. Pieces average two chunks or more, so
        # the state carried across chunks trains too.
        if n > seq_len:
            k = rng.poisson(n / (2 * seq_len))
            cuts.update(int(c) for c in rng.integers(1, n, size=k))
        bounds = sorted(cuts)
        pieces.extend((si, a, b) for a, b in zip(bounds, bounds[1:]) if b > a)
    order = rng.permutation(len(pieces))
    out: List[List[_Piece]] = [[] for _ in range(lanes)]
    filled = [0] * lanes
    for k in order:
        si, a, b = pieces[k]
        lane = int(np.argmin(filled))
        out[lane].append(_Piece(filled[lane], si, a, b))
        filled[lane] += b - a
    steps = -(-max(filled) // seq_len) * seq_len
    return out, steps


def _lane_batch(
    sequences: Sequence[SequenceData],
    lanes: Sequence[Sequence[_Piece]],
    chunk: int,
    seq_len: int,
    modalities: Sequence[str],
):
    """Chunk ``chunk`` of every lane: inputs ``(B, seq_len, ...)``, labels ``(B, seq_len)``
    (-1: no label, or padding), resets and present ``(B, seq_len)`` bool."""
    lo, hi = chunk * seq_len, (chunk + 1) * seq_len
    b = len(lanes)
    first = next(s for s in sequences if len(s))
    inputs = {
        m: np.zeros((b, seq_len) + first.inputs[m].shape[1:], dtype=np.float32)
        for m in modalities
    }
    labels = np.full((b, seq_len), UNLABELLED, dtype=np.int64)
    resets = np.zeros((b, seq_len), dtype=bool)
    present = np.zeros((b, seq_len), dtype=bool)
    for li, lane in enumerate(lanes):
        for piece in lane:
            a = piece.lane_start
            z = a + piece.stop - piece.start
            if z <= lo or a >= hi:
                continue
            s0, s1 = max(a, lo), min(z, hi)
            src = slice(piece.start + s0 - a, piece.start + s1 - a)
            seq = sequences[piece.sequence]
            for m in modalities:
                inputs[m][li, s0 - lo : s1 - lo] = seq.inputs[m][src]
            labels[li, s0 - lo : s1 - lo] = seq.labels[src]
            present[li, s0 - lo : s1 - lo] = True
            if lo <= a < hi:
                resets[li, a - lo] = True
    return (
        {m: torch.from_numpy(x) for m, x in inputs.items()},
        torch.from_numpy(labels),
        torch.from_numpy(resets),
        torch.from_numpy(present),
    )


def labelled_report(
    labels: np.ndarray, predicted: np.ndarray, classes: Sequence[str]
) -> Dict[str, Any]:
    """``classification_report`` over the windows that have a label."""
    keep = np.asarray(labels) >= 0
    return classification_report(np.asarray(labels)[keep], np.asarray(predicted)[keep], classes)


def random_rotations(n: int, max_deg: float, generator: torch.Generator) -> torch.Tensor:
    """``(n, 3, 3)`` rotations by up to ``max_deg`` degrees about random axes (Rodrigues)."""
    axis = torch.randn(n, 3, generator=generator)
    axis = axis / axis.norm(dim=1, keepdim=True)
    angle = torch.rand(n, generator=generator) * max_deg * math.pi / 180.0
    k = torch.zeros(n, 3, 3)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(1, 2)
    s, c = torch.sin(angle)[:, None, None], torch.cos(angle)[:, None, None]
    return torch.eye(3) + s * k + (1 - c) * (k @ k)


def augment_imu(
    x: torch.Tensor, max_deg: float, scale_jitter: float, generator: torch.Generator
) -> torch.Tensor:
    """``x``: ``(B, T, C, L)`` preprocessed IMU windows, C = 6 (acc, gyro) or 3 (acc only); one
    rotation and scale per chunk."""
    b = x.shape[0]
    rot = random_rotations(b, max_deg, generator)[:, None]  # (B, 1, 3, 3)
    scale = 1 + (torch.rand(b, 1, 1, 1, generator=generator) * 2 - 1) * scale_jitter
    parts = [rot @ x[:, :, i : i + 3] for i in range(0, x.shape[2] - 2, 3)]
    return torch.cat(parts, dim=2) * scale


class LinearFrontEnd(nn.Module):
    """The "without CNN" ablation: a preprocessed window flattened, projected linearly, ReLU."""

    def __init__(self, input_shape: Sequence[int], output_dim: int) -> None:
        super().__init__()
        self.output_dim = int(output_dim)
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(int(np.prod(input_shape)), self.output_dim), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


@torch.no_grad()
def predict(
    model: ActivityModel, sequences: Sequence[SequenceData], mask_modalities: Sequence[str] = ()
) -> np.ndarray:
    """Predicted class per window, each sequence run from a fresh state; modalities named
    in ``mask_modalities`` are masked out at every step (a missing sensor)."""
    model.eval()
    preds = []
    mods = model.fusion.modalities
    for seq in sequences:
        inputs = {m: torch.from_numpy(seq.inputs[m]).unsqueeze(0) for m in mods}
        mask = torch.ones(1, len(seq), len(mods))
        for m in mask_modalities:
            mask[..., mods.index(m)] = 0.0
        preds.append(model(inputs, mask)[0].argmax(-1).numpy())
    return np.concatenate(preds) if preds else np.empty(0, dtype=np.int64)


def _rank_seeds(seed: int, rank: int) -> Tuple[int, int]:
    """Two seeds of one rank under DDP: IMU augmentation, and torch's global RNG (modality
    dropout, ``nn.Dropout``). Derived from ``(seed, rank)`` by a SeedSequence, so ranks draw
    independent noise (equal seeds would repeat one augmentation N times per step) and the
    two purposes never share a stream."""
    aug, glob = np.random.SeedSequence([seed, rank]).generate_state(2)
    return int(aug), int(glob)


def _rank_share(items: List[Any], rank: int, world: int) -> List[Any]:
    """This rank's strided share ``items[rank::world]`` of the chunk list every rank drew
    alike, padded by wrapping around to ``ceil(len / world)`` chunks on every rank: each DDP
    step all-reduces gradients, so a rank with one step more would wait forever."""
    if not items:
        return []
    per_rank = -(-len(items) // world)
    padded = [items[i % len(items)] for i in range(per_rank * world)]
    return padded[rank::world]


def _average_batchnorm_stats(model: nn.Module, world: int) -> None:
    """Average the BatchNorm running statistics over the ranks, in place.

    DDP does not sync buffers before each forward, so each rank's statistics follow its own share
    of the data; their mean stands for all of it, and every rank then validates (and keeps)
    the same model. Modules in eval mode (frozen encoders) did not change and are left alone,
    so their statistics stay bit-identical to what was loaded."""
    import torch.distributed as dist

    for module in model.modules():
        if (
            isinstance(module, nn.modules.batchnorm._BatchNorm)
            and module.training
            and module.running_mean is not None
            and module.running_var is not None
        ):
            for buf in (module.running_mean, module.running_var):
                dist.all_reduce(buf, op=dist.ReduceOp.SUM)
                buf.div_(world)


def _no_forward_buffer_sync() -> Dict[str, bool]:
    """DDP's option not to copy rank 0's buffers into every rank before each forward (the
    start-up copy stays): ``forward_sync_buffers`` in newer PyTorch, where the older
    ``broadcast_buffers`` is deprecated and warns."""
    import inspect

    params = inspect.signature(nn.parallel.DistributedDataParallel.__init__).parameters
    name = 'forward_sync_buffers' if 'forward_sync_buffers' in params else 'broadcast_buffers'
    return {name: False}


def _agree(values: Sequence[float], op: str) -> List[float]:
    """``values`` made equal on every rank: their mean (``op='mean'``) or rank 0's (``'src0'``)."""
    import torch.distributed as dist

    t = torch.tensor(list(values), dtype=torch.float64)
    if op == 'mean':
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        t /= dist.get_world_size()
    else:
        dist.broadcast(t, src=0)
    return t.tolist()


def _steps_per_rank(steps: int, world: int) -> List[int]:
    """Every rank's optimizer steps this epoch, gathered (the proof that each one trained)."""
    import torch.distributed as dist

    out = [torch.zeros(1, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(out, torch.tensor([steps], dtype=torch.int64))
    return [int(t.item()) for t in out]


def fit(
    model: ActivityModel,
    train_seqs: Sequence[SequenceData],
    val_seqs: Sequence[SequenceData],
    config: TrainConfig,
    classes: Sequence[str],
    epochs: int,
    progress: bool,
    desc: str,
    timing: Optional[List[Dict[str, float]]] = None,
) -> Tuple[List[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """Train ``model`` in place (AdamW, warm-up + cosine, gradient clipping, modality dropout,
    class weights); keep the epoch with the best validation macro-F1, stop after
    ``config.patience`` epochs without improvement (``keep='last'``: every epoch, the final
    weights, and ``val_seqs`` may be empty). Returns (history, validation report or None
    without validation data).

    Under ``torchrun`` (a process group of N > 1 processes, see :mod:`.distributed`), e.g.

        torchrun --nproc_per_node N -m hybrid_fusion_ros.cli train BAG... --map ... -o model.pt

    the model is wrapped in ``DistributedDataParallel`` (gloo on CPU, NCCL for CUDA tensors):
    every rank draws the same shuffled chunk list (same seed) and trains on its strided share,
    ``config.batch_size`` chunks per step (the effective batch is N times larger, the
    learning rate unchanged), with equal step counts on all ranks; augmentation and dropout
    noise differ per rank. Every rank validates on the whole validation set with identical
    weights, rank 0's macro-F1 decides for all, so early stopping and the best state agree.
    In a single process none of this happens and training is exactly the single-process one.

    ``timing``, when given, gets one entry per epoch run (this process's clock): the seconds of
    its optimizer steps, batches built included (``train_seconds``), and of the whole epoch,
    validation and the ranks' agreement included (``epoch_seconds``)."""
    from . import distributed

    if not distributed.is_distributed():
        return _fit(
            model, train_seqs, val_seqs, config, classes, epochs, progress, desc, 0, 1, timing
        )
    rank, world = distributed.rank(), distributed.world_size()
    # fork_rng gives the global RNG back as it was (equal on all ranks) when training ends, so
    # what follows (e.g. the next head's initialization) stays the same on every rank.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_rank_seeds(config.seed, rank)[1])
        return _fit(
            model, train_seqs, val_seqs, config, classes, epochs, progress, desc, rank, world,
            timing,
        )


def _fit(
    model: ActivityModel,
    train_seqs: Sequence[SequenceData],
    val_seqs: Sequence[SequenceData],
    config: TrainConfig,
    classes: Sequence[str],
    epochs: int,
    progress: bool,
    desc: str,
    rank: int,
    world: int,
    timing: Optional[List[Dict[str, float]]] = None,
) -> Tuple[List[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """The body of :func:`fit`; ``world > 1`` only inside an initialized process group."""
    ddp = world > 1
    modalities = model.fusion.modalities
    # Class weights against imbalance: inverse frequency, normalized to mean 1.
    all_labels = np.concatenate([s.labels for s in train_seqs]) if train_seqs else np.empty(0)
    counts = np.bincount(all_labels[all_labels >= 0].astype(np.int64), minlength=len(classes))
    if counts.sum() == 0:
        raise TrainingFailed(
            f'{desc}: no labelled window to train on: check that the labels cover the '
            'recordings (hybrid-fusion inspect BAG...)'
        )
    weights = torch.tensor(
        counts.sum() / np.maximum(counts, 1) / len(classes), dtype=torch.float32
    )
    loss_fn = nn.CrossEntropyLoss(
        weight=weights, label_smoothing=config.label_smoothing, ignore_index=UNLABELLED
    )
    frozen_ids = {
        id(p)
        for m in config.frozen_encoders
        if m in model.encoders
        for p in model.encoders[m].parameters()
    }
    for m in config.frozen_encoders:
        if m in model.encoders:
            model.encoders[m].requires_grad_(False)
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if id(p) not in frozen_ids],
        lr=config.lr,
        weight_decay=config.weight_decay,
    )
    net: nn.Module = model
    if ddp:
        # After requires_grad_(False): DDP registers only parameters that need a gradient, so
        # frozen encoders are neither reduced nor waited for. Every other parameter takes part
        # in every forward (a masked modality is multiplied by zero, not skipped), so
        # find_unused_parameters can stay off. The batches are built on the CPU, so the model
        # stays there (no device_ids). Buffers are averaged per epoch, not broadcast per step.
        net = nn.parallel.DistributedDataParallel(
            model, find_unused_parameters=False, **_no_forward_buffer_sync()
        )
    rng = np.random.default_rng(config.seed)  # lane layout: the same seed on every rank
    # Lanes for every rank, drawn alike on each; a rank trains on its strided share.
    n_lanes = config.batch_size * world
    steps_per_epoch = _lanes(train_seqs, n_lanes, config.seq_len, rng)[1] // config.seq_len
    total = max(1, steps_per_epoch * epochs)
    warmup = max(1, int(config.warmup_fraction * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            (s + 1) / warmup
            if s < warmup
            else 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warmup) / max(1, total - warmup))))
        ),
    )

    from tqdm import tqdm

    generator = torch.Generator().manual_seed(
        _rank_seeds(config.seed, rank)[0] if ddp else config.seed
    )
    augmented = (
        [
            m
            for m in modalities
            if config.input_types.get(m, m) == 'imu'
            and not isinstance(model.encoders[m], nn.Identity)
        ]
        if config.imu_rotation_deg + config.imu_scale_jitter > 0
        else []
    )
    frozen = [model.encoders[m] for m in config.frozen_encoders if m in model.encoders]
    # Dropping the only modality would train on empty input.
    dropout = config.modality_dropout if len(modalities) > 1 else 0.0
    drop_one = config.drop_one_modality if len(modalities) > 1 else 0.0
    best_f1, best_state, bad_epochs, history = -1.0, None, 0, []
    averaged: List[Dict[str, torch.Tensor]] = []  # the weights of the epochs averaged at the end
    bar = tqdm(range(epochs), desc=desc, unit='epoch', disable=not progress or rank != 0)
    # keep 'last' chooses nothing on validation data, so it may train without any.
    validate = len(val_seqs) > 0
    if not validate and config.keep != 'last':
        raise ValueError(f"keep '{config.keep}' chooses an epoch on validation data; none given")
    val_labels = np.concatenate([s.labels for s in val_seqs]) if validate else None
    if validate and not (val_labels >= 0).any():
        raise TrainingFailed(f'{desc}: the validation recordings have no labelled window')
    for epoch in bar:
        started = time.perf_counter()
        model.train()
        for enc in frozen:  # BatchNorm statistics stay as loaded, too
            enc.eval()
        losses = []
        lanes, steps = _lanes(train_seqs, n_lanes, config.seq_len, rng)
        if ddp:
            lanes = _rank_share(lanes, rank, world)
        state: Optional[LstmState] = None
        n_steps = steps // config.seq_len
        for chunk in range(n_steps):
            inputs, labels, resets, present = _lane_batch(
                train_seqs, lanes, chunk, config.seq_len, modalities
            )
            b, t = labels.shape
            for m in augmented:
                inputs[m] = augment_imu(
                    inputs[m], config.imu_rotation_deg, config.imu_scale_jitter, generator
                )
            # Modality dropout: a modality goes missing for a whole chunk or for single steps.
            keep = torch.rand(b, t, len(modalities)) >= dropout / 2
            keep &= torch.rand(b, 1, len(modalities)) >= dropout / 2
            if drop_one > 0:
                gone = torch.rand(b) < drop_one
                which = torch.randint(len(modalities), (b,))
                keep[gone, :, which[gone]] = False
            logits, state = net(
                inputs, keep.float(), state, resets, present, return_state=True
            )
            # Truncated back-propagation: the state flows on, its gradient stops here.
            state = (state[0].detach(), state[1].detach())
            if bool((labels >= 0).any()):
                loss = loss_fn(logits.reshape(b * t, -1), labels.reshape(-1))
            elif ddp:
                loss = logits.sum() * 0.0  # every rank steps alike, even on padding alone
            else:
                continue  # padding and unlabelled windows only: the state moved on, no step
            if not torch.isfinite(loss):
                raise TrainingFailed(
                    f'{desc}: the loss is not finite ({float(loss)}) in epoch {epoch + 1}: '
                    'lower lr, or check the inputs for extreme values'
                )
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
        trained = time.perf_counter()
        if not losses:
            raise TrainingFailed(f'{desc}: epoch {epoch + 1} drew no labelled window')
        mean_loss = float(np.mean(losses))
        if ddp:
            _average_batchnorm_stats(model, world)
        # Optimizer steps this epoch: the lanes' length, and so the count, varies a little.
        entry: Dict[str, Any] = {'epoch': epoch + 1, 'loss': mean_loss, 'steps': len(losses)}
        if validate:
            # Validation runs on the unwrapped module: same weights, no DDP hooks or
            # collectives.
            report = labelled_report(val_labels, predict(model, val_seqs), classes)
            entry['val_accuracy'], entry['val_macro_f1'] = report['accuracy'], report['macro_f1']
        if ddp:
            # The weights are equal on every rank, so the scores are too; rank 0's are taken
            # all the same, so no rounding difference can split the early-stopping decision.
            entry['loss'] = _agree([mean_loss], 'mean')[0]
            if validate:
                scores = _agree([report['accuracy'], report['macro_f1']], 'src0')
                entry['val_accuracy'], entry['val_macro_f1'] = scores
            entry['world_size'] = world
            entry['steps_per_rank'] = _steps_per_rank(len(losses), world)
        history.append(entry)
        if timing is not None:
            timing.append(
                {
                    'train_seconds': trained - started,
                    'epoch_seconds': time.perf_counter() - started,
                }
            )
        shown = {'loss': f"{entry['loss']:.3f}"}
        if validate:
            shown['val_f1'] = f"{entry['val_macro_f1']:.3f}"
        bar.set_postfix(**shown)
        improved = validate and entry['val_macro_f1'] > best_f1
        if improved:
            best_f1, bad_epochs = entry['val_macro_f1'], 0
        if improved or config.keep == 'last':
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif config.keep == 'best':
            bad_epochs += 1
            if bad_epochs >= config.patience:
                break
        if config.average_last > 1 and epoch >= epochs - config.average_last:
            averaged.append(best_state)
    assert best_state is not None
    if len(averaged) > 1:
        # Floating-point weights and statistics are averaged; counters stay the last epoch's.
        best_state = {
            k: torch.stack([a[k] for a in averaged]).mean(0) if v.is_floating_point() else v
            for k, v in best_state.items()
        }
    model.load_state_dict(best_state)
    model.eval()
    if not validate:
        return history, None
    return history, labelled_report(val_labels, predict(model, val_seqs), classes)


class _Head(nn.Module):
    """An encoder's trained part alone, for inputs already through its fixed front end."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.encoder.head(features)


def fixed_fronts(encoders: Mapping[str, Encoder], config: TrainConfig) -> List[str]:
    """Inputs whose encoder's fixed front end can run once before training: it has one, it
    trains (not frozen), and no augmentation changes its windows from epoch to epoch."""
    augmented = config.imu_rotation_deg + config.imu_scale_jitter > 0
    return [
        m
        for m, enc in encoders.items()
        if enc.fixed_front
        and m not in config.frozen_encoders
        and not (augmented and config.input_types.get(m, m) == 'imu')
    ]


@torch.no_grad()
def apply_fronts(
    encoders: Mapping[str, Encoder], names: Sequence[str], sequences: Sequence[SequenceData]
) -> List[SequenceData]:
    """``sequences`` with the windows of inputs ``names`` through their encoders' fronts."""
    if not names:
        return list(sequences)
    out = []
    for seq in sequences:
        inputs = dict(seq.inputs)
        for m in names:
            windows = torch.from_numpy(seq.inputs[m])
            inputs[m] = torch.cat([encoders[m].front(w) for w in windows.split(256)]).numpy()
        out.append(SequenceData(inputs, seq.labels, seq.ends))
    return out


@torch.no_grad()
def encode_sequences(
    model: ActivityModel, sequences: Sequence[SequenceData]
) -> List[SequenceData]:
    """The same sequences with each window replaced by its (frozen) encoder feature."""
    model.eval()
    return [
        SequenceData(
            {
                m: model.encoders[m](torch.from_numpy(seq.inputs[m])).numpy()
                for m in model.fusion.modalities
            },
            seq.labels,
            seq.ends,
        )
        for seq in sequences
    ]


def simulated_splits(
    config: TrainConfig, spec: WindowSpec, encoders: Mapping[str, Encoder], progress: bool = True
) -> Tuple[List[SequenceData], List[SequenceData]]:
    """The training and validation episodes ``config`` names (its seed picks them, the two
    splits 500 seeds apart), preprocessed by ``encoders``."""
    base = 100_000 + 1000 * config.seed
    train_seqs = simulated_sequences(
        range(base, base + config.train_episodes),
        config.episode_seconds,
        spec,
        encoders,
        progress=progress,
    )
    val_seqs = simulated_sequences(
        range(base + 500, base + 500 + config.val_episodes),
        config.episode_seconds,
        spec,
        encoders,
        progress=progress,
    )
    return train_seqs, val_seqs


def train_heads(
    model: ActivityModel,
    train_seqs: Sequence[SequenceData],
    val_seqs: Sequence[SequenceData],
    config: TrainConfig,
    classes: Sequence[str],
    strategies: Sequence[str],
    progress: bool = True,
) -> Dict[str, Dict[str, Any]]:
    """Fusion models of other strategies trained on ``model``'s frozen encoder features:
    ``strategy -> {'model', 'val_macro_f1', 'val_accuracy'}``. Each head starts from
    ``config.seed``, so adding one never changes another."""
    if not strategies:
        return {}
    modalities = model.fusion.modalities
    dims = list(model.fusion.config.feature_dims)
    train_feats = encode_sequences(model, train_seqs)
    val_feats = encode_sequences(model, val_seqs)
    extra: Dict[str, Dict[str, Any]] = {}
    for strategy in strategies:
        seed_everything(config.seed)
        head = FusionModel(FusionConfig(modalities, dims, len(classes), strategy))
        identity = {m: nn.Identity() for m in modalities}
        _, report = fit(
            ActivityModel(identity, head),
            train_feats,
            val_feats,
            config,
            classes,
            config.extra_epochs,
            progress,
            f'training {strategy} head on frozen features',
        )
        extra[strategy] = {
            'model': head,
            'val_macro_f1': report['macro_f1'] if report else None,
            'val_accuracy': report['accuracy'] if report else None,
        }
    return extra


def add_heads(ckpt: Checkpoint, strategies: Sequence[str], progress: bool = True) -> Checkpoint:
    """The checkpoint with fusion heads of ``strategies`` added (or retrained), trained on the
    simulated episodes its own training config names, through its frozen encoders."""
    raw = dict(ckpt.metadata.get('train_config') or {})
    known = set(TrainConfig.__dataclass_fields__)
    config = TrainConfig(**{k: v for k, v in raw.items() if k in known})
    encoders = {m: ckpt.build_encoder(m)[0] for m in ckpt.modalities}
    train_seqs, val_seqs = simulated_splits(config, ckpt.window, encoders, progress)
    model = ActivityModel(encoders, ckpt.build_fusion())
    extra = train_heads(model, train_seqs, val_seqs, config, ckpt.classes, strategies, progress)
    out = Checkpoint(
        ckpt.classes,
        ckpt.window,
        ckpt.encoders,
        ckpt.fusion,
        dict(ckpt.metadata),
        dict(ckpt.extra_fusion),
        runtime=dict(ckpt.runtime),
        calibration=dict(ckpt.calibration),
    )
    for strategy, v in extra.items():
        out.extra_fusion[strategy] = fusion_entry(v['model'])
        out.metadata.setdefault('extra_val', {})[strategy] = {
            'accuracy': v['val_accuracy'],
            'macro_f1': v['val_macro_f1'],
        }
    tc = out.metadata.get('train_config')
    if isinstance(tc, dict):
        tc['extra_strategies'] = list(
            dict.fromkeys([*tc.get('extra_strategies', []), *strategies])
        )
    return out


def training_time(
    timing: Sequence[Mapping[str, float]], train_seqs: Sequence[SequenceData], config: TrainConfig
) -> Dict[str, Any]:
    """What the epochs of a :func:`fit` took, for throughput: every epoch trains each window of
    ``train_seqs`` once (``windows_per_epoch``, across all ranks), in ``train_seconds`` of
    optimizer steps on rank 0's clock (the ranks step in lockstep); ``epoch_seconds`` adds
    validation, which every rank runs whole. Figures of this process, with the torch threads
    it ran on."""
    from . import distributed

    world = distributed.world_size()
    return {
        'world_size': world,
        'torch_threads': torch.get_num_threads(),
        'global_batch': config.batch_size * world,
        'windows_per_epoch': int(sum(len(s) for s in train_seqs)),
        'train_seconds': [round(t['train_seconds'], 4) for t in timing],
        'epoch_seconds': [round(t['epoch_seconds'], 4) for t in timing],
    }


@dataclass
class TrainResult:
    checkpoint: Optional[Checkpoint]  # None for the linear front-end ablation
    history: List[Dict[str, float]]
    val_report: Optional[Dict[str, Any]]  # None: trained without validation data
    model: Optional[ActivityModel] = None


def train(
    config: TrainConfig,
    train_seqs: Optional[Sequence[SequenceData]] = None,
    val_seqs: Optional[Sequence[SequenceData]] = None,
    classes: Sequence[str] = CLASSES,
    progress: bool = True,
    metadata: Optional[Dict[str, Any]] = None,
    inputs: Optional[Mapping[str, ModelInput]] = None,
    init_encoders: Optional[Mapping[str, Mapping[str, torch.Tensor]]] = None,
    contract: Optional[StateContract] = None,
) -> TrainResult:
    """Train on the given sequences (default: simulated episodes, seeds apart per split).

    ``inputs`` describes each input (type, training topic, rate) for the checkpoint;
    ``init_encoders`` gives starting weights per input (e.g. from another checkpoint);
    ``contract`` is how the fusion node will carry and reset the state (each sequence given is
    one stream it steps without a reset), recorded in the checkpoint. The validation figure
    returned is the deployed one: the validation sequences run through the fusion runtime
    (:func:`chance_verdict` says whether it shows that anything was learned)."""
    contract = contract or StateContract()
    seed_everything(config.seed)
    spec = WindowSpec(config.window_length, config.window_hop)
    encoders = {
        m: create_encoder(name, config.encoder_configs.get(m))
        for m, name in config.encoders.items()
    }
    for m, state in (init_encoders or {}).items():
        encoders[m].load_state_dict(state)
    if train_seqs is None or val_seqs is None:
        unknown = sorted(set(config.encoders) - set(SIMULATED_MODALITIES))
        if unknown:
            raise ValueError(
                f'the simulated data has modalities {list(SIMULATED_MODALITIES)}; no {unknown}'
            )
        train_seqs, val_seqs = simulated_splits(config, spec, encoders, progress)
    check_sequences(train_seqs, len(classes), 'training')
    check_sequences(val_seqs, len(classes), 'validation')
    seen = set(np.concatenate([s.labels for s in train_seqs]).tolist())
    missing = [classes[i] for i in range(len(classes)) if i not in seen]
    if missing:
        raise ValueError(f'training split has no windows of class(es) {missing}')

    for m, enc in encoders.items():
        # Only an encoder that overrides fit_data gets the windows gathered (a camera's
        # training windows can take gigabytes).
        if m not in (init_encoders or {}) and type(enc).fit_data is not Encoder.fit_data:
            enc.fit_data(np.concatenate([s.inputs[m] for s in train_seqs]), config.seed)
    modalities = list(config.encoders)
    fusion = FusionModel(
        FusionConfig(
            modalities, [encoders[m].output_dim for m in modalities], len(classes), config.strategy
        )
    )
    if config.front_end == 'linear':
        linear = {
            m: LinearFrontEnd(encoders[m].input_spec.shape, encoders[m].output_dim)
            for m in modalities
        }
        model = ActivityModel(linear, fusion)
        history, val_report = fit(
            model,
            train_seqs,
            val_seqs,
            config,
            classes,
            config.epochs,
            progress,
            'training (linear front end)',
        )
        return TrainResult(None, history, val_report, model)
    model = ActivityModel(encoders, fusion)
    fronts = fixed_fronts(encoders, config)
    # Inputs whose encoder has a fixed front end get it applied once here; the model trained
    # below runs only the heads on them, with the same modules (so the same weights).
    timing: List[Dict[str, float]] = []
    history, val_report = fit(
        ActivityModel(
            {m: _Head(e) if m in fronts else e for m, e in encoders.items()}, fusion
        ) if fronts else model,
        apply_fronts(encoders, fronts, train_seqs),
        apply_fronts(encoders, fronts, val_seqs),
        config,
        classes,
        config.epochs,
        progress,
        f'training ({config.strategy})',
        timing,
    )
    model.eval()
    # Calibration (temperature and unknown threshold) is fitted on the validation windows as
    # the fusion node scores them; without validation sequences there is none.
    calibration: Dict[str, Any] = {}
    if val_seqs:
        val_report = deployed_report(model, val_seqs, classes, contract)
        calibration = dict(val_report['calibration'])
    extra = train_heads(
        model, train_seqs, val_seqs, config, classes, config.extra_strategies, progress
    )
    meta = {
        'train_config': asdict(config),
        'history': history,
        'val_accuracy': val_report['accuracy'] if val_report else None,
        'val_macro_f1': val_report['macro_f1'] if val_report else None,
        'extra_val': {
            k: {'accuracy': v['val_accuracy'], 'macro_f1': v['val_macro_f1']}
            for k, v in extra.items()
        },
        'calibration': dict(calibration),
        'training_time': training_time(timing, train_seqs, config),
        **(metadata or {}),
    }
    ckpt = Checkpoint.from_models(
        list(classes),
        spec,
        dict(model.encoders.items()),
        config.encoders,
        model.fusion,
        meta,
        extra_fusion={k: v['model'] for k, v in extra.items()},
        inputs=inputs,
        runtime=contract.to_dict(),
        calibration=calibration,
    )
    return TrainResult(ckpt, history, val_report, model)


def deployed_report(
    model: ActivityModel,
    sequences: Sequence[SequenceData],
    classes: Sequence[str],
    contract: StateContract,
    keep: float = 0.95,
) -> Dict[str, Any]:
    """Scores of ``sequences`` (each a stream the node steps without a reset) run through the
    fusion runtime window by window, as the robot runs them.

    ``calibration`` is the :class:`~hybrid_fusion_ros.core.calibration.Calibration` fitted
    on these same deployed probabilities (``fit_calibration``, ``keep`` of the correct windows
    kept), as a dict. The scores are then those of the labels the graph publishes with it, as
    ``hybrid-fusion eval`` scores them: a window whose calibrated confidence is below the
    threshold is labelled unknown and left out of accuracy and F1 (``unknown_windows``;
    ``known_coverage`` is the share of labelled windows with a class); ``all_windows`` has the
    accuracy and macro-F1 of the arg-max over every labelled window, unknown or not."""
    from hybrid_fusion_ros.core.calibration import fit_calibration
    from .streaming import stream_predictions

    probs = stream_predictions(model, [[s] for s in sequences], classes, contract)
    y = np.concatenate([s.labels for s in sequences])
    got = np.isfinite(probs).all(axis=1)
    calibration = fit_calibration(probs, y, keep=keep)
    known = got.copy()
    if got.any():
        calibrated = calibration.probabilities(np.log(np.maximum(probs[got], 1e-12)))
        known[got] = calibrated.max(axis=1) >= calibration.threshold
    report = labelled_report(y[known], probs[known].argmax(axis=1), classes)
    every = labelled_report(y[got], probs[got].argmax(axis=1), classes)
    report['all_windows'] = {'accuracy': every['accuracy'], 'macro_f1': every['macro_f1']}
    report['windows_without_label'] = int(((y >= 0) & ~got).sum())
    report['unknown_windows'] = int((got & ~known & (y >= 0)).sum())
    report['known_coverage'] = float(known.sum() / got.sum()) if got.any() else 0.0
    report['evaluated_as'] = f'fusion runtime, reset_after {contract.reset_after:g} s'
    report['calibration'] = calibration.to_dict()
    return report


def label_runs(sequences: Sequence[SequenceData]) -> int:
    """Runs of consecutive windows with one label (unlabelled windows not counted): the
    number of independent pieces of evidence a validation set holds, roughly."""
    runs = 0
    for seq in sequences:
        y = np.asarray(seq.labels)
        starts = np.r_[True, y[1:] != y[:-1]] if len(y) else np.zeros(0, bool)
        runs += int((starts & (y >= 0)).sum())
    return runs


def chance_verdict(
    report: Mapping[str, Any], classes: Sequence[str], runs: Optional[int] = None
) -> Optional[str]:
    """Why a validation report says the model learned nothing, or None.

    The balanced accuracy (mean recall over the classes validated) must beat guessing, 1/C,
    by two standard errors of a guess over ``runs`` independent trials: the labelled runs
    (:func:`label_runs`), since a run's windows are not independent of each other; without
    ``runs``, the windows. A floor that catches a model that learned nothing, not a
    significance test."""
    per_class = report.get('per_class', {})
    recalls = [v['recall'] for v in per_class.values() if v.get('support', 0) > 0]
    windows = sum(v.get('support', 0) for v in per_class.values())
    if not recalls or windows == 0:
        return 'validation scored no window: nothing says the model works'
    n = max(1, min(windows, runs or windows))
    p = 1.0 / len(classes)
    floor = p + 2.0 * math.sqrt(p * (1 - p) / n)
    balanced = float(np.mean(recalls))
    if balanced > floor:
        return None
    return (
        f'validation is at chance: balanced accuracy {balanced:.3f} over {windows} windows in'
        f' {n} labelled runs, chance {p:.3f} (floor {floor:.3f}) for {len(classes)} classes.'
        ' The model learned nothing'
        ' it can use: check the labels and inputs (hybrid-fusion inspect BAG...), train longer'
        ' (epochs), or give more recordings per class (--keep-at-chance writes it anyway)'
    )
