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

"""Teach a trained model a new activity from a few takes; forget, rename or merge classes.

Every operation makes a *child* checkpoint of a *parent* and records where it came from
(``parent_model_id``, ``parent_checkpoint``, ``lineage``: the model ids of every ancestor).

:func:`teach` (few-shot, on frozen encoders):

- the encoders are the parent's, bit for bit (the child's ``encoders`` section is a copy of the
  parent's, tensors cloned); each window's features are computed once, by them, and
  training, calibration and check run the fusion models on those features (the same as
  running the frozen encoders again);
- the child's primary fusion model is the parent's architecture with one class more, started
  from the parent's weights (every tensor copied; the classifier's rows of the old classes are
  the parent's, the new class's row starts at zero) and trained (:func:`~.train.fit`, the
  classes weighted by inverse frequency, ``keep='last'``: a few takes are too few to stop
  early on) on the teaching takes together with *replayed* windows of the old classes (the
  :class:`Knowledge` of the parent, at most ``replay_windows`` of them), so that the old
  classes are not forgotten;
- the calibration (temperature, unknown threshold) is fitted again, as training fits it
  (:func:`~.train.deployed_report`), on the knowledge's validation windows and the held-out
  takes (when only the new class's row was trained, the old classes' scores are the parent's
  and so is the temperature); the threshold is then lowered, if need be, to the same quantile
  over the new class's own right answers, so that the new class is held to its own confidence
  and not only to the old classes' (a parent sure of its classes has a threshold near 1);
- the child is *checked* as the fusion node runs it (the fusion runtime, window by window,
  the calibration applied, ``unknown`` counted as wrong): the held-out takes must be labelled
  as the new class on at least ``min_new_accuracy`` of their windows, and on the knowledge's
  validation windows the child may be at most ``max_old_drop`` less accurate than the parent
  (run the same way, with its own calibration; a parent written without one is scored with
  one fitted by the same rule on the same windows, since the rule alone makes about 5 % of
  right answers unknown). The figures and the verdict are in ``TeachResult.check`` and the
  child's metadata; a child that fails is returned all the same (the caller decides not to
  deploy it). As in training, the calibration is fitted on the windows the check then scores
  (the threshold keeps 95 % of their right answers); the held-out takes are never trained on.

Accuracy is the same everywhere in the check: the share of labelled windows published with
their own class (a window labelled unknown, or that got no label, counts as wrong).

Extra fusion models (``extra_fusion``: the ``late`` model the fusion node's late mode needs,
``attention``, ``gmu``): training one on features is as cheap as training the primary (the
fusion models are small; the encoders, the costly part, run once for all), so by default
(``TeachConfig.extra_fusion = 'retrain'``) each is grown and trained the same way as the
primary, warm-started from the parent's own model of that strategy. They are not part of the
check: ``check['extra']`` reports each one's accuracy on the held-out takes and the old
classes' validation windows (arg-max, from a fresh state, no calibration). ``'late'`` retrains
the late model only and drops the others, ``'drop'`` drops them all; what was dropped is
named in the child's metadata ``notes`` (without a ``late`` model the fusion node's late mode
is unavailable for the child).

:func:`merge` retrains in the same way on the knowledge relabelled (the merged classes' rows
start from the mean of their rows in the parent) and checks the merged model on the
knowledge's validation windows against the parent with its answers merged alike: the accuracy
over all classes, and the merged class's own, may each fall at most ``max_old_drop``
(``min_new_accuracy`` is not used: there are no takes of a new activity).
:func:`forget` and :func:`rename` train nothing: ``forget`` drops the class's rows from every
fusion model (late heads included) and keeps the calibration, which stays approximately valid
(the softmax over the remaining classes gives them a little more of the probability: windows of
the forgotten activity are labelled as a remaining one more often than unknown).

Where the old classes' examples come from (:func:`parent_knowledge`): the recordings the parent
was trained on (``--replay BAG ...``), or, for a checkpoint trained on the simulated data, that
simulation regenerated from its ``train_config``.

:func:`simulated_teach_benchmark`: on the SIMULATED data, a parent trained without one class is
taught it from a few seconds of takes, and the figures returned.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import datetime
from datetime import timezone
import re
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from hybrid_fusion_ros.core.calibration import Calibration
from hybrid_fusion_ros.core.calibration import fit_calibration
from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.checkpoint import fusion_entry
from hybrid_fusion_ros.core.contract import StateContract
from hybrid_fusion_ros.core.fusion import FusionConfig
from hybrid_fusion_ros.core.fusion import FusionModel
from .streaming import stream_predictions
from .train import ActivityModel
from .train import deployed_report
from .train import encode_sequences
from .train import fit
from .train import predict
from .train import seed_everything
from .train import SIMULATED_MODALITIES
from .train import simulated_splits
from .train import TrainConfig
from ..data.dataset import SequenceData
from ..data.loading import RecordingSet
from ..data.simulation import CLASSES as SIMULATED_CLASSES

EXTRA_CHOICES = ('retrain', 'late', 'drop')
TRAIN_CHOICES = ('auto', 'head', 'fusion')
# The classifier's tensors, one row per class: the head's Linear (early, attention, gmu) and
# each modality's head (late).
_CLASS_ROWS = re.compile(r'^(head\.\d+|heads\.\d+)\.(weight|bias)$')
_REPLAY_CHUNK = 64  # windows per replayed piece when the replay is subsampled
_SIMULATED_SEED_BASE = 100_000  # simulated_splits' seeds: 100_000 + 1000 * seed + episode
_TAKE_SEEDS = 700  # the benchmark's takes: episodes 700.. past that base, apart from the splits


@dataclass
class TeachConfig:
    # Fixed epochs (keep='last'): a few takes are too few to early-stop on.
    epochs: int = 25
    seed: int = 0
    lr: float = 2e-3
    # Share of the new class's takes (whole takes; at least one if there are 2+, and at least
    # one left to train on) held out for the check; with a single take, its last share of
    # windows.
    holdout: float = 0.3
    # The new class: share of its held-out windows labelled as it (deployed: through the fusion
    # runtime, calibrated, unknown counts as wrong).
    min_new_accuracy: float = 0.9
    # Old classes: accuracy on the parent's validation windows may fall at most this much
    # (absolute) below the parent's on the same windows.
    max_old_drop: float = 0.02
    # At most this many windows of the parent's classes replayed in training (whole
    # sequences, or seeded pieces of them when there are more).
    replay_windows: int = 4000
    # The parent's extra fusion models: 'retrain' them all as the primary is, 'late' retrain
    # the late model only (the fusion node's late mode needs it) and drop the others, 'drop'
    # them all.
    extra_fusion: str = 'retrain'
    seq_len: int = 8  # truncated back-propagation length, in windows
    batch_size: int = 8  # lanes; more when the replay is large (see _fit_config)
    # What is trained: 'head' the new class's classifier row alone (everything else frozen,
    # the old classes' rows included: their scores cannot move), 'fusion' the whole fusion
    # model, 'auto' the head first and the whole fusion model only if the head alone fails the
    # check.
    train: str = 'auto'

    def __post_init__(self) -> None:
        if self.train not in TRAIN_CHOICES:
            raise ValueError(
                f"train must be one of {', '.join(TRAIN_CHOICES)}, got '{self.train}'"
            )
        if self.extra_fusion not in EXTRA_CHOICES:
            raise ValueError(
                f"extra_fusion must be one of {', '.join(EXTRA_CHOICES)}, got "
                f"'{self.extra_fusion}'"
            )
        if not 0.0 < self.holdout < 1.0:
            raise ValueError(f'holdout is a share in (0, 1), got {self.holdout}')
        if self.epochs < 1 or self.replay_windows < 0:
            raise ValueError('epochs must be >= 1 and replay_windows >= 0')


class TeachError(ValueError):
    """A teach, forget, rename or merge that cannot be done; the message names the cause and
    the fix."""


@dataclass
class Knowledge:
    """What the child must not forget: windows of the parent's classes."""

    # Raw windows (preprocessed encoder inputs) labelled with the PARENT's class ids.
    train: List[SequenceData]
    val: List[SequenceData]
    source: str  # one line: where they came from


@dataclass
class TeachResult:
    checkpoint: Checkpoint  # the child
    # new_class, new_accuracy, new_windows, old_accuracy_parent, old_accuracy_child,
    # old_windows, per_class, thresholds, passed, reasons (and more: see _check)
    check: Dict[str, Any]
    seconds: float  # wall time of training and checking
    notes: List[str] = field(default_factory=list)


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, flush=True)


# --- sequences --------------------------------------------------------------------------------
def _slice(seq: SequenceData, a: int, b: int) -> SequenceData:
    return SequenceData(
        {m: x[a:b] for m, x in seq.inputs.items()}, seq.labels[a:b], seq.ends[a:b]
    )


def _labelled(seq: SequenceData, label: int) -> SequenceData:
    return SequenceData(dict(seq.inputs), np.full(len(seq), label, np.int64), seq.ends)


def _relabel(seq: SequenceData, lookup: np.ndarray) -> SequenceData:
    """``seq`` with each label ``y >= 0`` replaced by ``lookup[y]`` (-1 stays -1)."""
    y = np.asarray(seq.labels, dtype=np.int64)
    out = np.full(len(y), -1, np.int64)
    known = y >= 0
    out[known] = lookup[y[known]]
    return SequenceData(seq.inputs, out, seq.ends)


def _windows(seqs: Sequence[SequenceData]) -> int:
    return int(sum(len(s) for s in seqs))


def _check_inputs(parent: Checkpoint, seqs: Sequence[SequenceData], what: str) -> None:
    """Every sequence has each of the parent's inputs, of the shape its encoder takes."""
    shapes = {}
    for m in parent.modalities:
        encoder, _ = parent.build_encoder(m)
        shapes[m] = tuple(encoder.input_spec.shape)
    for i, seq in enumerate(seqs):
        missing = [m for m in parent.modalities if m not in seq.inputs]
        if missing:
            raise TeachError(
                f'{what} {i + 1}: no windows of input(s) {missing} of the model (it has '
                f'{sorted(seq.inputs)}): record every input the model reads'
            )
        for m, shape in shapes.items():
            got = tuple(np.asarray(seq.inputs[m]).shape[1:])
            if len(seq) and got != shape:
                raise TeachError(
                    f"{what} {i + 1}: input '{m}' windows are {got}, the model's encoder takes "
                    f'{shape}: cut them with the model (load_recordings(..., init=parent))'
                )


def _replay(
    seqs: Sequence[SequenceData], limit: int, rng: np.random.Generator
) -> List[SequenceData]:
    """``seqs`` whole when they hold at most ``limit`` windows; else pieces of up to
    :data:`_REPLAY_CHUNK` windows drawn at random (seeded) until ``limit``."""
    if _windows(seqs) <= limit:
        return [s for s in seqs if len(s)]
    pieces = [
        (i, a, min(a + _REPLAY_CHUNK, len(s)))
        for i, s in enumerate(seqs)
        for a in range(0, len(s), _REPLAY_CHUNK)
    ]
    out, total = [], 0
    for k in rng.permutation(len(pieces)):
        if total >= limit:
            break
        i, a, b = pieces[k]
        b = min(b, a + limit - total)
        out.append(_slice(seqs[i], a, b))
        total += b - a
    return out


# --- where the old classes' examples come from ------------------------------------------------
def _why_not_simulated(parent: Checkpoint) -> Optional[str]:
    """Why ``parent`` cannot have its examples regenerated from the simulation (None: it can)."""
    meta = parent.metadata
    if not isinstance(meta.get('train_config'), dict):
        return 'its metadata has no train_config'
    data = str(meta.get('data', 'simulated'))
    if not data.lower().startswith('simulated') or meta.get('inputs'):
        return f'it was trained on {data}'
    edited = [k for k in ('taught', 'merged', 'renamed') if k in meta]
    if edited:
        return f'it was made by teach ({edited[0]}), not trained on the simulation alone'
    odd = [c for c in parent.classes if c not in SIMULATED_CLASSES]
    if odd:
        return f"its class(es) {odd} are not the simulation's"
    for m in parent.modalities:
        if m not in SIMULATED_MODALITIES or parent.input(m).sensor_type != m:
            return f"its input '{m}' is not one of the simulation's {list(SIMULATED_MODALITIES)}"
    return None


def _simulated_knowledge(
    parent: Checkpoint, episodes: Optional[Tuple[int, int]], progress: bool
) -> Knowledge:
    raw = dict(parent.metadata['train_config'])
    known = set(TrainConfig.__dataclass_fields__)
    config = TrainConfig(**{k: v for k, v in raw.items() if k in known})
    if episodes is not None:
        config = replace(config, train_episodes=int(episodes[0]), val_episodes=int(episodes[1]))
    encoders = {m: parent.build_encoder(m)[0] for m in parent.modalities}
    train_seqs, val_seqs = simulated_splits(config, parent.window, encoders, progress)
    lookup = np.array(
        [parent.classes.index(c) if c in parent.classes else -1 for c in SIMULATED_CLASSES]
    )
    return Knowledge(
        [_relabel(s, lookup) for s in train_seqs],
        [_relabel(s, lookup) for s in val_seqs],
        f"SIMULATED episodes regenerated from the checkpoint's train_config (seed "
        f'{config.seed}: {config.train_episodes} training + {config.val_episodes} validation '
        f'episodes of {config.episode_seconds:g} s)',
    )


def _replay_knowledge(parent: Checkpoint, replay: RecordingSet) -> Knowledge:
    if not hasattr(replay, 'sequences') or not hasattr(replay, 'classes'):
        raise TeachError(
            f'replay must be the RecordingSet load_recordings returns, not '
            f'{type(replay).__name__}'
        )
    odd = [c for c in replay.classes if c not in parent.classes]
    if odd:
        raise TeachError(
            f'the replayed recordings have class(es) {odd} the checkpoint does not know (it has '
            f'{parent.classes}): replay the recordings the checkpoint was trained on'
        )
    spec = getattr(replay, 'spec', None)
    if spec is not None and (
        abs(spec.length - parent.window.length) > 1e-6 or abs(spec.hop - parent.window.hop) > 1e-6
    ):
        raise TeachError(
            f'the replayed recordings are cut in windows of {spec.length:g} s every '
            f"{spec.hop:g} s, the checkpoint's are {parent.window.length:g} s every "
            f"{parent.window.hop:g} s: load them with the checkpoint's window"
        )
    lookup = np.array([parent.classes.index(c) for c in replay.classes], dtype=np.int64)
    recordings = [[_relabel(s, lookup) for s in rec] for rec in replay.sequences]
    recordings = [rec for rec in recordings if _windows(rec)]
    if not recordings:
        raise TeachError('the replayed recordings hold no window')
    names = [
        getattr(getattr(r, 'bag', None), 'name', '?') for r in getattr(replay, 'recordings', [])
    ]
    n = len(recordings)
    if n >= 2:
        n_val = min(n - 1, max(1, int(round(0.25 * n))))
        train = [s for rec in recordings[: n - n_val] for s in rec]
        val = [s for rec in recordings[n - n_val:] for s in rec]
        how = f'{n - n_val} recording(s) replayed, the last {n_val} for validation'
    else:
        train, val = [], []
        for seq in recordings[0]:
            cut = int(np.ceil(0.75 * len(seq))) if len(seq) > 1 else len(seq)
            train.append(_slice(seq, 0, cut))
            if cut < len(seq):
                val.append(_slice(seq, cut, len(seq)))
        how = '1 recording replayed: its first 75 % of windows, the last 25 % for validation'
    shown = ', '.join(names[:5]) + (' ...' if len(names) > 5 else '')
    _check_inputs(parent, train + val, 'replayed sequence')
    return Knowledge(
        [s for s in train if len(s)], [s for s in val if len(s)],
        f'{how}' + (f' ({shown})' if shown else ''),
    )


def parent_knowledge(
    parent: Checkpoint,
    replay: Optional[RecordingSet] = None,
    progress: bool = False,
    simulated_episodes: Optional[Tuple[int, int]] = None,
) -> Knowledge:
    """Windows of the parent's classes, to replay while teaching and to check against.

    From ``replay``, the recordings the parent was trained on (loaded by the caller with the
    parent's inputs and window, e.g. ``load_recordings(bags, {}, parent.window, init=parent)``;
    their classes the parent's or a subset): the last ~25 % of the recordings validate (at
    least one, when there are two or more), or, from one recording, the last 25 % of each
    sequence's windows. Without it, for a checkpoint trained on the SIMULATED data, that
    simulation is regenerated from its ``train_config`` (``simulated_episodes``: (training,
    validation) episode counts instead of the config's, to stay fast); any other checkpoint
    raises :class:`TeachError`."""
    if replay is not None:
        return _replay_knowledge(parent, replay)
    why = _why_not_simulated(parent)
    if why is not None:
        raise TeachError(
            f'checkpoint {parent.path or parent.model_id} holds no examples of its classes and '
            f'was not trained on simulated data ({why}): pass the recordings it was trained on '
            '(--replay BAG ...)'
        )
    return _simulated_knowledge(parent, simulated_episodes, progress)


# --- the child's fusion models ----------------------------------------------------------------
def _grown(
    entry: Dict[str, Any], num_classes: int, rows: Sequence[Sequence[int]], seed: int
) -> FusionModel:
    """The fusion model of ``entry`` with ``num_classes`` classes, started from its weights:
    class ``k``'s classifier row is the mean of the parent's rows ``rows[k]`` (empty: zero),
    every other tensor the parent's."""
    seed_everything(seed)
    config = FusionConfig.from_dict({**entry['config'], 'num_classes': num_classes})
    model = FusionModel(config)
    parent = entry['state_dict']
    state = model.state_dict()
    for key, value in state.items():
        old = parent.get(key)
        if old is None:
            continue
        if _CLASS_ROWS.match(key):
            new = value.new_zeros(value.shape)
            for k, src in enumerate(rows):
                if len(src):
                    new[k] = old[list(src)].mean(dim=0)
            state[key] = new
        elif tuple(old.shape) == tuple(value.shape):
            state[key] = old.detach().clone()
    model.load_state_dict(state)
    return model


def _train_new_rows_only(model: FusionModel, fixed: Sequence[int]) -> None:
    """Freeze everything but the classifier rows, and of those the ``fixed`` ones too (their
    gradient is zeroed)."""
    for name, parameter in model.named_parameters():
        rows = bool(_CLASS_ROWS.match(name))
        parameter.requires_grad_(rows)
        if rows and fixed:
            mask = torch.ones(parameter.shape[0], *([1] * (parameter.dim() - 1)))
            mask[list(fixed)] = 0.0
            parameter.register_hook(lambda grad, mask=mask: grad * mask)


@torch.no_grad()
def _restore_rows(
    model: FusionModel,
    parent: Mapping[str, torch.Tensor],
    rows: Sequence[Sequence[int]],
    fixed: Sequence[int],
) -> None:
    """The ``fixed`` classifier rows back to the parent's values."""
    for name, parameter in model.named_parameters():
        if _CLASS_ROWS.match(name) and name in parent:
            for k in fixed:
                parameter[k] = parent[name][rows[k][0]]
        parameter.requires_grad_(True)


def _fit_config(parent: Checkpoint, config: TeachConfig, windows: int) -> TrainConfig:
    """The training settings of a teach: the parent's regularization, few-window chunks."""
    raw = dict(parent.metadata.get('train_config') or {})
    keep = ('modality_dropout', 'drop_one_modality', 'label_smoothing', 'weight_decay',
            'grad_clip', 'warmup_fraction')
    base = {k: raw[k] for k in keep if k in raw}
    # A few takes need short chunks and few lanes; a large replay more lanes, so that an epoch
    # stays about 32 chunks long at most.
    lanes = max(config.batch_size, min(64, -(-windows // (32 * config.seq_len))))
    return TrainConfig(
        encoders={m: parent.encoders[m]['name'] for m in parent.modalities},
        input_types={m: parent.input(m).sensor_type for m in parent.modalities},
        strategy=parent.fusion['config']['strategy'],
        seed=config.seed,
        epochs=config.epochs,
        lr=config.lr,
        seq_len=config.seq_len,
        batch_size=lanes,
        keep='last',
        average_last=0,
        extra_strategies=[],
        **base,
    )


def _identity(fusion: FusionModel) -> ActivityModel:
    return ActivityModel({m: nn.Identity() for m in fusion.modalities}, fusion)


def _train_all(
    parent: Checkpoint,
    classes: List[str],
    rows: Sequence[Sequence[int]],
    train_feats: List[SequenceData],
    config: TeachConfig,
    progress: bool,
    head_only: bool = False,
) -> Tuple[FusionModel, Dict[str, FusionModel], List[str], TrainConfig]:
    """The primary fusion model and the extra ones kept, grown to ``classes`` and trained on
    the features ``train_feats`` (``head_only``: the classifier rows alone); notes on what was
    dropped."""
    tc = _fit_config(parent, config, _windows(train_feats))
    entries = {parent.fusion['config']['strategy']: parent.fusion}
    wanted = {'retrain': list(parent.extra_fusion), 'late': ['late'], 'drop': []}
    notes = []
    for strategy in parent.extra_fusion:
        if strategy in wanted[config.extra_fusion]:
            entries[strategy] = parent.extra_fusion[strategy]
        else:
            notes.append(
                f"the parent's '{strategy}' fusion model was dropped (extra_fusion="
                f"'{config.extra_fusion}')"
                + (": the fusion node's late mode is unavailable" if strategy == 'late' else '')
            )
    models = {}
    for strategy, entry in entries.items():
        model = _grown(entry, len(classes), rows, config.seed)
        fixed = [k for k, src in enumerate(rows) if len(src) == 1]  # the parent's own rows
        if head_only:
            _train_new_rows_only(model, fixed)
        fit(
            _identity(model), train_feats, [], replace(tc, strategy=strategy), classes,
            config.epochs, progress, f'teaching ({strategy})',
        )
        if head_only:  # the optimizer's weight decay may have touched them: the parent's again
            _restore_rows(model, entry['state_dict'], rows, fixed)
        models[strategy] = model.eval()
    primary = models.pop(parent.fusion['config']['strategy'])
    return primary, models, notes, tc


# --- running it as the node does --------------------------------------------------------------
def _published(
    fusion: FusionModel,
    feats: Sequence[SequenceData],
    classes: Sequence[str],
    contract: StateContract,
    calibration: Calibration,
) -> np.ndarray:
    """The class id the fusion node publishes for each window (-1: unknown, or no label), each
    sequence streamed from a fresh runtime with ``calibration`` applied."""
    probs = stream_predictions(_identity(fusion), [[s] for s in feats], classes, contract)
    out = np.full(len(probs), -1, np.int64)
    got = np.isfinite(probs).all(axis=1)
    if got.any():
        calibrated = calibration.probabilities(np.log(np.maximum(probs[got], 1e-12)))
        ids = calibrated.argmax(axis=1)
        ids[calibrated.max(axis=1) < calibration.threshold] = -1
        out[got] = ids
    return out


def _accuracy(y: np.ndarray, pred: np.ndarray) -> Tuple[float, int]:
    """Share of the labelled windows (``y >= 0``) published with their class, and their number."""
    keep = y >= 0
    n = int(keep.sum())
    return (float(np.mean(pred[keep] == y[keep])) if n else 0.0), n


def _per_class(y: np.ndarray, pred: np.ndarray, classes: Sequence[str]) -> Dict[str, Any]:
    out = {}
    for k, name in enumerate(classes):
        mine = y == k
        if mine.any():
            out[name] = {'recall': float(np.mean(pred[mine] == k)), 'support': int(mine.sum())}
    return out


def _labels_of(feats: Sequence[SequenceData]) -> np.ndarray:
    return (
        np.concatenate([np.asarray(s.labels, np.int64) for s in feats])
        if feats else np.zeros(0, np.int64)
    )


def _extra_figures(
    models: Dict[str, FusionModel],
    new_feats: Sequence[SequenceData],
    new_id: Optional[int],
    old_feats: Sequence[SequenceData],
) -> Dict[str, Any]:
    """Arg-max accuracy (fresh state per sequence, no calibration) of the extra models."""
    out = {}
    y_old = _labels_of(old_feats)
    for strategy, model in models.items():
        figures = {'old_accuracy': _accuracy(y_old, predict(_identity(model), old_feats))[0]}
        if new_id is not None and new_feats:
            pred = predict(_identity(model), new_feats)
            figures['new_accuracy'] = float(np.mean(pred == new_id))
        out[strategy] = figures
    return out


def _copied(value: Any) -> Any:
    """A deep copy, tensors cloned."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if hasattr(value, 'detach') and hasattr(value, 'clone'):
        return value.detach().clone()
    return copy.deepcopy(value)


def _lineage(parent: Checkpoint) -> Dict[str, Any]:
    meta: Dict[str, Any] = {
        'parent_model_id': parent.model_id,
        'parent_checkpoint': str(parent.path or ''),
        'lineage': list(parent.metadata.get('lineage', [])) + [parent.model_id],
    }
    for key in ('train_config', 'inputs', 'data'):
        if key in parent.metadata:
            meta[key] = copy.deepcopy(parent.metadata[key])
    return meta


def _child(
    parent: Checkpoint,
    classes: List[str],
    fusion: Dict[str, Any],
    extra: Dict[str, Dict[str, Any]],
    metadata: Dict[str, Any],
    calibration: Dict[str, Any],
) -> Checkpoint:
    return Checkpoint(
        classes=list(classes),
        window=replace(parent.window),
        encoders=_copied(parent.encoders),
        fusion=fusion,
        metadata=metadata,
        extra_fusion=extra,
        runtime=copy.deepcopy(parent.runtime),
        calibration=dict(calibration),
    )


def _result(
    parent: Checkpoint,
    classes: List[str],
    primary: FusionModel,
    extra: Dict[str, FusionModel],
    notes: List[str],
    tc: TrainConfig,
    config: TeachConfig,
    calibration: Dict[str, Any],
    check: Dict[str, Any],
    seconds: float,
    metadata: Dict[str, Any],
) -> TeachResult:
    """The child of a teach or a merge: ``metadata`` (lineage and what was done) completed
    with the settings, calibration, check and notes every child records."""
    metadata = {
        **metadata,
        'teach_config': asdict(config),
        'fit_config': {'seq_len': tc.seq_len, 'batch_size': tc.batch_size, 'keep': tc.keep},
        'calibration': dict(calibration),
        'check': check,
        'notes': notes,
    }
    child = _child(
        parent, classes, fusion_entry(primary),
        {k: fusion_entry(m) for k, m in extra.items()}, metadata, calibration,
    )
    return TeachResult(child, check, seconds, notes)


def _encoded(parent: Checkpoint, *groups: Sequence[SequenceData]) -> List[List[SequenceData]]:
    """Each group of raw sequences as the parent's (frozen) encoders' features."""
    encoders = {m: parent.build_encoder(m)[0] for m in parent.modalities}
    model = ActivityModel(encoders, parent.build_fusion())
    return [encode_sequences(model, list(g)) for g in groups]


def _old_check(
    parent: Checkpoint,
    child_fusion: FusionModel,
    classes: List[str],
    calibration: Dict[str, Any],
    val_feats: List[SequenceData],
    parent_map: np.ndarray,
    contract: StateContract,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Labels (in the child's ids), the parent's published ids mapped to the child's, and the
    child's, on the knowledge's validation windows; and which calibration the parent ran with.

    A parent without a calibration (written before training fitted one) never says unknown,
    while the child's threshold makes it say unknown for about 5 % of the windows it gets
    right: it is scored with a calibration fitted by the same rule on the same windows, so
    that the comparison measures what the child forgot, not the unknown label."""
    y = _labels_of(val_feats)
    y = np.where(y >= 0, parent_map[np.maximum(y, 0)], -1)
    parent_fusion = parent.build_fusion()
    if Calibration.from_dict(parent.calibration).identity:
        fitted = deployed_report(_identity(parent_fusion), val_feats, parent.classes, contract)
        parent_cal = Calibration.from_dict(fitted['calibration'])
        how = 'none in the checkpoint: fitted on these windows by the same rule for the check'
    else:
        parent_cal = Calibration.from_dict(parent.calibration)
        how = "the checkpoint's"
    parent_pred = _published(parent_fusion, val_feats, parent.classes, contract, parent_cal)
    parent_pred = np.where(parent_pred >= 0, parent_map[np.maximum(parent_pred, 0)], -1)
    child_pred = _published(
        child_fusion, val_feats, classes, contract, Calibration.from_dict(calibration)
    )
    return y, parent_pred, child_pred, how


# --- teach ------------------------------------------------------------------------------------
def _split_takes(
    takes: Sequence[SequenceData], holdout: float
) -> Tuple[List[SequenceData], List[SequenceData]]:
    """(training, held-out) takes: the last ``holdout`` of them whole, at least one and one
    left; a single take: its last ``holdout`` of windows."""
    n = len(takes)
    if n >= 2:
        n_held = min(n - 1, max(1, int(round(holdout * n))))
        return list(takes[: n - n_held]), list(takes[n - n_held:])
    only = takes[0]
    if len(only) < 2:
        raise TeachError(
            f'a single take of {len(only)} window(s) cannot be split into training and a '
            'held-out check: record a longer take, or more takes'
        )
    n_held = min(len(only) - 1, max(1, int(round(holdout * len(only)))))
    return [_slice(only, 0, len(only) - n_held)], [_slice(only, len(only) - n_held, len(only))]


def teach(
    parent: Checkpoint,
    label: str,
    takes: Sequence[SequenceData],
    knowledge: Knowledge,
    config: Optional[TeachConfig] = None,
    *,
    add_examples: bool = False,
    bags: Sequence[str] = (),
    progress: bool = False,
) -> TeachResult:
    """A child of ``parent`` that knows activity ``label`` from ``takes`` (raw windows, one
    sequence per take; their labels are ignored: every window is ``label``), trained on the
    parent's frozen encoders with ``knowledge`` replayed, and checked (see the module)."""
    config = config or TeachConfig()
    label = str(label).strip()
    if not label:
        raise TeachError('the new activity needs a name')
    if label in parent.classes and not add_examples:
        raise TeachError(
            f"'{label}' exists in the model's classes ({', '.join(parent.classes)}): use "
            'add_examples to give it more examples, or choose another name'
        )
    if not takes:
        raise TeachError(f"no takes of '{label}': record at least one (better three)")
    short = [i + 1 for i, t in enumerate(takes) if len(t) == 0]
    if short:
        raise TeachError(
            f'take(s) {short} hold no window: each take must last at least one window '
            f'({parent.window.length:g} s) with every input present; record them again'
        )
    _check_inputs(parent, takes, 'take')
    if not knowledge.train or not knowledge.val:
        raise TeachError(
            'the knowledge of the parent has no training or no validation windows: replay more '
            'of its recordings (--replay BAG ...)'
        )
    _check_inputs(parent, knowledge.train + knowledge.val, 'knowledge sequence')
    started = time.monotonic()
    added = label not in parent.classes
    classes = list(parent.classes) + ([label] if added else [])
    new_id = classes.index(label)
    rows = [[k] for k in range(len(parent.classes))] + ([[]] if added else [])
    contract = StateContract.from_dict(parent.runtime)

    train_takes, held_takes = _split_takes(
        [_labelled(t, new_id) for t in takes], config.holdout
    )
    replayed = _replay(knowledge.train, config.replay_windows, np.random.default_rng(config.seed))
    _say(
        progress,
        f"teaching '{label}': {_windows(train_takes)} windows of {len(train_takes)} take(s) "
        f'({_windows(held_takes)} held out), {_windows(replayed)} windows of the old classes '
        f'replayed ({knowledge.source})',
    )
    replay_feats, take_feats, held_feats, val_feats = _encoded(
        parent, replayed, train_takes, held_takes, knowledge.val
    )
    modes = {'auto': ['head', 'fusion'], 'head': ['head'], 'fusion': ['fusion']}[config.train]
    tried = []
    for mode in modes:
        outcome = _attempt(
            parent, label, classes, rows, new_id, replay_feats + take_feats, held_feats,
            val_feats, contract, config, progress, mode,
        )
        tried.append(outcome)
        if outcome[5]['passed']:
            break
    primary, extra, notes, tc, calibration, check = tried[-1]
    check['trained'] = modes[len(tried) - 1]
    check['tried'] = [
        {
            'trained': modes[k],
            'new_accuracy': o[5]['new_accuracy'],
            'old_accuracy_child': o[5]['old_accuracy_child'],
            'passed': o[5]['passed'],
        }
        for k, o in enumerate(tried)
    ]
    seconds = time.monotonic() - started
    metadata = {
        **_lineage(parent),
        'taught': {
            'label': label,
            'added': added,
            'when': datetime.now(timezone.utc).isoformat(timespec='seconds'),
            'bags': [str(b) for b in bags],
            'takes': len(takes),
            'windows': _windows(takes),
            'held_out_windows': _windows(held_takes),
            'replayed_windows': _windows(replayed),
            'knowledge': knowledge.source,
            'seconds': seconds,
        },
    }
    return _result(parent, classes, primary, extra, notes, tc, config, calibration, check,
                   seconds, metadata)


def _rethreshold(
    calibration: Calibration, probs: np.ndarray, labels: np.ndarray, new_id: int
) -> Dict[str, Any]:
    """``calibration`` with its threshold chosen again on deployed ``probs`` (rows of
    ``labels``) at its temperature: training's rule (``choose_threshold``) over every class,
    lowered, if need be, to the same quantile over the right answers of class ``new_id`` alone,
    so that the taught class keeps as large a share of its right answers as the others do."""
    from hybrid_fusion_ros.core.calibration import choose_threshold

    got = np.isfinite(probs).all(axis=1) & (labels >= 0)
    calibrated = calibration.probabilities(np.log(np.maximum(probs[got], 1e-12)))
    y = labels[got]
    threshold = choose_threshold(calibrated, y)
    own = y == new_id
    if own.any() and (calibrated[own].argmax(axis=1) == new_id).any():
        threshold = min(threshold, choose_threshold(calibrated[own], y[own]))
    return {
        **calibration.to_dict(),
        'threshold': threshold,
        'rule': (
            f'{calibration.rule}; the threshold at most the same quantile over the taught'
            " class's own right answers"
        ),
    }


def _attempt(
    parent: Checkpoint,
    label: str,
    classes: List[str],
    rows: Sequence[Sequence[int]],
    new_id: int,
    train_feats: List[SequenceData],
    held_feats: List[SequenceData],
    val_feats: List[SequenceData],
    contract: StateContract,
    config: TeachConfig,
    progress: bool,
    mode: str,
) -> Tuple[FusionModel, Dict[str, FusionModel], List[str], TrainConfig, Dict[str, Any], Dict]:
    """Train the child one way (``mode``: 'head' or 'fusion') and check it."""
    primary, extra, notes, tc = _train_all(
        parent, classes, rows, train_feats, config, progress, head_only=mode == 'head'
    )
    # The deployed probabilities of the windows the calibration is fitted on, streamed once
    # for both the temperature and the threshold.
    fit_on = val_feats + held_feats
    probs = stream_predictions(_identity(primary), [[s] for s in fit_on], classes, contract)
    labels = np.concatenate([s.labels for s in fit_on])
    if mode == 'head' and parent.calibration:
        # The old classes' scores are the parent's: so is the temperature their probabilities
        # are calibrated with.
        fitted = Calibration.from_dict(parent.calibration)
    else:
        fitted = fit_calibration(probs, labels)  # as deployed_report fits it
    # The threshold holds the new class to its own confidence, not only to the old classes'
    # (a parent sure of its classes has a threshold near 1 that would call every window of a
    # class taught from a minute of examples unknown).
    calibration = (
        _rethreshold(fitted, probs, labels, new_id) if not fitted.identity else fitted.to_dict()
    )
    # The check.
    held_pred = _published(
        primary, held_feats, classes, contract, Calibration.from_dict(calibration)
    )
    new_accuracy = float(np.mean(held_pred == new_id)) if len(held_pred) else 0.0
    identity_map = np.arange(len(parent.classes))
    y_old, parent_pred, child_pred, parent_calibration = _old_check(
        parent, primary, classes, calibration, val_feats, identity_map, contract
    )
    old_parent, old_windows = _accuracy(y_old, parent_pred)
    old_child, _ = _accuracy(y_old, child_pred)
    y_all = np.concatenate([y_old, np.full(len(held_pred), new_id)])
    per_class = _per_class(y_all, np.concatenate([child_pred, held_pred]), classes)
    check: Dict[str, Any] = {
        'new_class': label,
        'new_accuracy': new_accuracy,
        'new_windows': int(len(held_pred)),
        'new_unknown': int((held_pred == -1).sum()),
        'old_accuracy_parent': old_parent,
        'old_accuracy_child': old_child,
        'old_windows': old_windows,
        'per_class': per_class,
        'per_class_parent': _per_class(y_old, parent_pred, parent.classes),
        'parent_calibration': parent_calibration,
        'thresholds': {
            'min_new_accuracy': config.min_new_accuracy,
            'max_old_drop': config.max_old_drop,
        },
        'scored_as': (
            'fusion runtime window by window, calibrated; unknown counts as wrong; reset after '
            f'{contract.reset_after:g} s'
        ),
        'extra': _extra_figures(extra, held_feats, new_id, val_feats),
    }
    reasons = []
    if new_accuracy < config.min_new_accuracy:
        reasons.append(
            f"'{label}' was recognized on {100 * new_accuracy:.1f} % of its "
            f'{len(held_pred)} held-out windows ({check["new_unknown"]} unknown), below '
            f'{100 * config.min_new_accuracy:.0f} %: record more or longer takes, or more '
            'varied ones'
        )
    if old_windows == 0:
        reasons.append('no labelled validation window of the old classes to check them on')
    elif old_parent - old_child > config.max_old_drop:
        reasons.append(
            f'the old classes fell from {100 * old_parent:.1f} % to {100 * old_child:.1f} % '
            f'(more than {100 * config.max_old_drop:.0f} points): the new activity looks like '
            'an old one, or replay more of the recordings the model was trained on'
        )
    check['passed'] = not reasons
    check['reasons'] = reasons
    return primary, extra, notes, tc, calibration, check


# --- forget, rename, merge --------------------------------------------------------------------
def _known(parent: Checkpoint, label: str) -> int:
    if label not in parent.classes:
        raise TeachError(
            f"'{label}' is not a class of the model (it has {', '.join(parent.classes)})"
        )
    return parent.classes.index(label)


def forget(parent: Checkpoint, label: str) -> Checkpoint:
    """A child of ``parent`` without class ``label``: its rows dropped from every fusion model
    (late heads included), nothing retrained, the calibration kept."""
    drop = _known(parent, label)
    if len(parent.classes) <= 2:
        raise TeachError(
            f"the model has {len(parent.classes)} classes ({', '.join(parent.classes)}): it "
            'needs two at least, so none can be forgotten'
        )
    keep = [k for k in range(len(parent.classes)) if k != drop]
    classes = [parent.classes[k] for k in keep]
    rows = [[k] for k in keep]

    def shrunk(entry: Dict[str, Any]) -> Dict[str, Any]:
        return fusion_entry(_grown(entry, len(classes), rows, 0).eval())

    metadata = {
        **_lineage(parent),
        'forgot': label,
        'when': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'calibration': dict(parent.calibration),
        'notes': [
            f"'{label}' forgotten: its rows removed from every fusion model, nothing retrained; "
            "the calibration is the parent's and only approximately valid (the probability "
            'the class took goes to the others: its windows are labelled as a remaining '
            'class more often than unknown)'
        ],
    }
    return _child(
        parent, classes, shrunk(parent.fusion),
        {k: shrunk(e) for k, e in parent.extra_fusion.items()}, metadata, parent.calibration,
    )


def rename(parent: Checkpoint, old: str, new: str) -> Checkpoint:
    """A child of ``parent`` with class ``old`` named ``new``; the weights unchanged."""
    index = _known(parent, old)
    new = str(new).strip()
    if not new:
        raise TeachError('the new name is empty')
    if new in parent.classes:
        raise TeachError(
            f"'{new}' is a class of the model already ({', '.join(parent.classes)}): merge "
            'the two instead, or choose another name'
        )
    classes = list(parent.classes)
    classes[index] = new
    metadata = {
        **_lineage(parent),
        'renamed': {'from': old, 'to': new},
        'when': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'calibration': dict(parent.calibration),
    }
    return _child(
        parent, classes, _copied(parent.fusion), _copied(parent.extra_fusion), metadata,
        parent.calibration,
    )


def merge(
    parent: Checkpoint,
    labels: Sequence[str],
    into: str,
    knowledge: Knowledge,
    config: Optional[TeachConfig] = None,
    progress: bool = False,
) -> TeachResult:
    """A child of ``parent`` whose classes ``labels`` are one, ``into`` (a new name, one of
    ``labels``, or another class, which then joins them), retrained on ``knowledge``
    relabelled as :func:`teach` trains; checked on the knowledge's validation windows against
    the parent with its answers merged alike."""
    config = config or TeachConfig()
    into = str(into).strip()
    merged = list(dict.fromkeys(str(x) for x in labels))
    for name in merged:
        _known(parent, name)
    if into in parent.classes and into not in merged:
        merged.append(into)
    if len(merged) < 2 or not into:
        raise TeachError(
            f'merge needs two classes or more and a name for them (got {merged} into '
            f"'{into}')"
        )
    ids = [parent.classes.index(x) for x in merged]
    first = min(ids)
    classes, rows, lookup = [], [], np.zeros(len(parent.classes), np.int64)
    for k, name in enumerate(parent.classes):
        if k in ids and k != first:
            continue
        lookup_id = len(classes)
        classes.append(into if k == first else name)
        rows.append(sorted(ids) if k == first else [k])
        if k == first:
            for j in ids:
                lookup[j] = lookup_id
        else:
            lookup[k] = lookup_id
    if len(classes) < 2:
        raise TeachError(
            f'merging {merged} leaves a single class: a model needs two at least'
        )
    if not knowledge.train or not knowledge.val:
        raise TeachError(
            'the knowledge of the parent has no training or no validation windows: replay more '
            'of its recordings (--replay BAG ...)'
        )
    started = time.monotonic()
    contract = StateContract.from_dict(parent.runtime)
    replayed = _replay(knowledge.train, config.replay_windows, np.random.default_rng(config.seed))
    replay_feats, val_feats = _encoded(parent, replayed, knowledge.val)
    train_feats = [_relabel(s, lookup) for s in replay_feats]
    primary, extra, notes, tc = _train_all(parent, classes, rows, train_feats, config, progress)
    merged_val = [_relabel(s, lookup) for s in val_feats]
    calibration = dict(
        deployed_report(_identity(primary), merged_val, classes, contract)['calibration']
    )
    y, parent_pred, child_pred, parent_calibration = _old_check(
        parent, primary, classes, calibration, val_feats, lookup, contract
    )
    old_parent, old_windows = _accuracy(y, parent_pred)
    old_child, _ = _accuracy(y, child_pred)
    into_id = classes.index(into)
    mine = y == into_id
    new_child = float(np.mean(child_pred[mine] == into_id)) if mine.any() else 0.0
    new_parent = float(np.mean(parent_pred[mine] == into_id)) if mine.any() else 0.0
    check: Dict[str, Any] = {
        'new_class': into,
        'merged': merged,
        'new_accuracy': new_child,
        'new_accuracy_parent': new_parent,
        'new_windows': int(mine.sum()),
        'old_accuracy_parent': old_parent,
        'old_accuracy_child': old_child,
        'old_windows': old_windows,
        'per_class': _per_class(y, child_pred, classes),
        'per_class_parent': _per_class(y, parent_pred, classes),
        'parent_calibration': parent_calibration,
        'thresholds': {
            'min_new_accuracy': config.min_new_accuracy,
            'max_old_drop': config.max_old_drop,
        },
        'scored_as': (
            'fusion runtime window by window, calibrated; unknown counts as wrong; the '
            "parent's answers merged alike"
        ),
        'extra': _extra_figures(extra, [], None, merged_val),
    }
    reasons = []
    if old_windows == 0 or not mine.any():
        reasons.append('no labelled validation window to check the merged model on')
    else:
        if old_parent - old_child > config.max_old_drop:
            reasons.append(
                f'accuracy with the classes merged fell from {100 * old_parent:.1f} % (the '
                f'parent, answers merged) to {100 * old_child:.1f} %, more than '
                f'{100 * config.max_old_drop:.0f} points'
            )
        if new_parent - new_child > config.max_old_drop:
            reasons.append(
                f"'{into}' was recognized on {100 * new_child:.1f} % of its windows, the parent "
                f'(answers merged) on {100 * new_parent:.1f} %'
            )
    check['passed'] = not reasons
    check['reasons'] = reasons
    seconds = time.monotonic() - started
    metadata = {
        **_lineage(parent),
        'merged': {
            'labels': merged,
            'into': into,
            'when': datetime.now(timezone.utc).isoformat(timespec='seconds'),
            'replayed_windows': _windows(replayed),
            'knowledge': knowledge.source,
            'seconds': seconds,
        },
    }
    return _result(parent, classes, primary, extra, notes, tc, config, calibration, check,
                   seconds, metadata)


# --- the benchmark ----------------------------------------------------------------------------
def _simulated_takes(
    label_id: int,
    seconds: float,
    take_seconds: float,
    spec,
    encoders,
    seed: int,
) -> List[SequenceData]:
    """Takes of simulated class ``label_id``, each from its own episode (another person, room
    and sensor placement), ``take_seconds`` of windows each (the last shorter), ``seconds`` in
    all: episodes whose first activity segment is that class, simulated for that segment only."""
    from ..data.dataset import stream_sequence
    from ..data.simulation import Episode
    from ..data.simulation import episode_streams
    from ..data.simulation import SimulationConfig

    takes: List[SequenceData] = []
    left = float(seconds)
    base = _SIMULATED_SEED_BASE + 1000 * seed + _TAKE_SEEDS
    for k in range(300):
        if left <= 1e-9:
            break
        length = min(take_seconds, left)
        # Windows lie whole inside the segment: their ends span about `length` seconds.
        duration = length + spec.length + spec.hop
        sim = SimulationConfig(min_segment=duration, max_segment=duration)
        episode = Episode(duration, seed=base + k, config=sim, t0=1000.0)
        if int(episode.segment_classes[0]) != label_id:
            continue
        seq = stream_sequence(
            episode_streams(episode), episode.labels, spec, encoders,
            {'audio': float(sim.audio_rate)},
        )
        keep = np.asarray(seq.labels) == label_id
        if keep.any():
            idx = np.flatnonzero(keep)
            takes.append(_slice(seq, int(idx[0]), int(idx[-1]) + 1))
            left -= length
    if left > 1e-9:
        raise TeachError(f'the simulation gave too few episodes of class {label_id}')
    return takes


def simulated_teach_benchmark(
    held_out: str = 'waving',
    seconds_of_examples: float = 60.0,
    seed: int = 0,
    progress: bool = True,
    *,
    train_episodes: int = 16,
    val_episodes: int = 4,
    epochs: int = 15,
    take_seconds: float = 10.0,
    parent_config: Optional[Dict[str, Any]] = None,
    teach_config: Optional[TeachConfig] = None,
) -> Dict[str, Any]:
    """On the SIMULATED data: train a parent on every class but ``held_out`` (its windows
    unlabelled), then teach it ``held_out`` from ``seconds_of_examples`` of takes
    (``take_seconds`` each, each from its own episode) and return the figures.

    The parent: the default encoders (camera, IMU, audio), ``train_episodes`` +
    ``val_episodes`` episodes, ``epochs`` epochs, no extra fusion models (``parent_config``
    overrides any :class:`TrainConfig` field). Its knowledge is :func:`parent_knowledge`'s:
    its own training and validation episodes, regenerated.

    The takes are episodes simulated for the purpose, each one segment of ``held_out`` alone
    (its windows lie whole inside the activity: no transition), a different simulated person,
    room and sensor placement each; teaching holds the last ~30 % of them out for the check."""
    from hybrid_fusion_ros.core.encoders import create_encoder
    from hybrid_fusion_ros.core.windows import WindowSpec
    from .train import train

    if held_out not in SIMULATED_CLASSES:
        raise TeachError(
            f"'{held_out}' is not a simulated class ({', '.join(SIMULATED_CLASSES)})"
        )
    settings = {
        'train_episodes': train_episodes,
        'val_episodes': val_episodes,
        'epochs': epochs,
        'seed': seed,
        'extra_strategies': [],
        **(parent_config or {}),
    }
    config = TrainConfig(**settings)
    held_id = SIMULATED_CLASSES.index(held_out)
    classes = [c for c in SIMULATED_CLASSES if c != held_out]
    lookup = np.array([classes.index(c) if c in classes else -1 for c in SIMULATED_CLASSES])
    spec = WindowSpec(config.window_length, config.window_hop)
    encoders = {
        m: create_encoder(name, config.encoder_configs.get(m))
        for m, name in config.encoders.items()
    }
    started = time.monotonic()
    train_seqs, val_seqs = simulated_splits(config, spec, encoders, progress)
    train_seqs = [_relabel(s, lookup) for s in train_seqs]
    val_seqs = [_relabel(s, lookup) for s in val_seqs]
    simulated_at = time.monotonic()
    result = train(
        config, train_seqs, val_seqs, classes, progress,
        metadata={
            'data': f'simulated (core/simulation.py), {held_out} left unlabelled',
            'held_out': held_out,
        },
    )
    parent = result.checkpoint
    parent_seconds = time.monotonic() - simulated_at
    _say(progress, f'parent: {parent_seconds:.1f} s of training, classes {classes}')
    # The parent's knowledge as a teach of any simulated checkpoint gets it: its episodes
    # regenerated from its train_config (the very episodes it was trained on).
    knowledge_at = time.monotonic()
    knowledge = parent_knowledge(parent, progress=progress)
    knowledge_seconds = time.monotonic() - knowledge_at
    parent_encoders = {m: parent.build_encoder(m)[0] for m in parent.modalities}
    takes = _simulated_takes(
        held_id, seconds_of_examples, take_seconds, spec, parent_encoders, seed
    )
    taught = teach(
        parent, held_out, takes, knowledge, teach_config or TeachConfig(seed=seed),
        progress=progress,
    )
    check = taught.check
    figures = {
        'data': 'SIMULATED (core/simulation.py)',
        'held_out': held_out,
        'seed': seed,
        'parent': {
            'classes': classes,
            'simulate_seconds': simulated_at - started,
            'train_seconds': parent_seconds,
            'val_accuracy': parent.metadata.get('val_accuracy'),
            'episodes': [config.train_episodes, config.val_episodes],
            'epochs': config.epochs,
        },
        'knowledge': knowledge.source,
        'knowledge_seconds': knowledge_seconds,
        'takes': len(takes),
        'seconds_of_examples': float(seconds_of_examples),
        'take_windows': [len(t) for t in takes],
        'teach_seconds': taught.seconds,
        'new_accuracy': check['new_accuracy'],
        'new_windows': check['new_windows'],
        'old_accuracy_parent': check['old_accuracy_parent'],
        'old_accuracy_child': check['old_accuracy_child'],
        'old_windows': check['old_windows'],
        'per_class': check['per_class'],
        'passed': check['passed'],
        'reasons': check['reasons'],
    }
    if progress:
        print(
            f"SIMULATED teach benchmark: '{held_out}' from {len(takes)} take(s), "
            f'{seconds_of_examples:g} s\n'
            f'  parent: {parent_seconds:.1f} s training '
            f"({figures['parent']['simulate_seconds']:.1f} s simulating), classes {classes}\n"
            f'  teach + check: {taught.seconds:.1f} s\n'
            f"  new class: {100 * check['new_accuracy']:.1f} % of {check['new_windows']} "
            'held-out windows\n'
            f"  old classes: parent {100 * check['old_accuracy_parent']:.1f} %, child "
            f"{100 * check['old_accuracy_child']:.1f} % on {check['old_windows']} windows\n"
            f"  {'PASSED' if check['passed'] else 'FAILED: ' + '; '.join(check['reasons'])}",
            flush=True,
        )
    return figures
