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

"""Training on labelled recordings: a :class:`~..data.loading.RecordingSet` in (the windows
``data/loading.py`` cut and labelled from the bags), a checkpoint the node graph runs out.

    hybrid-fusion train BAG [BAG ...] --map TOPIC:=INPUT[:TYPE] ... [--truth FILE] \\
        [--val BAG ...] [--folds K --group-by REGEX] [--from CKPT [--freeze-encoders]] -o model.pt

The classes are checked before any weight is trained. Splits are by recording, never by window:
``--val`` bags, or groups of bags (``--group-by``, a regex on the bag name picking the
subject or session; without it each bag is its own group).
"""

from __future__ import annotations

from dataclasses import replace
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.windows import WindowSpec
from ..data.dataset import SequenceData
from ..data.loading import RecordingSet
from ..data.loading import TrainingDataError


def groups_of(names: Sequence[str], pattern: Optional[str]) -> List[str]:
    """Each bag's group: the regex's first group (or whole match) on its name; no regex: the
    bag itself."""
    if not pattern:
        return list(names)
    rx = re.compile(pattern)
    out = []
    for name in names:
        m = rx.search(name)
        if m is None:
            raise TrainingDataError(f"--group-by '{pattern}' does not match bag {name}")
        out.append(m.group(1) if m.groups() else m.group(0))
    return out


def fold_groups(groups: Sequence[str], folds: int, seed: int) -> List[List[str]]:
    unique = sorted(set(groups))
    if not 2 <= folds <= len(unique):
        raise TrainingDataError(
            f'--folds {folds}: the recordings form {len(unique)} group(s); folds must be '
            f'between 2 and {len(unique)}'
        )
    order = np.random.default_rng(seed).permutation(len(unique))
    return [sorted(unique[i] for i in order[k::folds]) for k in range(folds)]


def hold_out(
    idx: Sequence[int], groups: Sequence[str], seed: int, fraction: float = 0.2
) -> Tuple[List[int], List[int]]:
    """Recordings ``idx`` split by group into training and validation (early stopping)."""
    unique = sorted({groups[i] for i in idx})
    if len(unique) < 2:
        raise TrainingDataError(
            'early stopping needs a validation split: give --val bags, or at least two '
            'recordings (groups) to train on'
        )
    rng = np.random.default_rng(seed + 7919)
    n_val = max(1, int(round(fraction * len(unique))))
    val = set(rng.permutation(unique)[:n_val].tolist())
    return [i for i in idx if groups[i] not in val], [i for i in idx if groups[i] in val]


def check_classes(data: RecordingSet, idx: Sequence[int], what: str) -> None:
    seen = {int(c) for i in idx for s in data.sequences[i] for c in np.unique(s.labels)}
    missing = [c for k, c in enumerate(data.classes) if k not in seen]
    if missing:
        bags = ', '.join(data.recordings[i].bag.name for i in idx[:5])
        raise TrainingDataError(
            f'the {what} split ({len(idx)} recording(s): {bags}{" ..." if len(idx) > 5 else ""})'
            f' has no windows of class(es) {missing}: too few recordings of them to split by'
            ' recording. Add recordings of them, choose the validation bags with --val, or'
            ' group bags differently (--group-by)'
        )


# --- normalization and training ---------------------------------------------------------------
def normalization(seqs: Sequence[SequenceData], name: str) -> Tuple[List[float], List[float]]:
    """Per-channel mean and std of input ``name`` over the training windows."""
    total, sq, count = None, None, 0
    for s in seqs:
        x = np.asarray(s.inputs[name], dtype=np.float64)
        axes = (0,) + tuple(range(2, x.ndim))
        total = x.sum(axis=axes) + (0 if total is None else total)
        sq = (x**2).sum(axis=axes) + (0 if sq is None else sq)
        count += x.size // x.shape[1]
    mean = total / count
    std = np.sqrt(np.maximum(sq / count - mean**2, 0.0))
    return mean.tolist(), std.tolist()


def train_on(
    data: RecordingSet,
    train_idx: Sequence[int],
    val_idx: Sequence[int],
    config,
    init: Optional[Checkpoint],
    freeze: bool,
    progress: bool,
    metadata: Optional[Dict[str, Any]] = None,
):
    """Train encoders + fusion on recordings ``train_idx``, early-stopping on ``val_idx``."""
    from .train import train

    check_classes(data, train_idx, 'training')
    if val_idx:
        check_classes(data, val_idx, 'validation')
    train_seqs, val_seqs = data.subset(train_idx), data.subset(val_idx)
    configs = {}
    init_weights = {}
    frozen = []
    for spec in data.inputs:
        cfg = dict(data.encoder_configs[spec.name])
        reuse = (
            init is not None
            and spec.name in init.encoders
            and init.encoders[spec.name]['name'] == spec.encoder
        )
        if reuse:
            init_weights[spec.name] = init.encoders[spec.name]['state_dict']
            if freeze:
                frozen.append(spec.name)
        if not reuse:  # weights taken from a checkpoint keep the statistics they were trained with
            cfg['norm_mean'], cfg['norm_std'] = normalization(train_seqs, spec.name)
        configs[spec.name] = cfg
    cfg = replace(
        config,
        encoders={i.name: i.encoder for i in data.inputs},
        input_types={i.name: i.sensor_type for i in data.inputs},
        encoder_configs=configs,
        frozen_encoders=frozen,
    )
    return train(
        cfg,
        train_seqs,
        val_seqs,
        data.classes,
        progress=progress,
        metadata=metadata,
        inputs={i.name: i for i in data.inputs},
        init_encoders=init_weights,
        contract=data.contract,
    )


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return {'mean': float('nan'), 'std': 0.0, 'n': 0}
    return {
        'mean': float(arr.mean()),
        'std': float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        'n': int(arr.size),
    }


def baseline_scores(
    data: RecordingSet,
    train_idx: Sequence[int],
    test_idx: Sequence[int],
    spec: WindowSpec,
    seed: int,
    names: Optional[Sequence[str]] = None,
    kind: str = 'forest',
) -> Dict[str, Any]:
    """A classical baseline (``core.baseline.BASELINES``) on the same windows."""
    from .baseline import fit_predict
    from hybrid_fusion_ros.core.metrics import classification_report

    names = list(names or [i.name for i in data.inputs])
    types = {i.name: i.sensor_type for i in data.inputs}
    # Baselines classify windows one by one: only labelled windows are theirs.
    train_seqs = [labelled_only(s) for s in data.subset(train_idx)]
    test_seqs = [labelled_only(s) for s in data.subset(test_idx)]
    pred = fit_predict(
        kind,
        [s.inputs for s in train_seqs],
        np.concatenate([s.labels for s in train_seqs]),
        [s.inputs for s in test_seqs],
        types,
        spec.length,
        names,
        seed,
    )
    report = classification_report(
        np.concatenate([s.labels for s in test_seqs]), pred, data.classes
    )
    # Per segment: a baseline gives classes, not probabilities, so its windows vote one each.
    votes = np.eye(len(data.classes), dtype=np.float32)[np.asarray(pred, dtype=np.int64)]
    per_recording, at = [], 0
    for i in test_idx:
        ends = np.concatenate([s.ends[s.labels >= 0] for s in data.sequences[i]] or [[]])
        n = len(ends)
        per_recording.append((ends, votes[at : at + n]))
        at += n
    report['segments'] = segment_scores(data, test_idx, per_recording)
    return report


def segment_scores(
    data: RecordingSet,
    idx: Sequence[int],
    per_recording: Sequence[Tuple[np.ndarray, np.ndarray]],
) -> Dict[str, Any]:
    """Per-segment results (``core.metrics``) over recordings ``idx``: each labelled interval
    of a recording's ground truth against its windows' ``(ends, probabilities)``."""
    from hybrid_fusion_ros.core.metrics import segment_outcomes
    from hybrid_fusion_ros.core.metrics import summarize_segments

    outcomes = []
    for i, (ends, probs) in zip(idx, per_recording):
        outcomes += segment_outcomes(
            data.truths[i].intervals, ends, data.spec.length, probs, data.classes
        )
    return summarize_segments(outcomes, data.classes)


def labelled_only(seq: SequenceData) -> SequenceData:
    keep = seq.labels >= 0
    inputs = {m: x[keep] for m, x in seq.inputs.items()}
    return SequenceData(inputs, seq.labels[keep], seq.ends[keep])


def network_scores(
    model,
    data: RecordingSet,
    test_idx: Sequence[int],
    mask: Sequence[str] = (),
) -> Dict[str, Any]:
    """Window scores of recordings ``test_idx`` as deployed, and per-segment results
    (``segments``); ``mask``: inputs left out, which only the chunked predictor can do, for
    the ablations (window scores only)."""
    from hybrid_fusion_ros.core.metrics import classification_report
    from .train import labelled_report
    from .train import predict

    seqs = data.subset(test_idx)
    y = np.concatenate([s.labels for s in seqs])
    if mask:
        return labelled_report(y, predict(model, seqs, mask), data.classes)
    from .streaming import stream_probabilities

    parts = [
        stream_probabilities(model, data.sequences[i], data.classes, data.contract)
        for i in test_idx
    ]
    probs = np.concatenate(parts) if parts else np.zeros((0, len(data.classes)), np.float32)
    keep = (y >= 0) & np.isfinite(probs).all(axis=1)
    report = classification_report(y[keep], probs[keep].argmax(axis=1), data.classes)
    report['unlabelled_by_runtime'] = int(((y >= 0) & ~np.isfinite(probs).all(axis=1)).sum())
    ends = [np.concatenate([s.ends for s in data.sequences[i]] or [[]]) for i in test_idx]
    report['segments'] = segment_scores(data, test_idx, list(zip(ends, parts)))
    return report
