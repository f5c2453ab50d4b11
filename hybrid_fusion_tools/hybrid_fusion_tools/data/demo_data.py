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
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.ros import conversions as conv
from .simulation import CLASSES
from .simulation import Episode
from .simulation import episode_streams
from .simulation import SimulationConfig
from ..bags.bag import BagWriter

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
    from .truth import GroundTruth
    from .truth import write_sidecar

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


def trial_classes(count: int) -> list:
    """Names of the simulated gesture classes of :func:`generate_trials_bag`."""
    return [f'gesture_{k:02d}' for k in range(count)]


def generate_trials_bag(
    path: Path | str,
    classes: int = 24,
    trials_per_class: int = 2,
    seed: int = 7,
    subject: int = 0,
    imu_rate: float = 50.0,
    pause: float = 1.0,
    trial_seconds: Tuple[float, float] = (2.0, 6.0),
    storage: str = 'mcap',
    only: Optional[Sequence[int]] = None,
) -> Path:
    """A SIMULATED pre-segmented recording: labelled trials of ``trial_seconds`` (uniform),
    one after another in random class order, with ``pause`` seconds between trials in which
    the sensor publishes nothing (the recorder was stopped, as a data-collection app does). One
    IMU (``/wrist_imu/imu``, accelerometer and gyroscope, no orientation) at ``imu_rate``.

    Each class is a motion pattern: a few sinusoids at class-specific frequencies (0.5-4 Hz)
    along class-specific directions; every trial draws its own phase, tempo (±15 %) and
    amplitude (±25 %), and ``subject`` turns the sensor's mounting (up to 20 degrees) and
    adds its own gain (±10 %), so subjects differ as wearers do. Labels go to
    ``<bag>.labels.csv`` (one interval per trial). Deterministic for given arguments.

    ``only``: the trials of these class indices alone (e.g. the activity a model was not trained
    on, to teach it); the classes keep the patterns they have in a bag of all of them."""
    from .truth import GroundTruth
    from .truth import Interval
    from .truth import write_sidecar

    names = trial_classes(classes)
    pattern_rng = np.random.default_rng(12345)  # the classes are the same in every bag
    patterns = []
    for _ in range(classes):
        freqs = pattern_rng.uniform(0.5, 4.0, size=2)
        dirs = pattern_rng.normal(size=(2, 6))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        patterns.append((freqs, dirs * pattern_rng.uniform(0.5, 2.0, size=(2, 1))))
    subject_rng = np.random.default_rng(1000 + subject)
    # The sensor sits a little differently on each wearer: up to 20 degrees about a random axis.
    axis = subject_rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(subject_rng.uniform(0.0, 20.0))
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    mount = np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * cross @ cross
    gain = 1.0 + 0.1 * subject_rng.uniform(-1.0, 1.0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(np.repeat(np.arange(classes), trials_per_class))
    if only is not None:
        order = np.array([c for c in order if int(c) in set(only)], dtype=np.int64)
    t = BAG_START
    period = 1.0 / imu_rate
    rows, stamps, intervals = [], [], []
    for c in order:
        length = float(rng.uniform(*trial_seconds))
        n = int(length * imu_rate)
        tt = np.arange(n) * period
        freqs, dirs = patterns[int(c)]
        tempo = 1.0 + rng.uniform(-0.15, 0.15)
        amp = 1.0 + rng.uniform(-0.25, 0.25)
        phase = rng.uniform(0, 2 * np.pi, size=2)
        wave = np.sin(2 * np.pi * freqs[None] * tempo * tt[:, None] + phase[None])  # (n, 2)
        motion = amp * gain * (wave @ dirs)  # (n, 6)
        motion[:, :3] = motion[:, :3] @ mount.T + np.array([0.0, 0.0, 9.81]) @ mount.T
        motion[:, 3:] = motion[:, 3:] @ mount.T
        motion += rng.normal(0, 0.3, size=motion.shape)
        rows.append(motion)
        stamps.append(t + tt)
        intervals.append(Interval(t, t + n * period, names[int(c)]))
        t += n * period + pause
    imu = np.concatenate(rows)
    imu_t = np.concatenate(stamps)
    path = Path(path)
    note = (
        f'SIMULATED pre-segmented trials by hybrid_fusion_ros (demo_data.generate_trials_bag),'
        f' seed {seed}, subject {subject}: not a real recording'
    )
    with BagWriter(path, storage, data_note=note) as writer:
        for msg_t, row in zip(imu_t, imu):
            writer.write(
                '/wrist_imu/imu', conv.row_to_imu(row, conv.sec_to_stamp(msg_t)), int(msg_t * 1e9)
            )
    write_sidecar(
        GroundTruth(intervals, 'simulation'), path.with_name(path.name + '.labels.csv'), BAG_START
    )
    return path
