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

"""Training on labelled recordings: bags in, a checkpoint the node graph runs out.

    hybrid-fusion train BAG [BAG ...] --map TOPIC:=INPUT[:TYPE] ... [--truth FILE] \\
        [--val BAG ...] [--folds K --group-by REGEX] [--from CKPT [--freeze-encoders]] -o model.pt

Everything is checked before any window is built or any weight trained: the inputs each bag
maps, their types, the ground truth, the classes. Splits are by recording, never by window:
``--val`` bags, or groups of bags (``--group-by``, a regex on the bag name picking the
subject or session; without it each bag is its own group).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.contract import derive_contract
from hybrid_fusion_ros.core.contract import StateContract
from hybrid_fusion_ros.core.inputs import ModelInput
from hybrid_fusion_ros.core.windows import derive_window
from hybrid_fusion_ros.core.windows import WindowSpec
from ..bags.bag import BagError
from ..data.dataset import SequenceData
from ..data.plan import BagPlan
from ..data.plan import plan_bag
from ..data.recordings import build_all
from ..data.recordings import CachedRecording
from ..data.recordings import labelled_sequences
from ..data.recordings import probe_inputs
from ..data.truth import GroundTruthError


class TrainingDataError(ValueError):
    """Recordings that cannot be trained on; the message names the bag, topic, input or class."""


@dataclass
class RecordingSet:
    """Labelled, windowed recordings ready to train on."""

    inputs: List[ModelInput]
    encoder_configs: Dict[str, Dict[str, Any]]
    classes: List[str]
    recordings: List[CachedRecording]
    sequences: List[List[SequenceData]]  # per recording
    skipped_bags: List[str] = field(default_factory=list)
    unlabelled_windows: int = 0
    build: Dict[str, float] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)
    contract: StateContract = field(default_factory=StateContract)
    truths: List[Any] = field(default_factory=list)  # per recording, its GroundTruth
    spec: WindowSpec = field(default_factory=WindowSpec)
    window_why: str = ''

    def windows(self, idx: Sequence[int]) -> int:
        """Labelled windows of recordings ``idx``."""
        return sum(int((s.labels >= 0).sum()) for i in idx for s in self.sequences[i])

    def subset(self, idx: Sequence[int]) -> List[SequenceData]:
        return [s for i in idx for s in self.sequences[i]]


def _declared_inputs(first_bag: Path, user_map: Mapping[str, str]) -> List[ModelInput]:
    from ..bags.bag import open_reader
    from ..bags.bag import topics_and_types
    from ..data.plan import inputs_from_map

    try:
        reader = open_reader(first_bag)
    except BagError as exc:
        raise TrainingDataError(str(exc)) from exc
    try:
        return inputs_from_map(topics_and_types(reader), user_map, Path(first_bag).name)
    except BagError as exc:
        raise TrainingDataError(str(exc)) from exc
    finally:
        reader.close()


def _plan_all(
    bags: Sequence[Path],
    user_map: Mapping[str, str],
    truth_file: Optional[Path],
    inputs: Sequence[ModelInput],
    skip_bad: bool,
) -> Tuple[List[BagPlan], List[Dict[str, Dict[str, Any]]], List[str]]:
    """Each bag's plan and what its data says of each input (``probe_inputs``); bags that
    cannot be read are errors, or skipped and named with ``skip_bad``."""
    if truth_file is not None and len(bags) > 1:
        raise TrainingDataError(
            '--truth labels a single bag; for several, put <bag>.labels.csv next to each '
            'or give each bag a label topic'
        )
    reads, probes, skipped = [], [], []
    for bag in bags:
        try:
            read = plan_bag(bag, inputs, user_map, truth_file)
            probe = probe_inputs(read, inputs)
            if read.truth is None:
                raise GroundTruthError(
                    f'{Path(bag).name}: no ground truth: put {Path(bag).name}.labels.csv '
                    '(start,end,label; seconds from the first message) next to it, map a '
                    'label topic with --map TOPIC:=ground_truth, or pass --truth'
                )
        except (BagError, GroundTruthError) as exc:
            if not skip_bad:
                raise TrainingDataError(
                    f'{exc}\n(pass --skip-bad to leave such bags out)'
                ) from exc
            skipped.append(str(exc))
            continue
        reads.append(read)
        probes.append(probe)
    if not reads:
        raise TrainingDataError('no usable bag')
    return reads, probes, skipped


def _encoder_configs(
    reads: Sequence[BagPlan],
    probes: Sequence[Dict[str, Dict[str, Any]]],
    inputs: Sequence[ModelInput],
    init: Optional[Checkpoint],
    overrides: Mapping[str, Mapping[str, Any]],
) -> Tuple[List[ModelInput], Dict[str, Dict[str, Any]], List[Dict[str, float]]]:
    """Encoder configs from what the data says (every bag must agree) and the user's
    ``overrides`` (per input, e.g. a longer IMU resampling ``length``), each input's measured
    rate (the median over bags), and per bag the rates its windows are cut at."""
    configs: Dict[str, Dict[str, Any]] = {}
    out = []
    for spec in inputs:
        first = probes[0][spec.name]
        for read, probe in zip(reads[1:], probes[1:]):
            for key in ('depth', 'channels', 'sample_rate', 'height', 'width'):
                if probe[spec.name].get(key) != first.get(key):
                    raise TrainingDataError(
                        f"input '{spec.name}': {read.bag.name} has"
                        f' {key}={probe[spec.name].get(key)!r}, {reads[0].bag.name} has'
                        f' {first.get(key)!r}: one model input needs one kind of sensor'
                    )
        cfg = dict(first)
        cfg['expected_rate_hz'] = float(
            np.median([p[spec.name]['expected_rate_hz'] for p in probes])
        )
        if (
            init is not None
            and spec.name in init.encoders
            and init.input(spec.name).sensor_type == spec.sensor_type
        ):
            # Start from the checkpoint's encoder: its preprocessing and statistics come with it,
            # so what the data says must fit them.
            old = dict(init.encoders[spec.name]['config'])
            for key in ('depth', 'channels', 'sample_rate'):
                if key in cfg and key in old and cfg[key] != old[key]:
                    raise TrainingDataError(
                        f"--from: input '{spec.name}' of the checkpoint has {key}={old[key]!r}, "
                        f'the recordings have {cfg[key]!r}'
                    )
            old['expected_rate_hz'] = cfg['expected_rate_hz']
            cfg = old
            spec = replace(spec, encoder=init.encoders[spec.name]['name'])
        else:
            cfg.update(overrides.get(spec.name, {}))
        configs[spec.name] = cfg
        out.append(replace(spec, rate_hz=round(cfg['expected_rate_hz'], 3)))
    rates = [{name: p['expected_rate_hz'] for name, p in probe.items()} for probe in probes]
    return out, configs, rates


def audio_spectrogram(spec: WindowSpec, sample_rate: int) -> Dict[str, Any]:
    """The log-mel settings for windows of ``spec`` at ``sample_rate``: the spectrogram covers
    the window (not a fixed second of mostly silence), frames of about 32 ms (a power of two),
    and about 32 frames a window (a hop between an eighth and half a frame). At 16 kHz and
    1 s windows these are the encoder's defaults (512, 256); for 0.25 s words at 8 kHz, 256 and
    62."""
    n_fft = 1 << max(5, int(round(np.log2(0.032 * sample_rate))))
    hop = int(np.clip(round(spec.length * sample_rate / 32), n_fft // 8, n_fft // 2))
    return {'window_seconds': spec.length, 'n_fft': n_fft, 'hop': hop}


def load_recordings(
    bags: Sequence[Path],
    user_map: Mapping[str, str],
    spec: Optional[WindowSpec],
    truth_file: Optional[Path] = None,
    init: Optional[Checkpoint] = None,
    cache_root: Optional[Path] = None,
    jobs: int = 0,
    skip_bad: bool = False,
    progress: bool = True,
    encoder_overrides: Optional[Mapping[str, Mapping[str, Any]]] = None,
    encoder_names: Optional[Mapping[str, str]] = None,
) -> RecordingSet:
    """Plan, probe, window (cached) and label every bag; errors name what to fix. ``spec``
    None: the window is derived from the labelled segments (:func:`derive_window`)."""
    from ..data.plan import parse_target
    from hybrid_fusion_ros.core.paths import dataset_cache_root

    if not bags:
        raise TrainingDataError('no bags given')
    declared = [v for v in user_map.values() if parse_target(v)[0] != 'ground_truth']
    if init is not None and not declared:
        inputs = (
            init.inputs
        )  # no inputs declared: the checkpoint's, found by their training topics
    else:
        inputs = _declared_inputs(bags[0], user_map)
    # The encoder plugin per input, when the user names one (config `encoders:`); else the
    # default of its sensor type.
    inputs = [replace(i, encoder=(encoder_names or {}).get(i.name, i.encoder)) for i in inputs]
    if init is not None:
        for item in inputs:
            if (
                item.name in init.encoders
                and init.input(item.name).sensor_type != item.sensor_type
            ):
                raise TrainingDataError(
                    f"--from: input '{item.name}' is of sensor type "
                    f'{init.input(item.name).sensor_type} in the checkpoint and '
                    f'{item.sensor_type} here: rename one'
                )
    reads, probes, skipped = _plan_all(bags, user_map, truth_file, inputs, skip_bad)
    if spec is None:
        spec, window_why = derive_window(
            [i.end - i.start for r in reads for i in r.truth.intervals]
        )
    else:
        window_why = f'{spec.length:g} s every {spec.hop:g} s (as set)'
    overrides = dict(encoder_overrides or {})
    # One config file serves a dataset's fused run and its single-input runs: entries for inputs
    # this run does not map are left out, and said so.
    unused = sorted(set(overrides) - {i.name for i in inputs})
    notes = (
        [
            f"encoder_configs for input(s) {unused} not used: this run's inputs are "
            f'{[i.name for i in inputs]}'
        ]
        if unused
        else []
    )
    inputs, configs, rates = _encoder_configs(reads, probes, inputs, init, overrides)
    for item in inputs:
        if item.sensor_type == 'audio' and (init is None or item.name not in init.encoders):
            chosen = audio_spectrogram(spec, int(configs[item.name]['sample_rate']))
            mine = overrides.get(item.name, {})
            configs[item.name].update({k: v for k, v in chosen.items() if k not in mine})
    recordings, bad, figures = build_all(
        reads,
        inputs,
        configs,
        spec,
        cache_root or dataset_cache_root(),
        rates,
        jobs,
        progress,
        skip_bad,
    )
    skipped += bad
    by_bag = {r.bag: r for r in reads}
    truths = [by_bag[rec.bag].truth for rec in recordings]
    centre = spec.length / 2
    found = set()
    for rec, truth in zip(recordings, truths):
        labels = {truth.at(float(e) - centre) for e in rec.ends} - {None}
        if not labels:
            raise TrainingDataError(
                f'{rec.bag.name}: its labels ({truth.source}) cover none of its {len(rec.ends)} '
                "windows (times are seconds from the bag's first message, or absolute stamps)"
            )
        found |= labels
    classes = sorted(found)
    _check_every_class_has_windows(recordings, truths, found, spec)
    if len(classes) < 2:
        raise TrainingDataError(
            f'the labels name one class only ({classes}): a classifier needs two or more'
        )
    segments = sum(
        len(_intervals_in(rec, truth, spec)) for rec, truth in zip(recordings, truths)
    )
    contract = derive_contract([rec.ends for rec in recordings], spec.hop, segments)
    sequences, unlabelled = [], 0
    for rec, truth in zip(recordings, truths):
        seqs, n = labelled_sequences(rec, truth, classes, spec, contract.reset_after)
        sequences.append(seqs)
        unlabelled += n
    return RecordingSet(
        inputs,
        configs,
        classes,
        recordings,
        sequences,
        skipped,
        unlabelled,
        figures,
        notes,
        contract,
        truths,
        spec,
        window_why,
    )


def _intervals_in(rec: CachedRecording, truth, spec: WindowSpec) -> List[Any]:
    """The labelled intervals of ``truth`` that ``rec``'s windows reach."""
    if not len(rec.ends):
        return []
    first, last = float(rec.ends[0]) - spec.length, float(rec.ends[-1])
    return [i for i in truth.intervals if i.end > first and i.start < last]


def _check_every_class_has_windows(recordings, truths, found, spec: WindowSpec) -> None:
    """A class the labels name that no window's centre falls in is an error, not a class the
    model silently lacks: its segments are shorter than a window, or lie where the data is
    not."""
    named: Dict[str, List[float]] = {}
    for rec, truth in zip(recordings, truths):
        for i in _intervals_in(rec, truth, spec):
            named.setdefault(i.label, []).append(i.end - i.start)
    lost = sorted(set(named) - set(found))
    if lost:
        lengths = [x for c in lost for x in named[c]]
        hint = max(0.1, round(float(np.percentile(lengths, 10)) / 2, 2))
        raise TrainingDataError(
            f'class(es) {lost} get no window: their labelled segments (median'
            f' {float(np.median(lengths)):.2f} s) hold no complete {spec.length:g} s window'
            f' of every input. Use shorter windows (e.g. window_length: {hint:g} and'
            f' window_hop: {hint / 2:g} in a --config), or check the labels with'
            ' hybrid-fusion inspect'
        )


# --- splits -----------------------------------------------------------------------------------
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
