"""Writes a SIMULATED multimodal recording (core/simulation.py) as a rosbag2 bag: camera
``Image`` (or ``CompressedImage``), ``Imu``, ``AudioChunk`` and a ground-truth
``ActivityLabel`` topic, each message logged at its header stamp."""
from __future__ import annotations

import heapq
from pathlib import Path
from typing import Iterator, Tuple

import numpy as np

from . import conversions as conv
from .bag import BagWriter
from .core.simulation import CLASSES, Episode, SimulationConfig, episode_streams

TOPICS = {'camera': '/camera/image_raw', 'camera_compressed': '/camera/image_raw/compressed',
          'imu': '/imu/data', 'audio': '/audio/chunk', 'ground_truth': '/activity_ground_truth'}
BAG_START = 1_700_000_000.0  # sensor time of the first sample, seconds (an ordinary epoch time)


def _stream(topic: str, stamps: np.ndarray, make) -> Iterator[Tuple[int, str, object]]:
    for i, t in enumerate(stamps):
        yield int(round(t * 1e9)), topic, make(i, conv.sec_to_stamp(t))


def generate_bag(path: Path | str, seconds: float = 60.0, seed: int = 7, storage: str = 'mcap',
                 compressed: bool = False, config: SimulationConfig = SimulationConfig()) -> Path:
    """Write the bag and return its path. Deterministic for a given seed."""
    ep = Episode(seconds, seed=seed, config=config, t0=BAG_START)
    streams = episode_streams(ep)
    cam_t, frames = streams['camera']
    imu_t, imu = streams['imu']
    audio_t, audio = streams['audio']
    n = config.audio_chunk
    chunk_starts = audio_t[::n]
    gt_t = ep.stamps(config.label_rate)
    gt = ep.labels(gt_t)
    if compressed:
        cam = _stream(TOPICS['camera_compressed'], cam_t, lambda i, s: conv.rgb_to_compressed(frames[i], s))
    else:
        cam = _stream(TOPICS['camera'], cam_t, lambda i, s: conv.rgb_to_image(frames[i], s))
    merged = heapq.merge(
        cam,
        _stream(TOPICS['imu'], imu_t, lambda i, s: conv.row_to_imu(imu[i], s)),
        _stream(TOPICS['audio'], chunk_starts,
                lambda i, s: conv.samples_to_audio(audio[i * n:(i + 1) * n], config.audio_rate, s)),
        _stream(TOPICS['ground_truth'], gt_t,
                lambda i, s: conv.make_label(s, CLASSES, None, int(gt[i]), [], 'ground_truth')),
        key=lambda item: item[0])
    path = Path(path)
    note = (f'SIMULATED by hybrid_fusion_ros (core/simulation.py), seed {seed}: not a real recording')
    with BagWriter(path, storage, data_note=note) as writer:
        for log_ns, topic, msg in merged:
            writer.write(topic, msg, log_ns)
    return path
