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

"""seglearn's smartwatch dataset (real recordings) and a classical baseline on it.

140 recordings of 6-axis inertial data (acceleration in g, angular velocity in rad/s) at
50 Hz, from 10 subjects doing 7 shoulder exercises (20 recordings per class, 14 per
subject). Read from the data file inside the ``seglearn`` wheel, without importing
seglearn (whose package import needs pandas).
"""

from __future__ import annotations

from dataclasses import dataclass
import importlib.util
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.core.encoders import Encoder
from hybrid_fusion_ros.core.windows import window_ends_between
from hybrid_fusion_ros.core.windows import WindowSpec
from .dataset import cut_windows
from .dataset import SequenceData

WATCH_RATE_HZ = 50.0


@dataclass
class WatchRecording:
    samples: np.ndarray  # (N, 6)
    label: int
    subject: int


def watch_data_path() -> Path:
    spec = importlib.util.find_spec('seglearn')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            'the seglearn package is not installed (pip install seglearn==1.2.5)'
        )
    return Path(list(spec.submodule_search_locations)[0]) / 'data' / 'watch_dataset.npy'


def load_watch() -> Tuple[List[WatchRecording], List[str]]:
    raw = np.load(watch_data_path(), allow_pickle=True).item()
    recordings = [
        WatchRecording(np.asarray(x, dtype=np.float64), int(y), int(s))
        for x, y, s in zip(raw['X'], raw['y'], raw['subject'])
    ]
    return recordings, [str(n) for n in raw['y_labels']]


def recording_sequence(
    rec: WatchRecording, spec: WindowSpec, encoder: Encoder, rate_hz: float = WATCH_RATE_HZ
) -> SequenceData:
    """A recording cut into grid windows and preprocessed by ``encoder``; every window
    carries the recording's label."""
    stamps = np.arange(len(rec.samples)) / rate_hz
    ends = window_ends_between(spec, spec.length - 1e-9, float(stamps[-1]))
    windows = cut_windows({'imu': (stamps, rec.samples)}, spec, ends)['imu']
    inputs = {'imu': np.stack([encoder.preprocess(w) for w in windows])}
    return SequenceData(inputs, np.full(len(windows), rec.label), ends)


def subject_folds(subjects: Sequence[int], folds: int) -> List[List[int]]:
    """Subjects split into ``folds`` disjoint groups (sorted, round-robin)."""
    unique = sorted(set(subjects))
    if folds < 2 or folds > len(unique):
        raise ValueError(f'folds must be in [2, {len(unique)}], got {folds}')
    return [unique[i::folds] for i in range(folds)]


def window_features(window: np.ndarray, rate_hz: float = WATCH_RATE_HZ) -> np.ndarray:
    """Engineered features of one ``(N, C)`` window: per channel mean, std, min, max, median,
    interquartile range, RMS, mean absolute first difference, zero crossings of the demeaned
    signal, dominant frequency and its share of spectral power; plus the correlations
    between channels."""
    x = np.asarray(window, dtype=np.float64)
    centred = x - x.mean(axis=0)
    q25, q50, q75 = np.percentile(x, [25, 50, 75], axis=0)
    spectrum = np.abs(np.fft.rfft(centred, axis=0)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate_hz)
    peak = spectrum[1:].argmax(axis=0) + 1
    share = spectrum[peak, np.arange(x.shape[1])] / np.maximum(spectrum[1:].sum(axis=0), 1e-12)
    crossings = (np.diff(np.signbit(centred), axis=0) != 0).sum(axis=0)
    std = x.std(axis=0)
    corr = np.corrcoef(centred.T) if (std > 1e-12).all() else np.zeros((x.shape[1], x.shape[1]))
    upper = corr[np.triu_indices(x.shape[1], k=1)]
    per_channel = [
        x.mean(axis=0),
        std,
        x.min(axis=0),
        x.max(axis=0),
        q50,
        q75 - q25,
        np.sqrt((x**2).mean(axis=0)),
        np.abs(np.diff(x, axis=0)).mean(axis=0),
        crossings,
        freqs[peak],
        share,
    ]
    return np.nan_to_num(np.concatenate([*per_channel, upper]))


def recording_features(
    rec: WatchRecording, spec: WindowSpec, rate_hz: float = WATCH_RATE_HZ
) -> np.ndarray:
    """Engineered features of every grid window of a recording, ``(T, F)`` (same windows as
    :func:`recording_sequence`)."""
    stamps = np.arange(len(rec.samples)) / rate_hz
    ends = window_ends_between(spec, spec.length - 1e-9, float(stamps[-1]))
    windows = cut_windows({'imu': (stamps, rec.samples)}, spec, ends)['imu']
    return np.stack([window_features(w.samples, rate_hz) for w in windows])


BASICMOTIONS_RATE_HZ = 10.0


def load_ts(path: Path | str) -> Tuple[List[WatchRecording], List[str]]:
    """A multivariate, equal-length UEA ``.ts`` file (e.g. BasicMotions): recordings of shape
    ``(length, dimensions)`` and the class names from its ``@classLabel`` line, in order."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f'{path}: no such file (scripts/fetch_basicmotions.sh fetches BasicMotions)'
        )
    classes: List[str] = []
    recordings: List[WatchRecording] = []
    in_data = False
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        if not in_data:
            if line.lower().startswith('@classlabel'):
                classes = line.split()[2:]
            in_data = line.lower() == '@data'
            continue
        *dims, label = line.split(':')
        try:
            samples = np.array([[float(v) for v in d.split(',')] for d in dims]).T
        except ValueError as exc:
            raise ValueError(f'{path}:{n}: not numeric: {exc}') from exc
        if label not in classes:
            raise ValueError(f"{path}:{n}: class '{label}' is not in @classLabel {classes}")
        recordings.append(WatchRecording(samples, classes.index(label), -1))
    if not recordings:
        raise ValueError(f'{path}: no @data rows')
    return recordings, classes
