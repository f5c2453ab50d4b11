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

"""Labelled recordings as training data: bags in, windowed and labelled sequences out.

The path reads top-down, each step a module below this one: the bags (``bags/bag.py``) ->
their plan: topics, inputs, ground truth (``plan.py``) -> what the data says of each input:
rates, shapes, pauses (``recordings.probe_inputs``, ``inspection.py``) -> the window, chosen
from the data (``core/windows.derive_window``) and the state contract (``core/contract.py``)
-> the window cache (``recordings.build_all``) -> labelled sequences (:class:`RecordingSet`).
Training (``training/pipeline.py``) starts from a :class:`RecordingSet`; evaluation plans its
bags with the same ``plan.py`` and cuts the same windows in the nodes.

Everything is checked before any window is built: the inputs each bag maps, their types, the
ground truth, the classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.contract import derive_contract
from hybrid_fusion_ros.core.contract import StateContract
from hybrid_fusion_ros.core.inputs import ModelInput
from hybrid_fusion_ros.core.windows import derive_window
from hybrid_fusion_ros.core.windows import WindowSpec
from .dataset import SequenceData
from .plan import BagPlan
from .plan import plan_bag
from .recordings import build_all
from .recordings import CachedRecording
from .recordings import labelled_sequences
from .recordings import probe_inputs
from .truth import GroundTruthError
from ..bags.bag import BagError


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
    from .plan import inputs_from_map

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
    min_classes: int = 2,
) -> RecordingSet:
    """Plan, probe, window (cached) and label every bag; errors name what to fix. ``spec``
    None: the window is derived from the labelled segments (:func:`derive_window`).
    ``min_classes``: how many classes the labels must name (1 for examples of one activity,
    as ``hybrid-fusion teach`` reads its takes)."""
    from .plan import parse_target
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
    if len(classes) < min_classes:
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
