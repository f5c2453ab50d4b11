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

"""``hybrid-fusion bench soak --minutes N``: the node graph fed the demo's simulated sensors live,
at their nominal rates, for N minutes, with a fault of the fault matrix injected every
``--fault-every`` seconds, picked at random (seeded). Prints, once a minute, the RSS of each
node and the label rate; at the end, the RSS growth after warm-up, process restarts, drops
by cause, faults recovered from, and the windows left unlabelled that should have been
labelled. Asserts nothing; ``--json`` writes the figures.

The sensors are :class:`LiveSensors`, which the fault matrix (``test_fault_matrix.py``) uses
too: the demo's SIMULATED streams, published from a thread and stamped with the wall time
each message is due at, with per-sensor offsets (clock faults), rate factors (bursts,
floods) and hooks (bad messages).
"""

from __future__ import annotations

import argparse
from collections import Counter
import json
import os
from pathlib import Path
import random
import signal
import subprocess
import tempfile
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple
import uuid

import numpy as np

from hybrid_fusion_ros.cli import Command

SENSORS = ('camera', 'imu', 'audio')
# Messages per second of each simulated sensor (audio: 0.1 s chunks of 16 kHz).
RATES = {'camera': 15.0, 'camera_compressed': 15.0, 'imu': 100.0, 'audio': 10.0}
TOPICS = {
    'camera': 'camera/image_raw',
    'camera_compressed': 'camera/image_raw/compressed',
    'imu': 'imu/data',
    'audio': 'audio/chunk',
}
Hook = Callable[[object, float], Sequence[object]]


class LiveSensors:
    """The demo's simulated camera, IMU and microphone, published live from a thread.

    Each message is stamped with the wall time it is due at, plus ``offset[sensor]``; a
    sensor publishes at ``factor[sensor]`` times its rate; ``hooks[sensor](msg, stamp)``
    returns the messages to publish in its place. ``enabled[sensor]`` stops and restarts a
    stream. ``sent`` counts what was published, per sensor.
    """

    def __init__(self, node, namespace: str = '', seconds: float = 12.0, seed: int = 3) -> None:
        from hybrid_fusion_msgs.msg import AudioChunk
        from sensor_msgs.msg import CompressedImage
        from sensor_msgs.msg import Image
        from sensor_msgs.msg import Imu

        from hybrid_fusion_ros.ros import conversions as conv
        from ..data.simulation import Episode
        from ..data.simulation import episode_streams
        from hybrid_fusion_ros.ros.qos import DRIVER_QOS

        self._conv = conv
        streams = episode_streams(Episode(seconds, seed=seed))
        zero = conv.sec_to_stamp(0.0)
        frames, audio = streams['camera'][1], streams['audio'][1]
        self.messages = {
            'camera': [conv.rgb_to_image(f, zero) for f in frames],
            'camera_compressed': [conv.rgb_to_compressed(f, zero) for f in frames],
            'imu': [conv.row_to_imu(r, zero) for r in streams['imu'][1]],
            'audio': [
                conv.samples_to_audio(audio[i : i + 1600], 16000, zero)
                for i in range(0, len(audio) - 1599, 1600)
            ],
        }
        types = {
            'camera': Image,
            'camera_compressed': CompressedImage,
            'imu': Imu,
            'audio': AudioChunk,
        }
        # Reliable, as drivers publish (REP-2003); the encoders subscribe best effort.
        self.publishers = {
            s: node.create_publisher(
                t, f'{namespace}/{TOPICS[s]}' if namespace else TOPICS[s], DRIVER_QOS
            )
            for s, t in types.items()
        }
        self.enabled = {s: s != 'camera_compressed' for s in types}
        self.offset = dict.fromkeys(types, 0.0)
        self.factor = dict.fromkeys(types, 1.0)
        self.hooks: Dict[str, Hook] = {}
        self.sent: Counter = Counter()
        self.error: Optional[BaseException] = None
        self.lock = threading.Lock()
        self._next: Dict[str, Optional[float]] = dict.fromkeys(types)
        self._index: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name='live-sensors', daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            self._publish_due()
        except Exception as exc:  # noqa: BLE001 - kept for the caller, which must fail loudly
            self.error = exc
            raise

    def _publish_due(self) -> None:
        while not self._stop.wait(0.004):
            now = time.time()
            with self.lock:
                for sensor, on in self.enabled.items():
                    if not on:
                        self._next[sensor] = None
                        continue
                    rate = RATES[sensor]
                    if self._next[sensor] is None:  # (re)start on the sample grid
                        self._next[sensor] = float(np.ceil(now * rate) / rate)
                    while self._next[sensor] <= now:
                        due = self._next[sensor]
                        msgs = self.messages[sensor]
                        msg = msgs[self._index[sensor] % len(msgs)]
                        self._index[sensor] += 1
                        stamp = due + self.offset[sensor]
                        msg.header.stamp = self._conv.sec_to_stamp(stamp)
                        hook = self.hooks.get(sensor)
                        for out in (hook(msg, stamp) if hook else [msg]):
                            self.publishers[sensor].publish(out)
                            self.sent[sensor] += 1
                        self._next[sensor] = due + 1.0 / (rate * self.factor[sensor])

    def set(self, attr: str, values: Dict[str, object]) -> None:
        with self.lock:
            getattr(self, attr).update(values)

    def hold(self, seconds: float, attr: str, values: Dict[str, object]) -> None:
        """A fault lasting ``seconds``: ``values`` set on ``attr``, then the old ones back."""
        with self.lock:
            old = {k: getattr(self, attr).get(k) for k in values}
        self.set(attr, values)
        time.sleep(seconds)  # the fault's own duration
        with self.lock:
            for k, v in old.items():
                if v is None:
                    getattr(self, attr).pop(k, None)
                else:
                    getattr(self, attr)[k] = v

    def slip_in(
        self, sensor: str, make: Callable[[float], Sequence[object]], timeout: float = 5.0
    ) -> bool:
        """Publish ``make(stamp)`` once, right after the next message of ``sensor``."""
        sent = threading.Event()

        def hook(msg, stamp: float):
            if sent.is_set():
                return [msg]
            sent.set()
            return [msg, *make(stamp)]

        self.set('hooks', {sensor: hook})
        try:
            return sent.wait(timeout)
        finally:
            with self.lock:
                self.hooks.pop(sensor, None)


# --- bad messages, shared with the fault matrix ------------------------------------------------
def _conv():
    from hybrid_fusion_ros.ros import conversions

    return conversions


def nan_imu(t: float) -> List[object]:
    """An IMU message with NaN in the acceleration it says it provides."""
    stamp = _conv().sec_to_stamp(t + 0.001)
    return [_conv().row_to_imu([np.nan, 0.0, 9.8, 0.0, 0.0, 0.0], stamp)]


def late_imu(t: float) -> List[object]:
    """An IMU message stamped 50 ms before the one it follows."""
    stamp = _conv().sec_to_stamp(t - 0.05)
    return [_conv().row_to_imu([0.0, 0.0, 9.8, 0.0, 0.0, 0.0], stamp)]


def bad_audio_bytes(t: float) -> List[object]:
    """An audio chunk whose bytes are not a whole number of 16-bit samples."""
    stamp = _conv().sec_to_stamp(t + 0.05)
    msg = _conv().samples_to_audio(np.zeros(1600, np.float32), 16000, stamp)
    msg.data = bytes(msg.data)[:3199]
    return [msg]


def audio_at_an_absurd_rate(t: float) -> List[object]:
    """16 samples at 4 GHz: not one sample at the model's rate once resampled."""
    return [
        _conv().samples_to_audio(
            np.zeros(16, np.float32), 4_000_000_000, _conv().sec_to_stamp(t + 0.05)
        )
    ]


def image(frame: np.ndarray, t: float, encoding: str = 'rgb8'):
    msg = _conv().rgb_to_image(frame, _conv().sec_to_stamp(t))
    msg.encoding = encoding
    return msg


def unsupported_image(t: float) -> List[object]:
    return [image(np.zeros((8, 8, 3), np.uint8), t + 0.01, 'bayer_rggb8')]


def truncated_image(t: float) -> List[object]:
    msg = image(np.zeros((96, 128, 3), np.uint8), t + 0.01)
    msg.data = bytes(msg.data)[: len(msg.data) // 2]
    return [msg]


def zero_size_image(t: float) -> List[object]:
    msg = image(np.zeros((96, 128, 3), np.uint8), t + 0.01)
    msg.height = msg.width = msg.step = 0
    msg.data = b''
    return [msg]


def resized(width: int, height: int) -> Hook:
    """Camera frames of another resolution in place of the stream's."""
    import cv2

    def make(msg, t: float):
        frame = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
        return [image(cv2.resize(frame, (width, height)), t)]

    return make


def stereo_48k(msg, t: float) -> List[object]:
    """A 0.1 s chunk as 48 kHz stereo: the same signal, upsampled, in both channels."""
    mono = np.frombuffer(bytes(msg.data), '<i2')
    out = _conv().samples_to_audio(np.zeros(0, np.float32), 48000, _conv().sec_to_stamp(t))
    out.channels = 2
    out.data = np.repeat(np.repeat(mono, 3), 2).astype('<i2').tobytes()
    return [out]


def stamped_zero(msg, t: float) -> List[object]:
    msg.header.stamp = _conv().sec_to_stamp(0.0)
    return [msg]


# --- the faults of the soak: those of the matrix that the sensors alone can make ----------------
def _all(value: object) -> Dict[str, object]:
    return {s: value for s in SENSORS}


SOAK_FAULTS: Dict[str, Callable[[LiveSensors], object]] = {
    'audio_bytes_not_whole_samples': lambda s: s.slip_in('audio', bad_audio_bytes),
    'sensor_stamped_zero': lambda s: s.hold(0.5, 'hooks', {'imu': stamped_zero}),
    'imu_time_since_boot': lambda s: s.hold(1.5, 'offset', {'imu': 120.0 - time.time()}),
    'camera_resolution_change': lambda s: s.hold(2.0, 'hooks', {'camera': resized(320, 240)}),
    'audio_48khz_stereo': lambda s: s.hold(2.0, 'hooks', {'audio': stereo_48k}),
    'audio_at_an_absurd_rate': lambda s: s.slip_in('audio', audio_at_an_absurd_rate),
    'microphone_stops': lambda s: s.hold(6.0, 'enabled', {'audio': False}),
    'clock_jump_forward_one_hour': lambda s: s.hold(2.0, 'offset', _all(3600.0)),
    'inputs_stall': lambda s: s.hold(3.5, 'enabled', _all(False)),
    'imu_burst_10x': lambda s: s.hold(2.0, 'factor', {'imu': 10.0}),
    'imu_flood_100x': lambda s: s.hold(1.0, 'factor', {'imu': 100.0}),
    'camera_stops': lambda s: s.hold(2.5, 'enabled', {'camera': False}),
    'imu_nan': lambda s: s.slip_in('imu', nan_imu),
    'image_unsupported_encoding': lambda s: s.slip_in('camera', unsupported_image),
    'image_truncated': lambda s: s.slip_in('camera', truncated_image),
    'image_zero_size': lambda s: s.slip_in('camera', zero_size_image),
    'stamps_out_of_order': lambda s: s.slip_in('imu', late_imu),
    'stamps_duplicated': lambda s: s.hold(0.3, 'hooks', {'imu': lambda msg, t: [msg, msg]}),
    'clock_jump_back': lambda s: s.hold(1.5, 'offset', _all(-10.0)),
    'all_sensors_5x_rate': lambda s: s.hold(2.0, 'factor', _all(5.0)),
}


# --- the graph --------------------------------------------------------------------------------
class SoakGraph:
    """The packaged graph, one process per node as the launcher starts them, pushed into a
    namespace of its own, each node's output in a log file; a node that dies is started
    again and counted."""

    def __init__(self, folder: Path, namespace: str, overrides: Dict[str, Dict[str, str]]) -> None:
        """``overrides``: parameters by node name, ``'*'`` for every node."""
        from hybrid_fusion_ros.ros.graph import CLASSIFIER_GRAPH
        from hybrid_fusion_ros.ros.graph import default_config_path

        self.folder = folder
        self.namespace = namespace
        self.overrides = overrides
        self.config = default_config_path()
        self.specs = {s.name: s for s in CLASSIFIER_GRAPH}
        self.procs: Dict[str, subprocess.Popen] = {}
        self.restarts: Counter = Counter()

    def start(self, name: str) -> None:
        from hybrid_fusion_ros.ros.launcher import node_command
        from hybrid_fusion_ros.ros.qos import sensor_profile_env

        params = {**self.overrides.get('*', {}), **self.overrides.get(name, {})}
        cmd = node_command(self.specs[name], self.config, params, self.folder)
        with (self.folder / f'{name}.log').open('ab') as log:
            self.procs[name] = subprocess.Popen(
                cmd + ['-r', f'__ns:={self.namespace}'],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, PYTHONUNBUFFERED='1', **sensor_profile_env(os.environ)),
            )

    def start_all(self) -> None:
        for name in self.specs:
            self.start(name)

    def restart_dead(self) -> List[str]:
        dead = [n for n, p in self.procs.items() if p.poll() is not None]
        for name in dead:
            self.restarts[name] += 1
            self.start(name)
        return dead

    def rss_mb(self) -> Dict[str, float]:
        from .latency import rss_mb

        out = {}
        for name, proc in self.procs.items():
            try:
                out[name] = rss_mb(proc.pid)
            except OSError:
                out[name] = float('nan')
        return out

    def tracebacks(self) -> Dict[str, int]:
        return {
            n: (self.folder / f'{n}.log').read_text(errors='replace').count('Traceback')
            for n in self.specs
        }

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


class GraphWatch:
    """What the graph says: its labels and its /diagnostics."""

    def __init__(self, node, namespace: str, node_names: Sequence[str]) -> None:
        from hybrid_fusion_msgs.msg import ActivityLabel

        from hybrid_fusion_ros.ros.diagnostics import DiagnosticsCollector
        from hybrid_fusion_ros.ros.qos import RESULT_QOS

        self.diagnostics = DiagnosticsCollector(node)
        self.node_names = list(node_names)
        self.labels: List[Tuple[float, float]] = []  # (monotonic arrival, stamp)
        node.create_subscription(
            ActivityLabel, f'{namespace}/activity', self._on_label, RESULT_QOS
        )

    def _on_label(self, msg) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        self.labels.append((time.monotonic(), stamp))

    def problems(self) -> List[str]:
        from hybrid_fusion_ros.ros.diagnostics import level_of

        out = []
        if not self.labels or time.monotonic() - self.labels[-1][0] > 1.5:
            out.append('no label for 1.5 s')
        latest = dict(self.diagnostics.latest)
        for node in self.node_names:
            mine = [st for name, st in latest.items() if name.startswith(f'{node}: ')]
            if not mine:
                out.append(f'{node}: no status')
            out += [f'{st.name}: {st.message}' for st in mine if level_of(st) != 0]
        return out

    def wait_healthy(self, timeout: float) -> Optional[float]:
        """Seconds until every status was OK and labels came (None: not within ``timeout``).
        Statuses seen before the call may be old: two diagnostics periods are waited first."""
        start = time.monotonic()
        time.sleep(1.2)
        while self.problems():
            if time.monotonic() - start > timeout:
                return None
            time.sleep(0.1)
        return time.monotonic() - start


def unlabelled_windows(
    label_stamps: Sequence[float],
    start: float,
    end: float,
    faults: Sequence[Tuple[float, float]],
    hop: float = 0.5,
    length: float = 1.0,
    grace: float = 1.0,
) -> Tuple[int, int]:
    """(windows that should have been labelled, those of them that were not): grid windows
    ending in [start, end] that overlap no fault (from its start to its recovery, widened
    by ``grace``)."""
    labelled = {int(round(s / hop)) for s in label_stamps}
    expected = missing = 0
    for k in range(int(np.ceil(start / hop)), int(np.floor(end / hop)) + 1):
        e = k * hop
        if any(e > a - grace and e - length < b + grace for a, b in faults):
            continue
        expected += 1
        missing += k not in labelled
    return expected, missing


class BenchSoakCommand(Command):
    help = (
        'soak the node graph with live simulated sensors and random faults: RSS, drops, recovery'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--minutes', type=float, default=30.0, help='how long to run')
        parser.add_argument(
            '--fault-every',
            type=float,
            default=20.0,
            help='seconds between the starts of two faults',
        )
        parser.add_argument(
            '--warmup',
            type=float,
            default=60.0,
            help='seconds after start-up before RSS growth is measured from',
        )
        parser.add_argument('--seed', type=int, default=0, help='seed of the fault sequence')
        parser.add_argument(
            '--recover-timeout',
            type=float,
            default=30.0,
            help='seconds a fault may take to be recovered from',
        )
        parser.add_argument('--json', type=Path, help='also write the figures as JSON here')

    def run(self, args: argparse.Namespace) -> int:
        from ..common.machine import machine_line
        from hybrid_fusion_ros.ros.node_common import BackgroundSpin

        if args.minutes <= 0 or args.fault_every <= 0:
            raise SystemExit('error: --minutes and --fault-every must be > 0')
        namespace = '/soak_' + uuid.uuid4().hex[:8]
        folder = Path(tempfile.mkdtemp(prefix='hybrid_fusion_soak_'))
        # Recovery is judged by the statuses, refreshed twice a second. Label latency is
        # bench latency's subject; clock faults here stamp sensors hours off on purpose.
        graph = SoakGraph(
            folder,
            namespace,
            {
                '*': {'stale_timeout': '1.5', 'diagnostics_period': '0.5'},
                'fusion_node': {'latency_warn_ms': '1e12', 'latency_error_ms': '1e12'},
            },
        )
        spinner = BackgroundSpin('hybrid_fusion_soak')
        sensors = LiveSensors(spinner.node, namespace)
        watch = GraphWatch(spinner.node, namespace, list(graph.specs))
        rng = random.Random(args.seed)
        rss: List[Dict[str, object]] = []
        faults: List[Dict[str, object]] = []
        print(f'node logs in {folder}', flush=True)
        try:
            graph.start_all()
            deadline = time.monotonic() + 120
            while not all(
                p.get_subscription_count() > 0
                for s, p in sensors.publishers.items()
                if s in SENSORS
            ):
                if time.monotonic() > deadline or graph.restart_dead():
                    raise SystemExit('error: the node graph did not start (see the logs above)')
                time.sleep(0.2)
            sensors.start()
            if watch.wait_healthy(120) is None:
                raise SystemExit(f'error: the graph is not healthy: {watch.problems()}')
            t0 = time.monotonic()
            wall0 = time.time()
            end = t0 + 60 * args.minutes
            next_fault = t0 + args.fault_every
            next_sample = t0
            next_line = t0 + 60
            while time.monotonic() < end:
                now = time.monotonic()
                if sensors.error is not None:
                    raise SystemExit(f'error: the simulated sensors failed: {sensors.error!r}')
                graph.restart_dead()
                if now >= next_sample:
                    rss.append({'t_s': round(now - t0, 1), **graph.rss_mb()})
                    next_sample += 10
                if now >= next_line:
                    self._print_minute(now - t0, rss[-1], watch, faults)
                    next_line += 60
                if now >= next_fault and now + 10 < end:
                    faults.append(self._inject(rng, sensors, watch, args.recover_timeout, t0))
                    next_fault += args.fault_every * (
                        1 + int((time.monotonic() - next_fault) // args.fault_every)
                    )
                    continue
                time.sleep(0.2)
            wall1 = time.time()
        finally:
            sensors.stop()
            graph.stop()
            spinner.close()
        result = self._summary(args, graph, watch, rss, faults, wall0, wall1, machine_line())
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0

    @staticmethod
    def _inject(
        rng: random.Random, sensors: LiveSensors, watch: GraphWatch, timeout: float, t0: float
    ) -> Dict[str, object]:
        name = rng.choice(sorted(SOAK_FAULTS))
        start, wall = time.monotonic(), time.time()
        SOAK_FAULTS[name](sensors)
        over = time.time()
        recovered = watch.wait_healthy(timeout)
        record = {
            'fault': name,
            'at_s': round(start - t0, 1),
            'wall_start': wall,
            'fault_over': over,
            'wall_end': time.time(),
            'recovered': recovered is not None,
            'recovery_s': None if recovered is None else round(recovered, 2),
        }
        if recovered is None:
            record['problems'] = watch.problems()
        state = (
            'recovered in {:.1f} s'.format(recovered)
            if recovered is not None
            else f'NOT recovered: {record["problems"]}'
        )
        print(f'  {record["at_s"]:7.1f} s  {name}: {state}', flush=True)
        return record

    @staticmethod
    def _print_minute(
        t: float, sample: Dict[str, object], watch: GraphWatch, faults: Sequence[Dict[str, object]]
    ) -> None:
        now = time.monotonic()
        recent = sum(1 for arrived, _ in watch.labels if arrived > now - 60)
        mem = ', '.join(f'{k} {v:.0f}' for k, v in sample.items() if k != 't_s')
        print(
            f'{t / 60:5.1f} min  RSS MB: {mem}  labels/s {recent / 60:.2f}  faults {len(faults)}',
            flush=True,
        )

    @staticmethod
    def _summary(
        args: argparse.Namespace,
        graph: SoakGraph,
        watch: GraphWatch,
        rss: List[Dict[str, object]],
        faults: List[Dict[str, object]],
        wall0: float,
        wall1: float,
        machine: str,
    ) -> Dict[str, object]:
        warm = [r for r in rss if r['t_s'] >= args.warmup] or rss[-1:]
        growth = {
            n: 100.0 * (warm[-1][n] - warm[0][n]) / warm[0][n]
            for n in graph.specs
            if warm and warm[0].get(n)
        }
        spans = [(f['wall_start'], f['wall_end']) for f in faults]  # the fault and its recovery
        expected, missing = unlabelled_windows(
            [s for _, s in watch.labels], wall0 + 2.0, wall1 - 2.0, spans
        )
        minutes = (wall1 - wall0) / 60
        result = {
            'minutes': round(minutes, 2),
            'seed': args.seed,
            'machine': machine,
            'rss_mb': rss,
            'rss_growth_after_warmup_pct': {k: round(v, 2) for k, v in growth.items()},
            'restarts': dict(graph.restarts),
            'tracebacks': graph.tracebacks(),
            'labels': len(watch.labels),
            'label_rate_hz': len(watch.labels) / (wall1 - wall0),
            'faults': faults,
            'faults_recovered': sum(bool(f['recovered']) for f in faults),
            'windows_expected': expected,
            'windows_unlabelled': missing,
            'drops': watch.diagnostics.drops(),
        }
        print(
            f'\nsoak: {minutes:.1f} min, {len(faults)} faults (seed {args.seed}), '
            f'{result["faults_recovered"]} recovered from; {machine}'
        )
        print(
            '  RSS growth after warm-up: ' + ', '.join(f'{k} {v:+.2f}%' for k, v in growth.items())
        )
        print(
            f'  process restarts: {sum(graph.restarts.values())}; tracebacks in the logs: '
            f"{sum(result['tracebacks'].values())}"
        )
        print(
            f"  labels: {result['labels']} ({result['label_rate_hz']:.2f}/s); windows that "
            f'should have been labelled: {expected}, unlabelled: {missing}'
        )
        for task, values in result['drops'].items():
            print(
                f'  dropped: {task}: '
                + ', '.join(f'{k[9:-1]} {v}' for k, v in values.items() if k != 'Dropped total')
            )
        return result
