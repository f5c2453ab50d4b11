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

"""Windowed training data: recordings cut into grid windows and preprocessed by the very
encoders (``Encoder.preprocess``) the encoder nodes run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.core.encoders import Encoder
from hybrid_fusion_ros.core.windows import SensorWindow
from hybrid_fusion_ros.core.windows import window_ends_between
from hybrid_fusion_ros.core.windows import WindowSpec
from .simulation import Episode
from .simulation import episode_streams
from .simulation import SimulationConfig

Streams = Mapping[str, Tuple[np.ndarray, np.ndarray]]


@dataclass
class SequenceData:
    """One recording as a sequence of T windows."""

    inputs: Dict[str, np.ndarray]  # modality -> (T, *input_shape) float32
    labels: np.ndarray  # (T,) class index at each window's centre
    ends: np.ndarray  # (T,) window end stamps

    def __len__(self) -> int:
        return len(self.labels)


def cut_windows(
    streams: Streams,
    spec: WindowSpec,
    ends: np.ndarray,
    sample_rates: Optional[Mapping[str, float]] = None,
) -> Dict[str, List[SensorWindow]]:
    """Windows ``[e - length, e)`` of every stream for each end ``e``."""
    out: Dict[str, List[SensorWindow]] = {}
    for modality, (stamps, samples) in streams.items():
        lo = np.searchsorted(stamps, ends - spec.length, side='left')
        hi = np.searchsorted(stamps, ends, side='left')
        rate = (sample_rates or {}).get(modality)
        out[modality] = [
            SensorWindow(
                modality, float(e - spec.length), float(e), stamps[a:b], samples[a:b], rate
            )
            for e, a, b in zip(ends, lo, hi)
        ]
    return out


def stream_sequence(
    streams: Streams,
    label_fn,
    spec: WindowSpec,
    encoders: Mapping[str, Encoder],
    sample_rates: Optional[Mapping[str, float]] = None,
) -> SequenceData:
    """Cut every fully covered grid window of the streams and preprocess it."""
    first = max(float(stamps[0]) for stamps, _ in streams.values())
    last = min(float(stamps[-1]) for stamps, _ in streams.values())
    ends = window_ends_between(spec, first + spec.length - 1e-9, last)
    windows = cut_windows({m: streams[m] for m in encoders}, spec, ends, sample_rates)
    inputs = {m: np.stack([enc.preprocess(w) for w in windows[m]]) for m, enc in encoders.items()}
    return SequenceData(inputs, np.asarray(label_fn(ends - spec.length / 2)), ends)


def simulated_sequences(
    seeds: Sequence[int],
    seconds: float,
    spec: WindowSpec,
    encoders: Mapping[str, Encoder],
    sim: SimulationConfig = SimulationConfig(),
    progress: bool = False,
) -> List[SequenceData]:
    """One :class:`SequenceData` per simulated episode (one seed each)."""
    from tqdm import tqdm

    out = []
    for seed in tqdm(
        seeds, desc='simulating episodes', unit='ep', disable=not progress, leave=False
    ):
        ep = Episode(seconds, seed=int(seed), config=sim, t0=1000.0)
        rates = {'audio': float(sim.audio_rate)}
        out.append(stream_sequence(episode_streams(ep), ep.labels, spec, encoders, rates))
    return out
