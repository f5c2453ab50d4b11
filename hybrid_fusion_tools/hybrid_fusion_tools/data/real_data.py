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

"""A bag of REAL sensor streams that were recorded separately and are aligned in time here.

No reachable recording has camera, IMU and audio of one scene (shared/docs/data-sources.md),
so this bag is honest about what it is: three real recordings laid on one clock, each from
its own first sample. It is for measuring what the graph does with real signals (coverage,
latency, drops, how labels behave on unseen data), not accuracy: it has no ground truth.

- camera: ``vtest.avi`` (OpenCV's sample: a fixed outdoor camera, pedestrians walking,
  768x576 at 10 fps), as JPEG ``CompressedImage`` at the video's own rate;
- IMU: one seglearn "watch" recording (smartwatch, 50 Hz), accelerometer converted from g to
  m/s^2, gyroscope in rad/s, at its own 50 Hz;
- audio: a 16 kHz mono wav (pyannote.audio's sample: a two-person conversation), in 0.1 s
  ``AudioChunk``s of S16LE.

Fetch the video and wav with ``scripts/fetch_real_streams.sh``.
"""

from __future__ import annotations

import heapq
from pathlib import Path
from typing import Iterator, Optional, Tuple
import wave

import cv2
import numpy as np

from hybrid_fusion_ros.ros import conversions as conv
from ..bags.bag import BagWriter

GRAVITY = 9.80665
START = 1_750_000_000.0  # sensor time of the first sample (s)
TOPICS = {'camera': '/camera/image_raw/compressed', 'imu': '/imu/data', 'audio': '/audio/chunk'}
AUDIO_CHUNK_SECONDS = 0.1


class RealDataError(RuntimeError):
    """A source file that is missing or not what the builder reads."""


def video_frames(path: Path, seconds: float) -> Tuple[float, Iterator[np.ndarray]]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise RealDataError(f'video {path}: cannot be opened (run scripts/fetch_real_streams.sh)')
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 10.0

    def frames() -> Iterator[np.ndarray]:
        try:
            for _ in range(int(seconds * fps)):
                ok, bgr = cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()

    return fps, frames()


def wav_samples(path: Path) -> Tuple[int, np.ndarray]:
    try:
        with wave.open(str(path)) as w:
            if w.getsampwidth() != 2:
                raise RealDataError(
                    f'wav {path}: {8 * w.getsampwidth()}-bit samples; 16-bit PCM expected'
                )
            rate, channels = w.getframerate(), w.getnchannels()
            data = (
                np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float32)
                / 32768.0
            )
    except (wave.Error, EOFError, FileNotFoundError) as exc:
        raise RealDataError(f'wav {path}: cannot be read ({exc})') from exc
    return rate, data.reshape(-1, channels).mean(axis=1)


def build_real_bag(
    out: Path | str,
    video: Path | str,
    wav: Path | str,
    imu_recording: Optional[int] = None,
    seconds: float = 30.0,
    storage: str = 'mcap',
) -> Tuple[Path, str]:
    """Writes the bag; returns its path and the note stored in it."""
    from .watch import load_watch
    from .watch import WATCH_RATE_HZ

    recordings, class_names = load_watch()
    if imu_recording is None:
        imu_recording = int(np.argmax([len(r.samples) for r in recordings]))
    if not 0 <= imu_recording < len(recordings):
        raise RealDataError(
            f'imu recording {imu_recording}: the watch data has 0..{len(recordings) - 1}'
        )
    rec = recordings[imu_recording]
    audio_rate, audio = wav_samples(Path(wav))
    fps, frames = video_frames(Path(video), seconds)
    seconds = min(seconds, len(rec.samples) / WATCH_RATE_HZ, len(audio) / audio_rate)
    imu = rec.samples[: int(seconds * WATCH_RATE_HZ)].copy()
    imu[:, :3] *= GRAVITY
    chunk = int(round(AUDIO_CHUNK_SECONDS * audio_rate))
    note = (
        f'REAL streams recorded separately and aligned here by hybrid_fusion_ros (not one'
        f' scene, no '
        f'ground truth): camera {Path(video).name} ({fps:g} fps), IMU seglearn watch recording '
        f"{imu_recording} (subject {rec.subject}, exercise '{class_names[rec.label]}', 50 Hz),"
        ' audio '
        f'{Path(wav).name} ({audio_rate} Hz); {seconds:.1f} s'
    )

    def camera() -> Iterator[Tuple[int, str, object]]:
        for i, frame in enumerate(frames):
            t = START + i / fps
            if t >= START + seconds:
                return
            yield (
                int(round(t * 1e9)),
                TOPICS['camera'],
                conv.rgb_to_compressed(frame, conv.sec_to_stamp(t), quality=85),
            )

    def imu_stream() -> Iterator[Tuple[int, str, object]]:
        for i, row in enumerate(imu):
            t = START + i / WATCH_RATE_HZ
            yield (
                int(round(t * 1e9)),
                TOPICS['imu'],
                conv.row_to_imu(row, conv.sec_to_stamp(t), 'watch'),
            )

    def audio_stream() -> Iterator[Tuple[int, str, object]]:
        for i in range(int(seconds * audio_rate) // chunk):
            t = START + i * chunk / audio_rate
            yield (
                int(round(t * 1e9)),
                TOPICS['audio'],
                conv.samples_to_audio(
                    audio[i * chunk : (i + 1) * chunk], audio_rate, conv.sec_to_stamp(t)
                ),
            )

    out = Path(out)
    with BagWriter(out, storage, data_note=note) as writer:
        for log_ns, topic, msg in heapq.merge(
            camera(), imu_stream(), audio_stream(), key=lambda m: m[0]
        ):
            writer.write(topic, msg, log_ns)
    return out, note
