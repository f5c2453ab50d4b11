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

"""The classical baseline run beside the network: engineered features of the very windows the
network sees (its preprocessed arrays), then a random forest. ROS-free."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .watch import window_features


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
