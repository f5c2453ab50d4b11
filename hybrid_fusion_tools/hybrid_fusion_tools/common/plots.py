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

"""PNG figures for reports: confusion matrices and latency CDFs (matplotlib, Agg backend,
so they render on a headless robot or CI machine)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def plot_confusion(
    matrix: Sequence[Sequence[int]],
    classes: Sequence[str],
    path: Path | str,
    title: str = 'Confusion matrix',
) -> Path:
    """Row-normalized colours (recall per true class) with the raw counts written in."""
    plt = _pyplot()
    cm = np.asarray(matrix, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 0.8 + 0.65 * n), dpi=110)
    im = ax.imshow(norm, cmap='Blues', vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n), labels=classes, rotation=40, ha='right')
    ax.set_yticks(range(n), labels=classes)
    ax.set_xlabel('predicted')
    ax.set_ylabel('true')
    ax.set_title(title, fontsize=10)
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(
                    j,
                    i,
                    str(int(cm[i, j])),
                    ha='center',
                    va='center',
                    fontsize=8,
                    color='white' if norm[i, j] > 0.6 else 'black',
                )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label='fraction of true class')
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_latency_cdf(
    series: Mapping[str, Sequence[float]],
    path: Path | str,
    title: str = 'Label latency',
    xlabel: str = 'latency (ms)',
) -> Path:
    """One empirical CDF per named series, with the p50 and p99 of each marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for name, values in series.items():
        v = np.sort(np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64))
        if v.size == 0:
            continue
        y = np.arange(1, v.size + 1) / v.size
        (line,) = ax.step(
            v,
            y,
            where='post',
            label=(
                f'{name} (n={v.size}, p50 {np.percentile(v, 50):.1f}, '
                f'p99 {np.percentile(v, 99):.1f} ms)'
            ),
        )
        for q in (50, 99):
            ax.axvline(np.percentile(v, q), color=line.get_color(), linestyle=':', linewidth=0.8)
    if not ax.lines:
        ax.text(0.5, 0.5, 'no labels', transform=ax.transAxes, ha='center', va='center')
    ax.set_xlabel(xlabel)
    ax.set_ylabel('fraction of labels')
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    if ax.lines:
        ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path
