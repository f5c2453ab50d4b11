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

"""The classical baselines run beside the network, on the very windows the network sees (its
preprocessed arrays). ROS-free.

``forest``: engineered features and a random forest. ``minirocket``: MiniRocket's random
convolution features (Dempster et al., KDD 2021, as implemented by ``aeon``) and a ridge
classifier, the configuration of aeon's ``MiniRocketClassifier``. Benchmarks run every available
baseline and hold the network to the stronger one."""

from __future__ import annotations

from contextlib import contextmanager
import sys
from typing import Dict, Iterator, List, Mapping, Sequence

import numpy as np

from ..data.watch import window_features


def _pooled(frames: np.ndarray, cells: int = 4) -> np.ndarray:
    """``(T, F, H, W)`` -> ``(T, F * cells * cells)`` block means (a coarse picture)."""
    t, f, h, w = frames.shape
    rows = np.array_split(np.arange(h), min(cells, h))
    cols = np.array_split(np.arange(w), min(cells, w))
    return np.stack(
        [frames[:, :, r][:, :, :, c].mean(axis=(2, 3)) for r in rows for c in cols], axis=2
    ).reshape(t, -1)


def input_features(x: np.ndarray, sensor_type: str, window_seconds: float) -> np.ndarray:
    """Features of ``(T, *shape)`` preprocessed windows of one input: IMU windows get the
    per-channel statistics, spectrum and cross-correlations of ``core.watch``; camera clips a
    coarse grid of each frame, frame statistics and motion energy between frames; anything
    else per-channel statistics."""
    x = np.asarray(x, dtype=np.float64)
    if sensor_type == 'imu' and x.ndim == 3:
        rate = x.shape[2] / window_seconds
        return np.stack([window_features(w.T, rate) for w in x])
    if x.ndim == 4:  # camera (T, frames, H, W); audio (T, 1, mels, frames)
        motion = (
            np.abs(np.diff(x, axis=1)).mean(axis=(2, 3))
            if x.shape[1] > 1
            else np.zeros((len(x), 0))
        )
        return np.concatenate(
            [
                _pooled(x),
                x.mean(axis=(2, 3)),
                x.std(axis=(2, 3)),
                motion,
                x.mean(axis=(1, 3)),
                x.std(axis=(1, 3)),
            ],
            axis=1,
        )
    flat = x.reshape(len(x), x.shape[1] if x.ndim > 1 else 1, -1)
    return np.concatenate(
        [flat.mean(axis=2), flat.std(axis=2), flat.min(axis=2), flat.max(axis=2)], axis=1
    )


def window_feature_matrix(
    inputs: Mapping[str, np.ndarray],
    types: Mapping[str, str],
    window_seconds: float,
    names: Sequence[str],
) -> np.ndarray:
    """The features of every input in ``names``, side by side: ``(T, F)``."""
    return np.nan_to_num(
        np.concatenate(
            [input_features(inputs[n], types[n], window_seconds) for n in names], axis=1
        )
    )


def random_forest(seed: int, trees: int = 300):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=trees, n_jobs=-1, random_state=seed, class_weight='balanced'
    )


BASELINES: Dict[str, str] = {
    'forest': 'engineered features of the same windows + random forest (300 trees)',
    'minirocket': 'MiniRocket features of the same windows (aeon) + ridge',
}
MINIROCKET_FEATURES = 10_000  # aeon's default kernel budget, shared by the inputs of one model
MINIROCKET_MIN_LENGTH = 9  # MiniRocket's kernels span 9 samples


def available_baselines() -> List[str]:
    """The baselines this install can run: the forest always, MiniRocket when aeon imports."""
    try:
        import aeon.transformations.collection.convolution_based  # noqa: F401
    except ImportError:
        return ['forest']
    return ['forest', 'minirocket']


def choose_baselines(requested: Sequence[str]) -> List[str]:
    """``requested`` checked against what this install can run (empty: all of them)."""
    have = available_baselines()
    if not requested:
        return have
    unknown = [b for b in requested if b not in BASELINES]
    if unknown:
        raise ValueError(f'unknown baseline {unknown}; choose from {sorted(BASELINES)}')
    missing = [b for b in requested if b not in have]
    if missing:
        raise ValueError(
            f'baseline {missing} needs aeon, which does not import here'
            ' (pip install -r requirements/python.txt)'
        )
    return list(dict.fromkeys(requested))


def is_series(x: np.ndarray) -> bool:
    """Windows MiniRocket can take: ``(N, channels, length)`` with length of at least 9."""
    return np.ndim(x) == 3 and np.shape(x)[2] >= MINIROCKET_MIN_LENGTH


def baseline_applies(kind: str, inputs: Sequence[np.ndarray]) -> bool:
    """Whether baseline ``kind`` means anything for a model with these inputs' windows:
    MiniRocket needs at least one series (a depth clip of 8 frames is not one)."""
    return kind != 'minirocket' or any(is_series(x) for x in inputs)


class MiniRocketRidge:
    """MiniRocket features of each IMU-like input ``(N, channels, length)``, side by side with the
    engineered features of any other input (camera clips, spectrograms: MiniRocket is defined for
    series), standardized, then a ridge classifier with aeon's choice of alpha (:func:`_ridge`)."""

    def __init__(
        self,
        types: Mapping[str, str],
        window_seconds: float,
        names: Sequence[str],
        seed: int,
        features: int = MINIROCKET_FEATURES,
    ):
        self.types = dict(types)
        self.window_seconds = window_seconds
        self.names = list(names)
        self.seed = seed
        self.features = features
        self._rockets: Dict[str, object] = {}

    def _matrix(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
        parts = []
        for name in self.names:
            x = np.asarray(batch[name])
            if name in self._rockets:
                parts.append(self._rockets[name].transform(x.astype(np.float32)))
            else:
                parts.append(input_features(x, self.types[name], self.window_seconds))
        return np.nan_to_num(np.concatenate(parts, axis=1).astype(np.float32))

    def fit(self, batch: Mapping[str, np.ndarray], y: np.ndarray) -> 'MiniRocketRidge':
        from aeon.transformations.collection.convolution_based import MiniRocket
        from sklearn.preprocessing import StandardScaler

        series = [n for n in self.names if is_series(batch[n])]
        per_input = self.features // max(1, len(series))
        for k, name in enumerate(series):
            rocket = MiniRocket(n_kernels=per_input, random_state=self.seed + k, n_jobs=-1)
            self._rockets[name] = rocket.fit(np.asarray(batch[name], dtype=np.float32))
        x = self._matrix(batch)
        self._scaler = StandardScaler().fit(x)
        self._head = _ridge(self._scaler.transform(x), y, self.seed)
        return self

    def predict(self, batch: Mapping[str, np.ndarray]) -> np.ndarray:
        return self._head.predict(self._scaler.transform(self._matrix(batch)))


RIDGE_ALPHAS = np.logspace(-3, 3, 10)  # aeon's MiniRocketClassifier's


def _ridge(x: np.ndarray, y: np.ndarray, seed: int):
    """aeon's head: ``RidgeClassifierCV``, alpha by leave-one-out. That is cheap while windows
    are fewer than features (spsw, seglearn, BasicMotions). With more windows than features
    (MEx: 10,000 of each) scikit-learn's solver did not finish one MEx row in 40 minutes on 2
    cores, so alpha is chosen the same way on 4,000 of the windows, drawn with a fixed seed, and
    the ridge is then fitted on all of them."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.linear_model import RidgeClassifierCV

    if len(x) <= x.shape[1]:
        return RidgeClassifierCV(alphas=RIDGE_ALPHAS).fit(x, y)
    pick = np.random.default_rng(seed).choice(len(x), size=min(4000, x.shape[1]), replace=False)
    alpha = RidgeClassifierCV(alphas=RIDGE_ALPHAS).fit(x[pick], y[pick]).alpha_
    return RidgeClassifier(alpha=alpha).fit(x, y)


@contextmanager
def keeps_torch_threads() -> Iterator[None]:
    """Give torch back its thread count afterwards.

    aeon's MiniRocket sets numba's thread count to ``n_jobs``; with numba's OpenMP layer that is
    the OpenMP runtime torch uses too, so a process pinned to one torch thread ran the next
    fold's network on two, and the network's figures then depended on whether baselines had run
    before it (a different summation order moves the last digits, sometimes a whole label).
    """
    torch = sys.modules.get('torch')
    threads = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if torch is not None and torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def fit_predict(
    kind: str,
    train: Sequence[Mapping[str, np.ndarray]],
    y_train: np.ndarray,
    test: Sequence[Mapping[str, np.ndarray]],
    types: Mapping[str, str],
    window_seconds: float,
    names: Sequence[str],
    seed: int,
) -> np.ndarray:
    """Fit baseline ``kind`` on the windows of the ``train`` recordings (each a mapping input ->
    ``(T, *shape)`` preprocessed windows) and predict the windows of ``test``, in order. Torch's
    thread count is the same afterwards (:func:`keeps_torch_threads`)."""
    with keeps_torch_threads():
        return _fit_predict(kind, train, y_train, test, types, window_seconds, names, seed)


def _fit_predict(kind, train, y_train, test, types, window_seconds, names, seed) -> np.ndarray:
    if kind == 'forest':

        def features(recs):
            return np.concatenate(
                [window_feature_matrix(r, types, window_seconds, names) for r in recs]
            )

        return random_forest(seed).fit(features(train), y_train).predict(features(test))
    if kind == 'minirocket':

        def stacked(recs):
            return {n: np.concatenate([np.asarray(r[n]) for r in recs]) for n in names}

        model = MiniRocketRidge(types, window_seconds, names, seed)
        return model.fit(stacked(train), y_train).predict(stacked(test))
    raise ValueError(f'unknown baseline {kind!r}; choose from {sorted(BASELINES)}')
