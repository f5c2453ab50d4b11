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

"""Simulated camera + IMU + audio recordings of a person's activity, with ground truth.

No public recording has camera, IMU and audio of one scene, so the demo, the default
checkpoint and the multimodal benchmark use this generator. It is SIMULATED data, and every
figure derived from it says so.

Each class is a combination of three factors, and each modality sees only some of them:

=================  ======  ======  =======  =====================================
class              motion  speech  gesture  what tells it apart
=================  ======  ======  =======  =====================================
idle               still   no      no       (everything absent)
talking            still   yes     no       audio only
walking            walk    no      no       IMU or camera
walking_talking    walk    yes     no       IMU/camera + audio
running            run     no      no       IMU or camera
waving             still   no      yes      camera only
=================  ======  ======  =======  =====================================

So the camera alone confuses idle/talking and walking/walking_talking, the IMU alone
confuses idle/talking/waving and walking/walking_talking, and audio alone sees only speech:
fusion is needed for all six. Episode-level randomness (speaker pitch, gait frequency, body
colour and size, sensor orientation, noise levels, background) forces generalization.

Signals are functions of time evaluated on any stamps, vectorized over samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import cv2
import numpy as np

CLASSES = ('idle', 'talking', 'walking', 'walking_talking', 'running', 'waving')
# (motion level 0/1/2, speech 0/1, gesture 0/1) per class, in CLASSES order.
FACTORS = np.array([(0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 1, 0), (2, 0, 0), (0, 0, 1)])
GRAVITY = 9.80665


@dataclass(frozen=True)
class SimulationConfig:
    camera_rate: float = 15.0
    width: int = 128
    height: int = 96
    imu_rate: float = 100.0
    audio_rate: int = 16000
    audio_chunk: int = 1600  # samples per AudioChunk message (0.1 s)
    label_rate: float = 10.0  # ground-truth messages per second
    min_segment: float = 3.0  # activity segment durations, seconds
    max_segment: float = 8.0


def _rotation(rng: np.random.Generator, max_angle: float) -> np.ndarray:
    """A random rotation matrix of at most ``max_angle`` radians about a random axis."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = rng.uniform(0, max_angle)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


class Episode:
    """One simulated recording of ``duration`` seconds whose sensor time starts at ``t0``."""

    def __init__(
        self,
        duration: float,
        seed: int,
        config: SimulationConfig = SimulationConfig(),
        t0: float = 0.0,
    ) -> None:
        self.duration = duration
        self.config = config
        self.t0 = t0
        rng = np.random.default_rng(seed)
        self.rng = rng
        # Activity segments.
        starts, classes, t = [], [], 0.0
        while t < duration:
            starts.append(t)
            prev = classes[-1] if classes else -1
            choices = [c for c in range(len(CLASSES)) if c != prev]
            classes.append(int(rng.choice(choices)))
            t += rng.uniform(config.min_segment, config.max_segment)
        self.segment_starts = np.array(starts)
        self.segment_classes = np.array(classes)
        # Episode-level variation.
        self.step_freq = np.array([0.0, rng.uniform(1.6, 2.2), rng.uniform(2.6, 3.2)])
        self.imu_gain = rng.uniform(0.7, 1.3)
        self.imu_rotation = _rotation(rng, 0.5)
        self.imu_noise = rng.uniform(0.1, 0.35)
        self.gyro_bias = rng.normal(0, 0.02, size=3)
        self.f0 = rng.uniform(95, 230)
        self.voice_level = rng.uniform(0.15, 0.4)
        self.audio_noise = rng.uniform(0.01, 0.05)
        self.hum_freq = rng.choice([50.0, 60.0])
        self.body_colour = rng.uniform(40, 230, size=3)
        self.body_w = rng.uniform(0.08, 0.13) * config.width
        self.body_h = rng.uniform(0.35, 0.5) * config.height
        self.floor_y = rng.uniform(0.8, 0.92) * config.height
        low = rng.uniform(60, 200, size=(6, 8, 3)).astype(np.float32)
        self.background = cv2.resize(
            low, (config.width, config.height), interpolation=cv2.INTER_CUBIC
        )
        # Horizontal position: integrate the speed of each activity on a fine grid.
        grid = np.arange(0.0, duration + 1.0, 0.01)
        speed = np.array([0.0, 1.0, 2.6])[FACTORS[self._class_at(grid), 0]] * rng.uniform(10, 16)
        direction = np.where(rng.random() < 0.5, -1.0, 1.0)
        self._x_grid = grid
        self._x = rng.uniform(0, config.width) + direction * np.cumsum(speed) * 0.01
        self._phase = rng.uniform(0, 2 * np.pi, size=4)

    # --- ground truth ---------------------------------------------------------------------
    def _class_at(self, rel: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.segment_starts, rel, side='right') - 1
        return self.segment_classes[np.clip(idx, 0, len(self.segment_classes) - 1)]

    def labels(self, stamps: np.ndarray) -> np.ndarray:
        """Class index at each stamp (seconds of sensor time)."""
        return self._class_at(np.asarray(stamps) - self.t0)

    def stamps(self, rate: float, jitter: float = 0.0) -> np.ndarray:
        """Sample stamps of a sensor at ``rate`` Hz over the episode, with timing jitter."""
        n = int(np.floor(self.duration * rate))
        t = np.arange(n) / rate
        if jitter:
            t = t + self.rng.normal(0, jitter / rate, size=n)
            t = np.maximum.accumulate(np.clip(t, 0, self.duration - 1e-6))
        return self.t0 + t

    # --- IMU ----------------------------------------------------------------------------------
    def imu(self, stamps: np.ndarray) -> np.ndarray:
        """``(N, 6)``: linear acceleration (m/s^2, with gravity) and angular velocity (rad/s)."""
        rel = np.asarray(stamps) - self.t0
        motion = FACTORS[self._class_at(rel), 0]
        f = self.step_freq[motion]
        amp = np.array([0.08, 2.0, 6.0])[motion] * self.imu_gain
        p = self._phase
        w = 2 * np.pi * f * rel
        body = np.stack(
            [
                0.3 * amp * np.sin(0.5 * w + p[0]),
                0.2 * amp * np.sin(w + p[1]),
                amp * np.sin(w) + 0.3 * amp * np.sin(2 * w + p[2]),
            ],
            axis=1,
        )
        # Slow postural sway in every class, so "still" is not a flat line.
        sway = 0.15 * np.sin(2 * np.pi * 0.3 * rel + p[3])
        body[:, 0] += sway
        acc = (body + [0.0, 0.0, GRAVITY]) @ self.imu_rotation.T
        acc += self.rng.normal(0, self.imu_noise, size=acc.shape)
        gyro = np.stack(
            [
                0.05 * amp * np.sin(w + p[0]),
                0.04 * amp * np.cos(w + p[1]),
                0.08 * amp * np.sin(0.5 * w + p[2]) + 0.05 * sway,
            ],
            axis=1,
        )
        gyro += self.gyro_bias + self.rng.normal(0, 0.02, size=gyro.shape)
        return np.concatenate([acc, gyro], axis=1)

    # --- audio --------------------------------------------------------------------------------
    def audio(self, stamps: np.ndarray) -> np.ndarray:
        """``(N,)`` float32 mono samples in [-1, 1]."""
        rel = np.asarray(stamps) - self.t0
        speech = FACTORS[self._class_at(rel), 1].astype(np.float64)
        # Syllables at ~4 Hz, grouped into words by a slower gate; pitch drifts slowly.
        syllable = np.maximum(0.0, np.sin(2 * np.pi * 4.2 * rel + self._phase[0])) ** 2
        words = (np.sin(2 * np.pi * 0.6 * rel + self._phase[1]) > -0.4).astype(np.float64)
        phase = 2 * np.pi * self.f0 * rel - (0.06 * self.f0 / 0.4) * np.cos(2 * np.pi * 0.4 * rel)
        voice = sum(np.sin(k * phase) / k for k in range(1, 6))
        out = self.voice_level * speech * syllable * words * voice
        out += self.audio_noise * self.rng.normal(size=len(rel))
        out += 0.01 * np.sin(2 * np.pi * self.hum_freq * rel)
        return np.clip(out, -1.0, 1.0).astype(np.float32)

    # --- camera -------------------------------------------------------------------------------
    def frames(self, stamps: np.ndarray) -> np.ndarray:
        """``(N, H, W, 3)`` uint8 RGB frames of a fixed camera watching the person."""
        cfg = self.config
        rel = np.asarray(stamps) - self.t0
        cls = self._class_at(rel)
        motion, gesture = FACTORS[cls, 0], FACTORS[cls, 2]
        f = self.step_freq[motion]
        x = np.interp(rel, self._x_grid, self._x)[:, None, None]
        bob = (np.array([0.0, 2.0, 4.0])[motion] * np.abs(np.sin(np.pi * f * rel)))[:, None, None]
        yy = np.arange(cfg.height, dtype=np.float32)[None, :, None]
        xx = np.arange(cfg.width, dtype=np.float32)[None, None, :]
        dx = (xx - x + cfg.width / 2) % cfg.width - cfg.width / 2  # wraps around the frame edges
        top = self.floor_y - self.body_h - bob
        body = (np.abs(dx) < self.body_w / 2) & (yy >= top) & (yy < self.floor_y - bob * 0.3)
        head_r = self.body_w * 0.45
        head_y = top - head_r
        head = dx**2 + (yy - head_y) ** 2 < head_r**2
        # A waving forearm: a block beside the head sweeping up/down and sideways at 1.6 Hz.
        swing = 2 * np.pi * 1.6 * rel
        hand_y = head_y + 9.0 * np.sin(swing)[:, None, None]
        hand_x = self.body_w / 2 + 7.0 + 4.0 * np.cos(swing)[:, None, None]
        hand = (
            (gesture[:, None, None] > 0)
            & (np.abs(dx - hand_x) < 4.5)
            & (np.abs(yy - hand_y) < 4.5)
        )
        img = np.broadcast_to(self.background, (len(rel),) + self.background.shape).copy()
        img += self.rng.uniform(-12, 12, size=(len(rel), 1, 1, 1)).astype(np.float32)  # exposure
        img = np.where(body[..., None], self.body_colour.astype(np.float32), img)
        img = np.where((head | hand)[..., None], np.float32(220.0), img)
        img += self.rng.normal(0, 3.0, size=img.shape).astype(np.float32)
        return np.clip(img, 0, 255).astype(np.uint8)


def episode_streams(
    episode: Episode, frame_batch: int = 128
) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Every sensor stream of an episode: modality -> (stamps, samples)."""
    cfg = episode.config
    cam_t = episode.stamps(cfg.camera_rate, jitter=0.03)
    frames = (
        np.concatenate(
            [episode.frames(cam_t[i : i + frame_batch]) for i in range(0, len(cam_t), frame_batch)]
        )
        if len(cam_t)
        else np.empty((0, cfg.height, cfg.width, 3), np.uint8)
    )
    imu_t = episode.stamps(cfg.imu_rate, jitter=0.05)
    audio_t = episode.stamps(cfg.audio_rate)
    return {
        'camera': (cam_t, frames),
        'imu': (imu_t, episode.imu(imu_t)),
        'audio': (audio_t, episode.audio(audio_t)),
    }
