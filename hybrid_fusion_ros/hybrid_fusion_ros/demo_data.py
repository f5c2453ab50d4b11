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

"""Writes a SIMULATED multimodal recording (core/simulation.py) as a rosbag2 bag: camera
``Image`` (or ``CompressedImage``), ``Imu``, ``AudioChunk`` and a ground-truth
``ActivityLabel`` topic, each message logged at its header stamp."""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Dict, Iterator, Tuple

import numpy as np

from . import conversions as conv
from .bag import BagWriter
from .core.simulation import CLASSES
from .core.simulation import Episode
from .core.simulation import episode_streams
from .core.simulation import SimulationConfig

TOPICS = {
    'camera': '/camera/image_raw',
    'camera_compressed': '/camera/image_raw/compressed',
    'imu': '/imu/data',
    'audio': '/audio/chunk',
    'ground_truth': '/activity_ground_truth',
}
BAG_START = 1_700_000_000.0  # sensor time of the first sample, seconds (an ordinary epoch time)


def _stream(
    topic: str, stamps: np.ndarray, make, logged_after: float = 0.0
) -> Iterator[Tuple[int, str, object]]:
    """Messages stamped ``stamps``, logged (so replayed) ``logged_after`` seconds later."""
    for i, t in enumerate(stamps):
        yield int(round((t + logged_after) * 1e9)), topic, make(i, conv.sec_to_stamp(t))


def generate_bag(
    path: Path | str,
    seconds: float = 60.0,
    seed: int = 7,
    storage: str = 'mcap',
    compressed: bool = False,
    config: SimulationConfig = SimulationConfig(),
) -> Path:
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
        cam = _stream(
            TOPICS['camera_compressed'], cam_t, lambda i, s: conv.rgb_to_compressed(frames[i], s)
        )
    else:
        cam = _stream(TOPICS['camera'], cam_t, lambda i, s: conv.rgb_to_image(frames[i], s))
    merged = heapq.merge(
        cam,
        _stream(TOPICS['imu'], imu_t, lambda i, s: conv.row_to_imu(imu[i], s)),
        _stream(
            TOPICS['audio'],
            chunk_starts,
            lambda i, s: conv.samples_to_audio(audio[i * n : (i + 1) * n], config.audio_rate, s),
            # A microphone driver publishes a chunk once its last sample is in; the stamp is its
            # first sample's, as AudioChunk says.
            (n - 1) / config.audio_rate,
        ),
        _stream(
            TOPICS['ground_truth'],
            gt_t,
            lambda i, s: conv.make_label(s, CLASSES, None, int(gt[i]), [], 'ground_truth'),
        ),
        key=lambda item: item[0],
    )
    path = Path(path)
    note = (
        f'SIMULATED by hybrid_fusion_ros (core/simulation.py), seed {seed}: not a real recording'
    )
    with BagWriter(path, storage, data_note=note) as writer:
        for log_ns, topic, msg in merged:
            writer.write(topic, msg, log_ns)
    return path


# A robot's own sensor set, for training-from-recordings tests and examples: a depth camera and
# two IMUs (the second strapped elsewhere: another orientation, gain and noise), no microphone.
ROBOT_SENSORS = {'front_depth': 'depth', 'wrist_imu': 'imu', 'thigh_imu': 'imu'}
ROBOT_CLASSES = ('idle', 'walking', 'running', 'waving')


def _depth_frames(frames: np.ndarray) -> np.ndarray:
    """Simulated depth (metres) from the simulated colour frames: brighter is nearer, 0.8-4 m,
    and a band of pixels with no reading (NaN), as a structured-light camera has at its edge."""
    gray = frames.astype(np.float32).mean(axis=3) / 255.0
    depth = 4.0 - 3.2 * gray
    depth[:, :, :4] = np.nan
    return depth


def generate_robot_bag(
    path: Path | str,
    seconds: float = 30.0,
    seed: int = 7,
    storage: str = 'mcap',
    sensors: Dict[str, str] = ROBOT_SENSORS,
    labels: str = 'sidecar',
    depth_encoding: str = '16UC1',
    compressed: bool = False,
    config: SimulationConfig = SimulationConfig(camera_rate=10.0, imu_rate=50.0),
) -> Path:
    """A SIMULATED recording of a robot's own sensor set: per sensor name, ``depth`` (Image or
    compressedDepth, ``/<name>/depth/image_raw``), ``color`` (``/<name>/image_raw``) or ``imu``
    (``/<name>/imu``). Labels go to ``<bag>.labels.csv`` next to the bag (``labels='sidecar'``)
    or to ``/activity_ground_truth`` (``'topic'``). With no microphone, speech cannot be sensed,
    so the labels are what these sensors can tell apart: talking is labelled idle, and walking
    while talking is walking (four classes)."""
    from .evaluation.truth import GroundTruth
    from .evaluation.truth import write_sidecar

    ep = Episode(seconds, seed=seed, config=config, t0=BAG_START)
    streams = episode_streams(ep)
    cam_t, frames = streams['camera']
    imu_t, imu = streams['imu']
    rng = np.random.default_rng(seed + 1)
    topics = []
    for k, (name, kind) in enumerate(sensors.items()):
        if kind == 'depth':
            depth = _depth_frames(frames)
            if compressed:
                make = (
                    lambda d: lambda i, s: conv.depth_to_compressed(d[i], s, name, depth_encoding)
                )(depth)
                topics.append(_stream(f'/{name}/depth/image_raw/compressedDepth', cam_t, make))
            else:
                make = (lambda d: lambda i, s: conv.depth_to_image(d[i], s, name, depth_encoding))(
                    depth
                )
                topics.append(_stream(f'/{name}/depth/image_raw', cam_t, make))
        elif kind == 'color':
            topics.append(
                _stream(
                    f'/{name}/image_raw', cam_t, (lambda i, s: conv.rgb_to_image(frames[i], s))
                )
            )
        elif kind == 'imu':
            # Each further IMU sees the same motion through its own mounting: rotated, scaled,
            # noisier.
            rot = np.linalg.qr(rng.normal(size=(3, 3)))[0] if k else np.eye(3)
            rows = imu.copy()
            rows[:, :3] = rows[:, :3] @ rot.T * (1.0 + 0.2 * k)
            rows[:, 3:] = rows[:, 3:] @ rot.T
            rows += rng.normal(0, 0.05 * k, size=rows.shape)
            topics.append(
                _stream(
                    f'/{name}/imu', imu_t, (lambda r: lambda i, s: conv.row_to_imu(r[i], s))(rows)
                )
            )
        else:
            raise ValueError(f"sensor kind must be depth, color or imu, got '{kind}'")
    gt_t = ep.stamps(config.label_rate)
    unheard = {'talking': 'idle', 'walking_talking': 'walking'}
    names = [unheard.get(CLASSES[int(c)], CLASSES[int(c)]) for c in ep.labels(gt_t)]
    if labels == 'topic':
        topics.append(
            _stream(
                TOPICS['ground_truth'],
                gt_t,
                lambda i, s: conv.make_label(
                    s, ROBOT_CLASSES, None, ROBOT_CLASSES.index(names[i]), [], 'ground_truth'
                ),
            )
        )
    path = Path(path)
    note = (
        f'SIMULATED robot sensor set {sensors} by hybrid_fusion_ros (core/simulation.py), seed'
        f' {seed}'
    )
    first = None
    with BagWriter(path, storage, data_note=note) as writer:
        for log_ns, topic, msg in heapq.merge(*topics, key=lambda item: item[0]):
            first = log_ns if first is None else first
            writer.write(topic, msg, log_ns)
    if labels == 'sidecar':
        truth = GroundTruth.from_samples(gt_t.tolist(), names, 'simulation')
        write_sidecar(truth, path.with_name(path.name + '.labels.csv'), first * 1e-9)
    return path
