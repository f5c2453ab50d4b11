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

"""Ground truth for an evaluation: labelled time intervals, from a sidecar file or from a
label topic. ROS-free (the bag reading side lives in ``evaluation.inputs``).

Sidecar formats (times in seconds; values above 1e9 are absolute stamps, smaller ones are
seconds since the bag's first message):

- CSV with a header row ``start,end,label``;
- JSON: ``[{"start": 0.0, "end": 4.0, "label": "walking"}, ...]`` or the same list under
  ``"intervals"``.

A label *topic* gives one label per message, valid from its stamp until the next message
(the last one for one median message spacing).
"""

from __future__ import annotations

from bisect import bisect_right
import csv
from dataclasses import dataclass
import json
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

ABSOLUTE_AFTER = 1e9


class GroundTruthError(ValueError):
    """A ground-truth file or topic that cannot be used; the message says why."""


@dataclass(frozen=True)
class Interval:
    start: float
    end: float
    label: str


class GroundTruth:
    """Non-overlapping labelled intervals; ``at(t)`` is the label at sensor time ``t``."""

    def __init__(self, intervals: Sequence[Interval], source: str) -> None:
        items = sorted(intervals, key=lambda i: i.start)
        for a, b in zip(items, items[1:]):
            if b.start < a.end - 1e-9:
                raise GroundTruthError(
                    f'{source}: intervals overlap: [{a.start}, {a.end}) {a.label} and '
                    f'[{b.start}, {b.end}) {b.label}'
                )
        self.intervals: List[Interval] = items
        self._starts = [i.start for i in items]
        self.source = source

    @property
    def labels(self) -> List[str]:
        return sorted({i.label for i in self.intervals})

    def at(self, t: float) -> Optional[str]:
        k = bisect_right(self._starts, t) - 1
        if k < 0:
            return None
        interval = self.intervals[k]
        return interval.label if t < interval.end else None

    @classmethod
    def from_samples(
        cls, stamps: Sequence[float], labels: Sequence[str], source: str
    ) -> 'GroundTruth':
        """A label stream (one label per message) as intervals."""
        if len(stamps) == 0:
            raise GroundTruthError(f'{source}: no ground-truth messages')
        order = np.argsort(np.asarray(stamps, dtype=np.float64), kind='stable')
        t = np.asarray(stamps, dtype=np.float64)[order]
        lab = [labels[i] for i in order]
        spacing = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
        ends = np.append(t[1:], t[-1] + spacing)
        intervals: List[Interval] = []
        for start, end, label in zip(t, ends, lab):
            if (
                intervals
                and intervals[-1].label == label
                and abs(intervals[-1].end - start) < 1e-9
            ):
                intervals[-1] = Interval(intervals[-1].start, float(end), label)
            elif end > start:
                intervals.append(Interval(float(start), float(end), label))
        return cls(intervals, source)

    @classmethod
    def from_file(cls, path: Path | str, bag_start: float) -> 'GroundTruth':
        path = Path(path)
        if not path.is_file():
            raise GroundTruthError(f'ground-truth file {path}: no such file')
        try:
            if path.suffix.lower() == '.json':
                data = json.loads(path.read_text())
                rows = data.get('intervals') if isinstance(data, dict) else data
                if not isinstance(rows, list):
                    raise GroundTruthError(
                        f'{path}: expected a list of {{"start", "end", "label"}} objects '
                        'or {"intervals": [...]}'
                    )
            else:
                with path.open(newline='') as f:
                    rows = list(csv.DictReader(f))
        except (json.JSONDecodeError, UnicodeDecodeError, csv.Error) as exc:
            raise GroundTruthError(
                f'{path}: not readable as {path.suffix or "CSV"}: {exc}'
            ) from exc
        intervals = []
        for n, row in enumerate(rows, start=1):
            try:
                start, end, label = (
                    float(row['start']),
                    float(row['end']),
                    str(row['label']).strip(),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise GroundTruthError(
                    f'{path}: interval {n} needs numeric start and end and a label '
                    f'(columns start,end,label), got {row!r}'
                ) from exc
            if not end > start or not label:
                raise GroundTruthError(f'{path}: interval {n} is empty or unlabelled: {row!r}')
            if start < ABSOLUTE_AFTER:
                start, end = start + bag_start, end + bag_start
            intervals.append(Interval(start, end, label))
        if not intervals:
            raise GroundTruthError(f'{path}: no intervals')
        return cls(intervals, str(path))

    def to_rows(self, bag_start: float) -> List[dict]:
        """Relative intervals, as written to a sidecar file."""
        return [
            {
                'start': round(i.start - bag_start, 6),
                'end': round(i.end - bag_start, 6),
                'label': i.label,
            }
            for i in self.intervals
        ]


def write_sidecar(truth: GroundTruth, path: Path | str, bag_start: float) -> Path:
    """Writes the intervals as CSV or JSON (by suffix), times relative to ``bag_start``."""
    path = Path(path)
    rows = truth.to_rows(bag_start)
    if path.suffix.lower() == '.json':
        path.write_text(json.dumps({'intervals': rows}, indent=1))
    else:
        with path.open('w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=['start', 'end', 'label'])
            writer.writeheader()
            writer.writerows(rows)
    return path
