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

"""``hybrid-fusion bench latency``: the graph's sensor -> label latency next to the transport
floor, in one run. Prints figures; asserts nothing.

For each image size (the demo's 128x96, and VGA) and each process layout (one process per
node, all nodes in one process), two runs are made on the same live streams, published by a
separate driver process at the demo's rates (camera 15 fps rgb8, IMU 100 Hz, audio 16 kHz
in 0.1 s chunks), stamped with the wall time they are published at:

- **floor**: bare rclpy relays in the graph's place and layout. Each relay subscribes to its
  sensor with the encoder's QoS, and publishes a 64-value ``FeatureVector`` as soon as the
  sample that completes a window arrives; a fusion relay publishes an ``ActivityLabel`` once
  every input's feature for a window is in. That is transport and rclpy alone: the same
  message types, sizes, rates, hops and processes, with no windowing, encoding or fusion.
- **graph**: the real nodes (``hybrid-fusion launch`` / ``--single-process``).

Latency is each label's ``latency_ms``: from the newest sensor sample it used to its
publication. Also printed: the encode time per window (the slowest encoder's, from the
features), the graph's CPU use (from /proc, in cores) and RSS (summed over its processes),
and the ratio label p99 / (floor p99 + encode p99).

``--camera`` instead measures camera frames of real sizes at 30 fps (VGA and 720p rgb8, VGA
16UC1) from a driver process to a bare best-effort subscriber and to the camera encoder.

The helper processes are this module's roles: ``python -m hybrid_fusion_tools.bench.latency
driver|camera|relay ...``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import json
import math
import os
from pathlib import Path
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hybrid_fusion_ros.cli import Command

SIZES = {'demo': (128, 96), 'vga': (640, 480)}
CAMERA_KINDS = {
    'vga': (640, 480, 'rgb8'),
    '720p': (1280, 720, 'rgb8'),
    'vga-depth': (640, 480, '16UC1'),
}
INPUTS = ('camera', 'imu', 'audio')
SENSOR_TOPICS = {'camera': 'camera/image_raw', 'imu': 'imu/data', 'audio': 'audio/chunk'}
LAYOUTS = ('multi', 'single')
BACKENDS = ('torch', 'onnxruntime')
WINDOW_LENGTH, WINDOW_HOP = 1.0, 0.5


# Each kind of simulated stream: the model's sensor type, and its rate (messages per second;
# audio: samples per second, in 0.1 s chunks).
STREAM_KINDS = {
    'camera': ('camera', 15.0),  # rgb8
    'depth': ('camera', 15.0),  # 16UC1 millimetres
    'imu': ('imu', 100.0),
    'audio': ('audio', 16000.0),
}
# The message each sensor type is published as (a key of conversions.INPUT_TYPES).
MESSAGE_TYPES = {
    'camera': 'sensor_msgs/msg/Image',
    'imu': 'sensor_msgs/msg/Imu',
    'audio': 'hybrid_fusion_msgs/msg/AudioChunk',
}


@dataclass(frozen=True)
class Stream:
    """One simulated sensor stream of a bench run: an input of the model, named ``name``, of
    kind ``kind`` (a key of :data:`STREAM_KINDS`), on the topic the graph reads that input
    from by default (``<name>/image_raw``, ``<name>/data``, ``<name>/chunk``)."""

    name: str
    kind: str

    @property
    def sensor_type(self) -> str:
        return STREAM_KINDS[self.kind][0]

    @property
    def rate(self) -> float:
        return STREAM_KINDS[self.kind][1]

    @property
    def period(self) -> float:
        return 1.0 / self.rate

    @property
    def topic(self) -> str:
        from hybrid_fusion_ros.core.inputs import TOPIC_SUFFIX

        return f'{self.name}/{TOPIC_SUFFIX[self.sensor_type]}'

    @property
    def message_class(self) -> type:
        from hybrid_fusion_ros.ros.conversions import INPUT_TYPES

        return INPUT_TYPES[MESSAGE_TYPES[self.sensor_type]][0]


DEFAULT_STREAMS = tuple(Stream(name, name) for name in INPUTS)


def format_streams(streams: Sequence[Stream]) -> str:
    return ','.join(f'{s.name}:{s.kind}' for s in streams)


def parse_streams(text: str) -> Tuple[Stream, ...]:
    """``'camera:camera,depth:depth,imu:imu'`` -> streams (a bare name is its own kind)."""
    streams = []
    for item in text.split(','):
        name, _, kind = item.strip().partition(':')
        streams.append(Stream(name, kind or name))
    unknown = [s.kind for s in streams if s.kind not in STREAM_KINDS]
    if unknown:
        raise ValueError(f'unknown stream kind(s) {unknown}; known: {list(STREAM_KINDS)}')
    return tuple(streams)


# --- /proc: CPU and memory of processes ------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (s)."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def rss_mb(pid: int) -> float:
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return float('nan')


class ProcessMeter:
    """CPU use (cores) of some processes between ``start`` and ``stop``, and their RSS (MB,
    summed) at ``stop``."""

    def __init__(self, pids: Sequence[int]) -> None:
        self.pids = list(pids)

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = {p: cpu_seconds(p) for p in self.pids}

    def stop(self) -> Dict[str, Any]:
        wall = time.monotonic() - self._t0
        cpu = {p: cpu_seconds(p) - self._cpu0[p] for p in self.pids}
        rss = {p: rss_mb(p) for p in self.pids}
        return {
            'cpu_cores': sum(cpu.values()) / wall,
            'cpu_cores_per_process': [round(c / wall, 3) for c in cpu.values()],
            'rss_mb': sum(rss.values()),
            'rss_mb_per_process': [round(r, 1) for r in rss.values()],
            'processes': len(self.pids),
        }


# --- helper processes --------------------------------------------------------------------------


def _init_ros(name: str):
    """rclpy with the package's sensor-transport profile (before init: Fast DDS reads it when
    the participant is created); the node."""
    import rclpy

    from hybrid_fusion_ros.ros.qos import use_sensor_profile

    use_sensor_profile()
    rclpy.init(args=[])
    return rclpy.create_node(name)


def _stamp(t: float):
    from builtin_interfaces.msg import Time

    ns = int(round(t * 1e9))
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def _wait_for_subscribers(publishers: Sequence[Any], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not all(p.get_subscription_count() > 0 for p in publishers):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def run_driver(
    size: Tuple[int, int],
    seconds: float,
    seed: int,
    streams: Sequence[Stream] = DEFAULT_STREAMS,
) -> int:
    """Publish simulated ``streams`` live: colour frames (scaled to ``size``), depth frames
    (their brightness as 0-4 m, ``16UC1``, also at ``size``), IMU rows and audio chunks, each
    message stamped with its due wall time and published then, as a driver would. Streams of
    one kind carry the same simulated data on their own topics."""
    import cv2
    import numpy as np

    from hybrid_fusion_ros.ros import conversions as conv
    from ..data.simulation import Episode
    from ..data.simulation import episode_streams
    from ..data.simulation import SimulationConfig
    from hybrid_fusion_ros.ros.qos import DRIVER_QOS

    config = SimulationConfig()
    sim = episode_streams(Episode(seconds + WINDOW_LENGTH, seed=seed, config=config, t0=0.0))
    node = _init_ros('bench_latency_driver')
    pubs = {s.name: node.create_publisher(s.message_class, s.topic, DRIVER_QOS) for s in streams}
    if not _wait_for_subscribers(list(pubs.values())):
        print(json.dumps({'error': 'no subscriber on the sensor topics'}), flush=True)
        return 1
    cam_t, frames = sim['camera']
    imu_t, rows = sim['imu']
    audio_t, audio = sim['audio']
    n = config.audio_chunk
    # Stamps on each sensor's exact period (the simulation jitters them): the floor's relays
    # then know which sample completes a window, as a sensor of a steady rate lets one know.
    # A frame or an IMU sample is published when it is taken; an audio chunk, stamped with its
    # first sample (AudioChunk.msg), once its last sample is in, as a microphone driver does.
    chunk = n / config.audio_rate
    due_times = {
        'camera': [(round(t * config.camera_rate) / config.camera_rate, 0.0) for t in cam_t],
        'imu': [(round(t * config.imu_rate) / config.imu_rate, 0.0) for t in imu_t],
        'audio': [(i * chunk + chunk, chunk) for i in range(len(audio_t) // n)],
    }
    events = sorted(
        (t, age, order, i)
        for order, s in enumerate(streams)
        for i, (t, age) in enumerate(due_times[s.sensor_type])
    )
    t0 = math.ceil(time.time()) + 1.0  # whole seconds: stamps keep the recording's grid
    published = {s.name: 0 for s in streams}
    w, h = size

    def frame_at(i: int) -> np.ndarray:
        if frames[i].shape[:2] == (h, w):
            return frames[i]
        return cv2.resize(frames[i], (w, h), interpolation=cv2.INTER_NEAREST)

    for t, age, order, i in events:
        if t > seconds:
            break
        due = t0 + t
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        stamp = _stamp(due - age)
        s = streams[order]
        if s.kind == 'camera':
            msg = conv.rgb_to_image(frame_at(i), stamp, s.name)
        elif s.kind == 'depth':
            metres = frame_at(i).mean(axis=-1, dtype=np.float32) * np.float32(4.0 / 255.0)
            msg = conv.depth_to_image(metres, stamp, s.name)
        elif s.kind == 'imu':
            msg = conv.row_to_imu(rows[i], stamp, s.name)
        else:
            msg = conv.samples_to_audio(
                np.asarray(audio[i * n : (i + 1) * n]), config.audio_rate, stamp
            )
        pubs[s.name].publish(msg)
        published[s.name] += 1
    print(json.dumps({'published': published, 'start': t0, 'seconds': seconds}), flush=True)
    time.sleep(1.0)  # let the last messages leave before the participant goes
    node.destroy_node()
    return 0


def run_camera(
    size: Tuple[int, int], encoding: str, rate: float, seconds: float, subscribers: int, topic: str
) -> int:
    """Publish frames of ``size`` and ``encoding`` at ``rate``, stamped now, reliable (as a
    driver publishes, REP-2003), once ``subscribers`` subscriptions have matched."""
    import numpy as np
    from sensor_msgs.msg import Image

    from hybrid_fusion_ros.ros.qos import DRIVER_QOS

    node = _init_ros('bench_latency_camera')
    pub = node.create_publisher(Image, topic, DRIVER_QOS)
    deadline = time.monotonic() + 60.0
    while pub.get_subscription_count() < subscribers and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # discovery of the reverse direction
    w, h = size
    channels, itemsize = (3, 1) if encoding == 'rgb8' else (1, 2)
    rng = np.random.default_rng(0)
    data = rng.integers(0, 255, w * h * channels * itemsize, dtype=np.uint8).tobytes()
    count = int(seconds * rate)
    start = time.time() + 0.1
    for i in range(count):
        delay = start + i / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        msg = Image(height=h, width=w, encoding=encoding, step=w * channels * itemsize, data=data)
        msg.header.stamp = _stamp(time.time())
        pub.publish(msg)
    print(json.dumps({'published': count}), flush=True)
    time.sleep(1.0)
    node.destroy_node()
    return 0


@dataclass
class _Stream:
    """Where a relay is in its sensor's window grid."""

    period: float
    next_end: Optional[float] = None
    newest: Optional[float] = None  # newest sample stamp seen


class RelayEncoder:
    """An encoder's place in the graph without its work: a 64-value feature for each window
    (every ``hop`` seconds), published when the sample that completes the window arrives (the
    next one is due at or after the window's end, so it cannot fall in it)."""

    def __init__(self, node, stream: Stream, hop: float = WINDOW_HOP) -> None:
        from hybrid_fusion_msgs.msg import FeatureVector

        from hybrid_fusion_ros.core.inputs import QUEUE_DEPTH
        from hybrid_fusion_ros.ros.qos import RESULT_QOS
        from hybrid_fusion_ros.ros.qos import sensor_qos

        self.name = stream.name
        self.audio = stream.sensor_type == 'audio'
        self.hop = hop
        self.node = node
        self.stream = _Stream(stream.period)
        self.pub = node.create_publisher(FeatureVector, f'features/{stream.name}', RESULT_QOS)
        node.create_subscription(
            stream.message_class,
            stream.topic,
            self._on_sample,
            sensor_qos(QUEUE_DEPTH[stream.sensor_type]),
        )

    def _on_sample(self, msg) -> None:
        import numpy as np

        from hybrid_fusion_ros.ros import conversions as conv

        first = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        samples = len(msg.data) // 2 if self.audio else 1
        s = self.stream
        last = first + (samples - 1) * s.period
        if s.next_end is None:
            s.next_end = math.ceil((first + WINDOW_LENGTH) / self.hop) * self.hop
        while last + s.period >= s.next_end - 1e-6:
            end = s.next_end
            if last < end:
                inside = last
            elif first < end:
                inside = first + math.floor((end - first) / s.period - 1e-9) * s.period
            else:
                inside = s.newest
            newest = inside if inside is not None else last
            self.pub.publish(
                conv.feature_to_msg(
                    np.zeros(64, np.float32),
                    self.name,
                    'relay',
                    end - WINDOW_LENGTH,
                    end,
                    newest,
                    samples,
                    0.0,
                )
            )
            s.next_end += self.hop
        s.newest = last


class RelayFusion:
    """The fusion node's place: a label as soon as every input's feature of a window is in,
    its latency from the newest sample of those features."""

    def __init__(self, node, inputs: Sequence[str]) -> None:
        from hybrid_fusion_msgs.msg import ActivityLabel
        from hybrid_fusion_msgs.msg import FeatureVector

        from hybrid_fusion_ros.ros.qos import RESULT_QOS

        self.node = node
        self.inputs = tuple(inputs)
        self.pending: Dict[int, Dict[str, float]] = {}
        self.pub = node.create_publisher(ActivityLabel, 'activity', RESULT_QOS)
        for name in self.inputs:
            node.create_subscription(
                FeatureVector,
                f'features/{name}',
                lambda msg, name=name: self._on_feature(name, msg),
                RESULT_QOS,
            )

    def _on_feature(self, name: str, msg) -> None:
        from hybrid_fusion_ros.ros import conversions as conv

        key = conv.stamp_to_ns(msg.header.stamp)
        got = self.pending.setdefault(key, {})
        got[name] = conv.stamp_to_sec(msg.newest_sample_stamp)
        if len(got) == len(self.inputs):
            newest = max(got.values())
            del self.pending[key]
            for old in [k for k in self.pending if k < key]:
                del self.pending[old]
            latency_ms = (time.time() - newest) * 1e3
            self.pub.publish(
                conv.make_label(
                    msg.header.stamp, ['relay'], None, 0, list(self.inputs), 'early', latency_ms
                )
            )


def run_relays(
    nodes: Sequence[str], streams: Sequence[Stream] = DEFAULT_STREAMS, hop: float = WINDOW_HOP
) -> int:
    """The floor's stand-ins for ``nodes`` (names of ``streams`` and 'fusion') in this process,
    on one SingleThreadedExecutor, until SIGINT."""
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.executors import SingleThreadedExecutor

    first = _init_ros(f'{nodes[0]}_relay')
    ros_nodes = [first] + [rclpy.create_node(f'{n}_relay') for n in nodes[1:]]
    by_name = {s.name: s for s in streams}
    names = [s.name for s in streams]
    keep = [
        RelayFusion(node, names) if name == 'fusion' else RelayEncoder(node, by_name[name], hop)
        for name, node in zip(nodes, ros_nodes)
    ]
    executor = SingleThreadedExecutor()
    for node in ros_nodes:
        executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        del keep
        for node in ros_nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _role_command(*args: str) -> List[str]:
    return [sys.executable, '-m', 'hybrid_fusion_tools.bench.latency', *args]


def start_floor(
    layout: str, streams: Sequence[Stream] = DEFAULT_STREAMS, hop: float = WINDOW_HOP
) -> List[subprocess.Popen]:
    """The floor's relay processes in the graph's ``layout``: one per input and one for the
    fusion relay ('multi'), or all of them in one ('single')."""
    names = [s.name for s in streams] + ['fusion']
    groups = [names] if layout == 'single' else [[n] for n in names]
    return [
        subprocess.Popen(
            _role_command(
                'relay',
                '--nodes',
                ','.join(group),
                '--streams',
                format_streams(streams),
                '--hop',
                repr(hop),
            )
        )
        for group in groups
    ]


# --- the measuring side ------------------------------------------------------------------------


class Listener:
    """Labels, features and /diagnostics seen by the bench's own node (another process than
    the graph's)."""

    def __init__(self, node, inputs: Sequence[str] = INPUTS) -> None:
        from hybrid_fusion_msgs.msg import ActivityLabel
        from hybrid_fusion_msgs.msg import FeatureVector

        from hybrid_fusion_ros.ros.diagnostics import DiagnosticsCollector
        from hybrid_fusion_ros.ros.qos import RESULT_QOS

        self.node = node
        self.lock = threading.Lock()
        self.labels: List[Tuple[float, float]] = []  # (stamp, latency_ms)
        self.encode: Dict[float, float] = {}  # window stamp -> slowest encoder (ms)
        self.recording_from = 0.0
        node.create_subscription(ActivityLabel, 'activity', self._on_label, RESULT_QOS)
        for name in inputs:
            node.create_subscription(
                FeatureVector, f'features/{name}', self._on_feature, RESULT_QOS
            )
        self.diagnostics = DiagnosticsCollector(node)

    def _on_label(self, msg) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if stamp >= self.recording_from:
            with self.lock:
                self.labels.append((stamp, float(msg.latency_ms)))

    def _on_feature(self, msg) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        if stamp >= self.recording_from:
            with self.lock:
                self.encode[stamp] = max(self.encode.get(stamp, 0.0), float(msg.encode_time_ms))

    def reset(self, from_stamp: float) -> None:
        with self.lock:
            self.recording_from = from_stamp
            self.labels.clear()
            self.encode.clear()


def _stop(processes: Sequence[subprocess.Popen]) -> None:
    import signal

    for p in processes:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in processes:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def _percentiles(values: Sequence[float]) -> Dict[str, float]:
    from hybrid_fusion_ros.core.metrics import percentiles

    return {k: round(v, 2) for k, v in percentiles(values, (50, 99)).items()}


def measure(
    listener: Listener,
    pids: Sequence[int],
    size: Tuple[int, int],
    seconds: float,
    warmup: float,
    seed: int,
    ready,
    streams: Sequence[Stream] = DEFAULT_STREAMS,
    hop: float = WINDOW_HOP,
) -> Dict[str, Any]:
    """Run the driver of ``streams`` for ``warmup + seconds``. Windows (every ``hop`` s)
    ending in the first ``warmup`` seconds (start-up: first forward passes, discovery) are not
    counted, nor is their CPU."""
    if not ready():
        raise RuntimeError('the nodes did not come up')
    listener.reset(0.0)
    meter = ProcessMeter(pids)
    # One second more than is counted: a window whose closing sample never came would be
    # counted as unlabelled for the driver's stopping, not for the graph.
    driver = subprocess.Popen(
        _role_command(
            'driver',
            '--size',
            f'{size[0]}x{size[1]}',
            '--seconds',
            str(warmup + seconds + 1.0),
            '--seed',
            str(seed),
            '--streams',
            format_streams(streams),
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        started = time.monotonic()
        recording = False
        while driver.poll() is None:
            # The driver's stamps start a second or two after it starts (discovery, then the
            # next whole second): the CPU is measured from warm-up + 2 s on.
            if not recording and time.monotonic() >= started + warmup + 2.0:
                meter.start()
                recording = True
            time.sleep(0.05)
        usage = meter.stop() if recording else {}
        out = driver.stdout.read()
    finally:
        _stop([driver])
    report = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    if 'start' not in report:
        raise RuntimeError(f"driver failed: {report.get('error', out[-500:])}")
    first_end = math.ceil((report['start'] + warmup + WINDOW_LENGTH) / hop - 1e-6) * hop
    last_end = math.floor((report['start'] + warmup + seconds) / hop + 1e-6) * hop
    counted = lambda stamp: first_end - 1e-6 <= stamp <= last_end + 1e-6  # noqa: E731
    time.sleep(1.0)  # the last windows' labels
    with listener.lock:
        labels = [(s, lat) for s, lat in listener.labels if counted(s)]
        encode = [v for s, v in listener.encode.items() if counted(s)]
    expected = max(0, int(round((last_end - first_end) / hop)) + 1)
    return {
        'labels': len({round(s, 3) for s, _ in labels}),
        'windows': expected,
        'latency_ms': _percentiles([lat for _, lat in labels]),
        'encode_ms': _percentiles(encode) if encode and max(encode) > 0 else None,
        **usage,
    }


class BenchLatencyCommand(Command):
    help = (
        "the graph's sensor -> label latency next to the transport floor, per process layout "
        'and image size; CPU and RSS of the graph (figures, not a test)'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            '--seconds',
            type=float,
            default=30.0,
            help='seconds measured per configuration (after --warmup)',
        )
        parser.add_argument(
            '--warmup', type=float, default=3.0, help='seconds not counted at the start'
        )
        parser.add_argument('--sizes', default='demo,vga', help=f'image sizes: {",".join(SIZES)}')
        parser.add_argument(
            '--layouts',
            default=','.join(LAYOUTS),
            help="'multi' (one process per node), 'single' (graph_container)",
        )
        parser.add_argument(
            '--backends',
            default=','.join(BACKENDS),
            help=(
                "the nodes' inference backends to measure (inference_backend "
                f"parameter): {','.join(BACKENDS)}"
            ),
        )
        parser.add_argument(
            '--config', type=Path, help='YAML parameter file (default: the packaged one)'
        )
        parser.add_argument('--seed', type=int, default=7, help='seed of the simulated streams')
        parser.add_argument(
            '--camera',
            action='store_true',
            help=(
                'instead: camera frames of real sizes at 30 fps, delivered to a '
                'bare subscriber and to the camera encoder'
            ),
        )
        parser.add_argument('--camera-seconds', type=float, default=10.0)
        parser.add_argument('--json', type=Path, help='also write the figures as JSON here')

    def run(self, args: argparse.Namespace) -> int:
        from ..common.machine import machine_line
        from hybrid_fusion_ros.ros.node_common import BackgroundSpin
        from hybrid_fusion_ros.ros.qos import use_sensor_profile

        profile = use_sensor_profile()
        sizes = [s.strip() for s in args.sizes.split(',') if s.strip()]
        layouts = [s.strip() for s in args.layouts.split(',') if s.strip()]
        backends = [s.strip() for s in args.backends.split(',') if s.strip()]
        bad = (
            [s for s in sizes if s not in SIZES]
            + [s for s in layouts if s not in LAYOUTS]
            + [s for s in backends if s not in BACKENDS]
        )
        if bad:
            raise SystemExit(
                f'error: unknown size, layout or backend {bad}; sizes: {list(SIZES)}, '
                f'layouts: {list(LAYOUTS)}, backends: {list(BACKENDS)}'
            )
        args.backends = backends
        print(f'{machine_line()}; Fast DDS profile: {profile or "none"}', flush=True)
        with BackgroundSpin('hybrid_fusion_bench_latency') as spinner:
            if args.camera:
                result = {'camera': camera_delivery(spinner.node, args.camera_seconds)}
            else:
                result = {'rows': latency_rows(spinner.node, args, sizes, layouts)}
        result.update(
            machine=machine_line(),
            profile=profile,
            backends=args.backends,
            seconds=args.seconds if not args.camera else args.camera_seconds,
        )
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0


def latency_rows(
    node, args: argparse.Namespace, sizes: Sequence[str], layouts: Sequence[str]
) -> List[Dict[str, Any]]:
    from hybrid_fusion_ros.ros.graph import default_config_path
    from hybrid_fusion_ros.ros.launcher import GraphProcess

    listener = Listener(node)
    config = args.config or default_config_path()
    rows = []

    def measured(procs: Sequence[subprocess.Popen], size: str) -> Dict[str, Any]:
        """The live streams at ``size`` through ``procs`` (the floor's or the graph's)."""
        return measure(
            listener,
            [p.pid for p in procs],
            SIZES[size],
            args.seconds,
            args.warmup,
            args.seed,
            lambda: _ready(node, procs),
        )

    print(
        f"{'size':<6} {'layout':<7} {'run':<12} {'labels':>11} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'encode p99':>10} {'CPU cores':>9} {'RSS MB':>7}",
        flush=True,
    )
    for size in sizes:
        for layout in layouts:
            pair = {}
            for run in ['floor'] + [f'graph {b}' for b in args.backends]:
                if run == 'floor':
                    procs = start_floor(layout)
                    try:
                        r = measured(procs, size)
                    finally:
                        _stop(procs)
                else:
                    overrides = {'inference_backend': run.split()[1]}
                    with GraphProcess(
                        config, overrides, quiet=True, single_process=layout == 'single'
                    ) as graph:
                        procs = list(graph.processes.values())
                        r = measured(procs, size)
                wait_gone(node, list(SENSOR_TOPICS.values()))
                r.update(
                    size=size,
                    layout=layout,
                    run=run.split()[0],
                    image=list(SIZES[size]),
                    **({'backend': run.split()[1]} if run != 'floor' else {}),
                )
                pair[run] = r
                rows.append(r)
                lat, enc = r['latency_ms'], r['encode_ms']
                encode = f"{enc['p99']:.1f}" if enc else '-'
                print(
                    f"{size:<6} {layout:<7} {run:<12} {r['labels']:>5}/{r['windows']:<5} "
                    f"{lat['p50']:>8.1f} {lat['p99']:>8.1f} {encode:>10} "
                    f"{r.get('cpu_cores', math.nan):>9.2f} {r.get('rss_mb', math.nan):>7.0f}",
                    flush=True,
                )
            floor = pair['floor']
            for backend in args.backends:
                graph_row = pair[f'graph {backend}']
                encode_p99 = (graph_row['encode_ms'] or {}).get('p99', 0.0)
                denominator = floor['latency_ms']['p99'] + encode_p99
                graph_row['ratio_p99_to_floor_plus_encode'] = (
                    round(graph_row['latency_ms']['p99'] / denominator, 2)
                    if denominator > 0
                    else None
                )
                print(
                    f'{size:<6} {layout:<7} {backend}: label p99 / (floor p99 + encode p99) = '
                    f"{graph_row['latency_ms']['p99']:.1f} / ({floor['latency_ms']['p99']:.1f}"
                    f" + {encode_p99:.1f}) = {graph_row['ratio_p99_to_floor_plus_encode']}",
                    flush=True,
                )
    return rows


def _ready(
    node,
    procs: Sequence[subprocess.Popen],
    timeout: float = 120.0,
    topics: Sequence[str] = tuple(SENSOR_TOPICS.values()),
) -> bool:
    """The graph (or its floor) is up: something subscribes to every sensor topic and
    publishes labels; False when one of its processes exited or after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            return False
        if (
            all(node.count_subscribers('/' + t) > 0 for t in topics)
            and node.count_publishers('/activity') > 0
        ):
            return True
        time.sleep(0.1)
    return False


def wait_gone(node, topics: Sequence[str], timeout: float = 20.0) -> bool:
    """After a run: wait until discovery no longer lists a label publisher or a subscriber of
    ``topics`` (the stopped processes' endpoints), so that the next run's readiness check
    cannot be satisfied by the last run's nodes; False after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.count_publishers('/activity') == 0 and all(
            node.count_subscribers('/' + t) == 0 for t in topics
        ):
            return True
        time.sleep(0.1)
    return False


def camera_delivery(node, seconds: float) -> List[Dict[str, Any]]:
    """Each camera kind at 30 fps from a driver process, to a bare best-effort subscriber
    (the encoder's QoS) in this process and to the camera encoder in a process of its own."""
    from sensor_msgs.msg import Image

    from hybrid_fusion_ros.core.inputs import QUEUE_DEPTH
    from hybrid_fusion_ros.ros.graph import default_config_path
    from hybrid_fusion_ros.ros.graph import spec_for_node
    from hybrid_fusion_ros.ros.launcher import GraphProcess
    from hybrid_fusion_ros.ros.qos import sensor_qos

    received: List[Tuple[int, float]] = []
    lock = threading.Lock()

    def on_frame(msg) -> None:
        hop = time.time() - (msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9)
        with lock:
            received.append((msg.width, hop * 1e3))

    node.create_subscription(
        Image, '/' + SENSOR_TOPICS['camera'], on_frame, sensor_qos(QUEUE_DEPTH['camera'])
    )
    from hybrid_fusion_ros.ros.diagnostics import DiagnosticsCollector

    diagnostics = DiagnosticsCollector(node)
    rows = []
    print(
        f"{'frames':<10} {'size':>9} {'sent':>5} {'bare sub':>9} {'hop p50':>8} {'hop p99':>8} "
        f"{'encoder got':>11} {'encoder CPU':>11}",
        flush=True,
    )
    for kind, (w, h, encoding) in CAMERA_KINDS.items():
        with lock:
            received.clear()
        diagnostics.latest.clear()
        with GraphProcess(
            default_config_path(),
            {'sensor_rate_hz': '30.0'},
            quiet=True,
            graph=(spec_for_node('camera_encoder'),),
        ) as graph:
            graph.wait_for(
                lambda: node.count_subscribers('/' + SENSOR_TOPICS['camera']) >= 2,
                120.0,
                'the camera encoder',
            )
            pid = graph.processes['camera_encoder'].pid
            meter = ProcessMeter([pid])
            meter.start()
            proc = subprocess.run(
                _role_command(
                    'camera',
                    '--size',
                    f'{w}x{h}',
                    '--encoding',
                    encoding,
                    '--seconds',
                    str(seconds),
                    '--subscribers',
                    '2',
                ),
                capture_output=True,
                text=True,
                timeout=seconds + 120,
            )
            usage = meter.stop()
            sent = (
                json.loads(proc.stdout.strip().splitlines()[-1])['published']
                if proc.returncode == 0
                else 0
            )
            graph.wait_for(lambda: _events(diagnostics) >= 0, 5.0, 'camera encoder diagnostics')
            time.sleep(1.5)  # its next diagnostics, with the last frames counted
            events = _events(diagnostics)
        with lock:
            hops = [hop for width, hop in received if width == w]
        pct = _percentiles(hops)
        row = {
            'frames': kind,
            'width': w,
            'height': h,
            'encoding': encoding,
            'rate_hz': 30.0,
            'sent': sent,
            'bare_subscriber': len(hops),
            'hop_ms': pct,
            'encoder_received': events,
            'encoder_cpu_cores': round(usage['cpu_cores'], 3),
        }
        rows.append(row)
        print(
            f"{kind:<10} {f'{w}x{h}':>9} {sent:>5} {len(hops):>9} {pct['p50']:>8.2f} "
            f"{pct['p99']:>8.2f} {events:>11} {usage['cpu_cores']:>11.2f}",
            flush=True,
        )
    return rows


def _events(diagnostics) -> int:
    """Frames the camera encoder received: used, plus dropped for a cause (a depth frame
    into a colour model, say); -1 before its first diagnostics."""
    values = diagnostics.values('camera/image_raw topic status')
    if not values:
        return -1
    used = int(float(values.get('Events since startup', 0)))
    return used + int(float(values.get('Dropped total', 0)))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The helper processes' roles."""
    parser = argparse.ArgumentParser(prog='bench_latency')
    parser.add_argument('role', choices=('driver', 'camera', 'relay'))
    parser.add_argument('--size', default='128x96')
    parser.add_argument('--encoding', default='rgb8')
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--subscribers', type=int, default=1)
    parser.add_argument('--nodes', default='camera,imu,audio,fusion')
    parser.add_argument('--topic', default=SENSOR_TOPICS['camera'], help='camera: the image topic')
    parser.add_argument(
        '--streams', default=format_streams(DEFAULT_STREAMS), help='driver, relay: NAME:KIND,...'
    )
    parser.add_argument('--hop', type=float, default=WINDOW_HOP, help='relay: window hop (s)')
    args = parser.parse_args(argv)
    size = tuple(int(v) for v in args.size.split('x'))
    streams = parse_streams(args.streams)
    if args.role == 'driver':
        return run_driver(size, args.seconds, args.seed, streams)
    if args.role == 'camera':
        return run_camera(
            size, args.encoding, args.rate, args.seconds, args.subscribers, args.topic
        )
    return run_relays(args.nodes.split(','), streams, args.hop)


if __name__ == '__main__':
    sys.exit(main())
