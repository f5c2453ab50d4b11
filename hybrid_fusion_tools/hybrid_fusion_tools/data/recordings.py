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

"""Training data from recorded bags: each bag's sensor streams cut into grid windows and
preprocessed by the encoders, once, into a cache.

A bag is read the way replay evaluation reads it (``evaluation.inputs.plan_bag``: the same
``--map`` rules and ground-truth rules), its messages are converted exactly as the encoder
nodes convert them (``conversions.INPUT_TYPES``), and windows are cut by the nodes' own
``StreamWindower``: what a model learns from is what the robot's nodes will feed it.

Cache entries live under ``<cache>/datasets/<key>/``; the key hashes the bag's bytes, the
inputs' topics and encoder preprocessing configs, and the window spec. An entry is built in a
temporary directory and renamed into place only when complete, so an interrupted build is
never reused. Building streams through the bag: windows go to disk as they are made, so
memory does not grow with the bag's length. Labels are not cached (they come from the ground
truth at load time), so editing a label file needs no rebuild.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from dataclasses import field
import hashlib
import json
import os
from pathlib import Path
import shutil
import time
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from hybrid_fusion_ros.core.inputs import ModelInput
from hybrid_fusion_ros.core.windows import StreamWindower
from hybrid_fusion_ros.core.windows import WindowSpec
from .plan import BagPlan
from ..bags.bag import BagError
from ..bags.bag import decode
from ..bags.bag import open_reader
from ..bags.bag import read_messages

CACHE_VERSION = 2  # 2: windows before a long pause kept; pauses apart from drops
BAG_SUFFIXES = ('.labels.csv', '.labels.json')
RATE_STAMPS = 300  # stamps per topic a rate is measured on (the median interval)


def expand_bags(paths: Sequence[Path]) -> List[Path]:
    """Bag paths as given, with label sidecars dropped (a shell glob catches them) and a folder
    that is not itself a bag replaced by the bags inside it."""
    out: List[Path] = []
    for path in paths:
        path = Path(path)
        if path.name.endswith(BAG_SUFFIXES):
            continue
        if path.is_dir() and not is_bag(path):
            inner = sorted(p for p in path.iterdir() if is_bag(p))
            if not inner:
                raise BagError(f'{path}: neither a bag nor a folder of bags')
            out.extend(inner)
        else:
            out.append(path)
    return out


def is_bag(path: Path) -> bool:
    if path.is_file():
        return path.suffix == '.bag'
    return path.is_dir() and (
        (path / 'metadata.yaml').is_file()
        or any(p.suffix in ('.mcap', '.db3') for p in path.iterdir())
    )


# --- what the data says about each sensor -----------------------------------------------------
def _converter(msgtype: str):
    from hybrid_fusion_ros.ros.conversions import INPUT_TYPES

    if msgtype not in INPUT_TYPES:
        raise BagError(f'no converter for {msgtype}')
    return INPUT_TYPES[msgtype][1]


def _bag_converter(msgtype: str):
    """BagMessage -> (stamps, samples), as the encoder node converts the message. IMU bytes are
    read in place (``conversions.imu_cdr_to_row``); everything else is deserialized first."""
    from hybrid_fusion_ros.ros import conversions as conv

    convert = _converter(msgtype)
    if msgtype != 'sensor_msgs/msg/Imu':
        return lambda msg: convert(decode(msg))

    def imu(msg):
        try:
            stamp, row = conv.imu_cdr_to_row(msg.data)
        except ValueError:  # big-endian CDR: the slow, general way
            return convert(decode(msg))
        return np.array([stamp]), row[None]

    return imu


def probe_inputs(read: BagPlan, inputs: Sequence[ModelInput]) -> Dict[str, Dict[str, Any]]:
    """Per input, the encoder config a bag's data asks for: the measured rate, depth or colour
    camera and its frame size, IMU channels (no gyroscope: 3), audio sample rate."""
    from hybrid_fusion_ros.ros import conversions as conv

    first: Dict[str, Any] = {}
    topics = {read.plan.inputs[i.name][0]: i for i in inputs}
    reader = open_reader(read.bag)
    try:
        for msg in read_messages(reader, topics):
            spec = topics[msg.topic]
            if spec.name in first:
                continue
            message = decode(msg)
            try:
                first[spec.name] = (_converter(msg.msgtype)(message), message)
            except conv.InputError:
                continue  # a bad first message: the next one tells
            if len(first) == len(inputs):
                break
    finally:
        reader.close()
    # Rates are measured within the continuous runs of each stream (the median interval), so
    # the pauses between a bag's takes are not averaged in (a 50 Hz IMU read as 40 Hz).
    from .inspection import bag_timelines

    measured_topics = [
        read.plan.inputs[i.name][0] for i in inputs if i.sensor_type in ('camera', 'imu')
    ]
    # The first few hundred stamps of each topic give its rate: no second pass over the bag.
    timelines = (
        bag_timelines(read.bag, measured_topics, limit=RATE_STAMPS) if measured_topics else {}
    )
    out: Dict[str, Dict[str, Any]] = {}
    for spec in inputs:
        if spec.name not in first:
            raise BagError(
                f"{read.bag.name}: no usable message for input '{spec.name}' on "
                f'{read.plan.inputs[spec.name][0]}'
            )
        (stamps, samples), msg = first[spec.name]
        src = read.plan.inputs[spec.name][0]
        measured = timelines.get(src)
        rate = (
            measured.rate
            if measured is not None and measured.rate
            else read.topics[src][1] / read.seconds
        )
        cfg: Dict[str, Any] = {}
        if spec.sensor_type == 'camera':
            frame = samples[0]
            cfg['depth'] = bool(frame.dtype.kind == 'f')
            h, w = frame.shape[:2]
            # Small frames (a 12x16 depth sensor) are used at their own size, not scaled up.
            if h < 48 or w < 64:
                cfg['height'], cfg['width'] = int(h), int(w)
            cfg['expected_rate_hz'] = round(rate, 3)
        elif spec.sensor_type == 'imu':
            cfg['channels'] = 6 if np.isfinite(samples[0][3:6]).all() else 3
            cfg['expected_rate_hz'] = round(rate, 3)
        elif spec.sensor_type == 'audio':
            cfg['sample_rate'] = int(msg.sample_rate)
            cfg['expected_rate_hz'] = float(msg.sample_rate)
        out[spec.name] = cfg
    return out


# --- the cache ----------------------------------------------------------------------------------
def bag_fingerprint(bag: Path) -> str:
    """A hash of the bag's bytes (every file of a rosbag2 directory, by name)."""
    h = hashlib.blake2b(digest_size=16)
    files = [bag] if bag.is_file() else sorted(p for p in bag.rglob('*') if p.is_file())
    for path in files:
        h.update(path.name.encode())
        with path.open('rb') as f:
            while True:
                block = f.read(1 << 22)
                if not block:
                    break
                h.update(block)
    return h.hexdigest()


def _preprocessing(config: Mapping[str, Any]) -> Dict[str, Any]:
    """An encoder config without what training learns (normalization statistics) and without
    the rate the model records (a median over the bags: windows are cut at each bag's own)."""
    return {
        k: v
        for k, v in sorted(config.items())
        if not k.startswith('norm_') and k != 'expected_rate_hz'
    }


def cache_key(
    fingerprint: str,
    read: BagPlan,
    inputs: Sequence[ModelInput],
    encoder_configs: Mapping[str, Mapping[str, Any]],
    spec: WindowSpec,
    rates: Mapping[str, float],
) -> str:
    desc = {
        'version': CACHE_VERSION,
        'bag': fingerprint,
        'window': [spec.length, spec.hop, spec.min_fill],
        'inputs': [
            [
                i.name,
                i.sensor_type,
                i.encoder,
                list(read.plan.inputs[i.name][:2]),
                _preprocessing(encoder_configs[i.name]),
                round(rates[i.name], 3),
            ]
            for i in inputs
        ],
    }
    return hashlib.sha256(json.dumps(desc, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass
class CachedRecording:
    """One bag's aligned windows: ``ends`` (T,) and per input ``(T, *shape)`` float32 arrays."""

    bag: Path
    ends: np.ndarray
    inputs: Dict[str, np.ndarray]
    meta: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, bag: Path) -> 'CachedRecording':
        meta = json.loads((path / 'meta.json').read_text())
        ends = np.load(path / 'ends.npy')
        arrays = {
            name: np.fromfile(path / f'{name}.f32', dtype=np.float32).reshape(len(ends), *shape)
            for name, shape in meta['shapes'].items()
        }
        return cls(bag, ends, arrays, meta)


def build_cache(
    read: BagPlan,
    inputs: Sequence[ModelInput],
    encoder_configs: Mapping[str, Mapping[str, Any]],
    spec: WindowSpec,
    cache_root: Path,
    rates: Mapping[str, float],
) -> Tuple[Path, bool]:
    """The cache entry of ``read.bag`` (built if missing); returns ``(path, built_now)``.
    ``rates``: each input's rate in this bag (samples/s), which decides a window's minimum fill."""
    from hybrid_fusion_ros.ros import conversions as conv
    from hybrid_fusion_ros.core.encoders import create_encoder

    key = cache_key(bag_fingerprint(read.bag), read, inputs, encoder_configs, spec, rates)
    final = cache_root / key
    if (final / 'meta.json').is_file():
        return final, False
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = cache_root / f'{key}.partial-{os.getpid()}'
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    wall = time.perf_counter()
    encoders = {i.name: create_encoder(i.encoder, encoder_configs[i.name]) for i in inputs}
    by_topic = {read.plan.inputs[i.name][0]: i for i in inputs}
    windowers = {}
    for i in inputs:
        rate = float(rates[i.name])
        windowers[i.name] = StreamWindower(
            i.name, spec, rate, sample_rate=rate if i.sensor_type == 'audio' else None
        )
    converters = {
        src: _bag_converter(msgtype)
        for src, msgtype, _ in read.plan.inputs.values()
        if src in by_topic
    }
    pending: Dict[str, Deque[Tuple[float, np.ndarray]]] = {i.name: deque() for i in inputs}
    files = {i.name: (tmp / f'{i.name}.f32').open('wb') for i in inputs}
    shapes: Dict[str, List[int]] = {}
    ends: List[float] = []
    drops: Dict[str, Dict[str, int]] = {i.name: {} for i in inputs}
    messages = 0

    def drop(name: str, cause: str) -> None:
        drops[name][cause] = drops[name].get(cause, 0) + 1

    def emit_aligned() -> None:
        # Windowers emit in end order; a window end is kept when every input has it.
        while all(pending.values()):
            end = min(q[0][0] for q in pending.values())
            have = [name for name, q in pending.items() if abs(q[0][0] - end) < 1e-6]
            if len(have) == len(pending):
                ends.append(end)
                for name, q in pending.items():
                    arr = q.popleft()[1]
                    shapes.setdefault(name, list(arr.shape))
                    files[name].write(np.ascontiguousarray(arr, dtype=np.float32).tobytes())
            else:
                for name in have:
                    pending[name].popleft()
                    drop(name, 'window_without_partner')

    reader = open_reader(read.bag)
    try:
        for msg in read_messages(reader, by_topic):
            messages += 1
            spec_in = by_topic[msg.topic]
            try:
                stamps, samples = converters[msg.topic](msg)
            except conv.InputError as exc:
                drop(spec_in.name, exc.cause)
                continue
            for window in windowers[spec_in.name].push(stamps, samples):
                try:
                    arr = encoders[spec_in.name].preprocess(window)
                except ValueError:
                    drop(spec_in.name, 'encode_error')
                    continue
                pending[spec_in.name].append((window.end, arr))
            emit_aligned()
    except BaseException:
        for f in files.values():
            f.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        reader.close()
    for f in files.values():
        f.close()
    pauses: Dict[str, Dict[str, float]] = {}
    for i in inputs:
        ws = windowers[i.name].stats
        if ws.pauses or ws.straddles_pause:
            # Silences between takes, and windows they left too short: no data was lost.
            pauses[i.name] = {
                'pauses': ws.pauses,
                'paused_seconds': round(ws.paused_seconds, 3),
                'windows_straddling_a_pause': ws.straddles_pause,
            }
        for cause, n in (
            ('incomplete_window', ws.incomplete),
            ('out_of_order', ws.out_of_order),
            ('time_jumps', ws.time_jumps),
            ('lost_in_transport_est', ws.missing_samples),
        ):
            if n:
                drops[i.name][cause] = drops[i.name].get(cause, 0) + n
    np.save(tmp / 'ends.npy', np.asarray(ends, dtype=np.float64))
    meta = {
        'bag': read.bag.name,
        'windows': len(ends),
        'messages': messages,
        'seconds': read.seconds,
        'shapes': shapes if ends else {i.name: [0] for i in inputs},
        'drops': drops,
        'pauses': pauses,
        'build_seconds': time.perf_counter() - wall,
        'version': CACHE_VERSION,
    }
    (tmp / 'meta.json').write_text(json.dumps(meta, indent=1))
    try:
        os.replace(tmp, final)
    except OSError:  # built meanwhile by another process: theirs is as good
        shutil.rmtree(tmp, ignore_errors=True)
    return final, True


def _build_one(args) -> Tuple[str, Optional[str], Optional[str], bool]:
    """Worker: build one bag's entry; returns (bag, cache path, error, built_now)."""
    read, inputs, configs, spec, root, rates = args
    import torch

    # One thread per build (several run side by side); put back after, for a build run in
    # the training process itself (one bag, --jobs 1), whose training would else run on one.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        path, built = build_cache(read, inputs, configs, spec, root, rates)
        return str(read.bag), str(path), None, built
    except BagError as exc:
        return str(read.bag), None, str(exc), False
    finally:
        torch.set_num_threads(threads)


def build_all(
    reads: Sequence[BagPlan],
    inputs: Sequence[ModelInput],
    configs: Mapping[str, Mapping[str, Any]],
    spec: WindowSpec,
    root: Path,
    rates: Sequence[Mapping[str, float]],
    jobs: int = 0,
    progress: bool = True,
    skip_bad: bool = False,
) -> Tuple[List[CachedRecording], List[str], Dict[str, float]]:
    """Cache entries of every bag (``rates``: per bag, each input's rate), ``jobs`` processes at
    once (0: every core). Returns the recordings, the bags skipped (``skip_bad``) with why, and
    build figures."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    jobs = jobs or os.cpu_count() or 1
    work = [
        (r, list(inputs), dict(configs), spec, root, dict(rate)) for r, rate in zip(reads, rates)
    ]
    results = {}
    wall = time.perf_counter()
    bar = tqdm(
        total=len(work), unit='bag', desc='building the dataset cache', disable=not progress
    )
    if jobs > 1 and len(work) > 1:
        import multiprocessing

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context('fork')) as pool:
            for res in pool.map(_build_one, work):
                results[res[0]] = res
                bar.update()
    else:
        for item in work:
            res = _build_one(item)
            results[res[0]] = res
            bar.update()
    bar.close()
    recordings, skipped = [], []
    built = 0
    for read in reads:
        _, path, error, now = results[str(read.bag)]
        if error:
            if not skip_bad:
                raise BagError(f'{error} (pass --skip-bad to leave such bags out)')
            skipped.append(error)
            continue
        built += now
        recordings.append(CachedRecording.load(Path(path), read.bag))
    seconds = sum(r.meta['seconds'] for r in recordings)
    figures = {
        'bags': len(recordings),
        'built': built,
        'reused': len(recordings) - built,
        'seconds_of_data': seconds,
        'wall_seconds': time.perf_counter() - wall,
    }
    return recordings, skipped, figures


# --- labelled sequences -------------------------------------------------------------------------
def window_labels(rec: CachedRecording, truth, classes: Sequence[str], spec: WindowSpec):
    """The class index of each window of ``rec`` (the ground truth at its centre); -1 where
    the truth names no class of ``classes`` or nothing at all."""
    index = {c: k for k, c in enumerate(classes)}
    return np.array(
        [index.get(truth.at(float(e) - spec.length / 2), -1) for e in rec.ends], dtype=np.int64
    )


def labelled_sequences(
    rec: CachedRecording, truth, classes: Sequence[str], spec: WindowSpec, reset_after: float
):
    """The recording as the streams the fusion node steps without a reset
    (``core.contract.split_streams``), unlabelled windows kept in them with label -1 (they
    carry the state on, as on the robot, and are not scored); a stream with no labelled window
    is left out. Returns (sequences, windows without a label)."""
    from hybrid_fusion_ros.core.contract import split_streams
    from .dataset import SequenceData

    labels = window_labels(rec, truth, classes, spec)
    out = []
    for part in split_streams(rec.ends, reset_after):
        if (labels[part] >= 0).any():
            out.append(
                SequenceData(
                    {m: x[part] for m, x in rec.inputs.items()}, labels[part], rec.ends[part]
                )
            )
    return out, int((labels < 0).sum())
