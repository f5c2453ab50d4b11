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

"""The fault matrix: one fault at a time, injected through real publishers into the real node
graph (the packaged checkpoint's three encoder nodes and the fusion node, each its own process,
started as the launcher starts them), fed the demo's simulated streams live.

Each row is a fault. Before it, the graph must be healthy: labels coming, every status OK.
After it, the row asserts that no process died and none logged a traceback, that labels
resumed within the row's stated time, that the fault showed in /diagnostics by its cause, and
that every status went back to OK. Rows run in sequence on one graph, with a healthy stream
between them; faults that take minutes belong to ``hybrid-fusion bench soak`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from conftest import RosHarness
from conftest import wait_until
import numpy as np
import pytest

from hybrid_fusion_ros.ros import conversions as conv
from hybrid_fusion_ros.ros.diagnostics import level_of
from hybrid_fusion_ros.ros.graph import CLASSIFIER_GRAPH
from hybrid_fusion_ros.ros.graph import default_config_path
from hybrid_fusion_ros.ros.graph import NodeSpec
from hybrid_fusion_ros.ros.launcher import node_command
from hybrid_fusion_ros.ros.qos import RESULT_QOS
from hybrid_fusion_ros.ros.qos import sensor_profile_env
from hybrid_fusion_tools.bench.soak import audio_at_an_absurd_rate
from hybrid_fusion_tools.bench.soak import bad_audio_bytes
from hybrid_fusion_tools.bench.soak import late_imu
from hybrid_fusion_tools.bench.soak import LiveSensors
from hybrid_fusion_tools.bench.soak import nan_imu
from hybrid_fusion_tools.bench.soak import resized
from hybrid_fusion_tools.bench.soak import SENSORS
from hybrid_fusion_tools.bench.soak import stamped_zero
from hybrid_fusion_tools.bench.soak import stereo_48k
from hybrid_fusion_tools.bench.soak import truncated_image
from hybrid_fusion_tools.bench.soak import unlabelled_windows
from hybrid_fusion_tools.bench.soak import unsupported_image
from hybrid_fusion_tools.bench.soak import zero_size_image

pytestmark = pytest.mark.slow  # every fault row against one running graph: minutes

# Faster diagnostics than the defaults, so that a row takes seconds; the levels' logic is the
# nodes' own. This machine is shared by several test runs: label latency is not what the
# matrix is about, so its thresholds are out of the way (faults here also stamp sensors
# hours away from the clock, on purpose).
ALL_NODES = {'diagnostics_period': '0.25', 'stale_timeout': '1.5'}
FUSION = {'stale_error_timeout': '4.0', 'latency_warn_ms': '1e12', 'latency_error_ms': '1e12'}
COMPRESSED = NodeSpec(
    'camera_compressed_encoder',
    'encoder_node',
    'hybrid_fusion_ros.nodes.encoder_node',
    (
        ('input', 'camera'),
        ('image_transport', 'compressed'),
        ('feature_topic', 'features/camera_compressed'),
    ),
)


class Matrix:
    """The running graph, the sensor source and what the graph says (labels, /diagnostics)."""

    def __init__(self, ros: RosHarness, folder: Path) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from hybrid_fusion_msgs.msg import ActivityLabel
        from hybrid_fusion_msgs.msg import FeatureVector

        self.ros = ros
        self.ns = ros.namespace
        self.folder = folder
        self.config = default_config_path()
        self.specs = {s.name: s for s in (*CLASSIFIER_GRAPH, COMPRESSED)}
        self.procs: Dict[str, subprocess.Popen] = {}
        self.logs: Dict[str, Path] = {}
        self.node = ros.node('fault_matrix')
        self.labels: List[Tuple[float, object]] = []
        self.compressed_features: List[float] = []
        self.latest: Dict[str, Tuple[float, object]] = {}
        self.history: List[Tuple[float, str, int, str]] = []
        self._diag_lock = threading.Lock()
        self.node.create_subscription(
            ActivityLabel,
            f'{self.ns}/activity',
            lambda m: self.labels.append((time.monotonic(), m)),
            RESULT_QOS,
        )
        self.node.create_subscription(
            FeatureVector,
            f'{self.ns}/features/camera_compressed',
            lambda m: self.compressed_features.append(time.monotonic()),
            RESULT_QOS,
        )
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 100)
        self.watched = {s.name for s in CLASSIFIER_GRAPH}
        self.source = LiveSensors(self.node, self.ns)

    # --- processes --------------------------------------------------------------------------
    def start_node(self, name: str, **params: str) -> subprocess.Popen:
        spec = self.specs[name]
        overrides = {**ALL_NODES, **(FUSION if name == 'fusion_node' else {}), **params}
        cmd = node_command(spec, self.config, overrides, self.folder) + ['-r', f'__ns:={self.ns}']
        self.logs[name] = self.folder / f'{name}.log'
        log = self.logs[name].open('ab')
        # The environment the launcher gives its nodes (the sensor-transport profile).
        env = dict(os.environ, PYTHONUNBUFFERED='1', **sensor_profile_env(os.environ))
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.procs[name] = proc
        return proc

    def stop_node(self, name: str, sig: int = signal.SIGINT) -> int:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=5)

    def dead(self) -> Dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def log_text(self, name: str) -> str:
        path = self.logs.get(name)
        return path.read_text(errors='replace') if path and path.exists() else ''

    def log_sizes(self) -> Dict[str, int]:
        return {n: len(self.log_text(n)) for n in self.logs}

    def new_log(self, since: Dict[str, int]) -> Dict[str, str]:
        return {n: self.log_text(n)[since.get(n, 0) :] for n in self.logs}

    # --- diagnostics ------------------------------------------------------------------------
    def _on_diagnostics(self, msg) -> None:
        now = time.monotonic()
        with self._diag_lock:
            for st in msg.status:
                self.latest[st.name] = (now, st)
                self.history.append((now, st.name, level_of(st), st.message))

    def status(self, node: str, task: str):
        """The latest status of ``node`` whose name ends with ``task`` (None if none)."""
        with self._diag_lock:
            for name, (_, st) in self.latest.items():
                if name.startswith(f'{node}: ') and name.endswith(task):
                    return st
        return None

    def value(self, node: str, task: str, key: str) -> float:
        st = self.status(node, task)
        values = {kv.key: kv.value for kv in st.values} if st is not None else {}
        return float(values.get(key, 0.0))

    def levels_since(self, t: float, node: str, task: str) -> List[Tuple[int, str]]:
        with self._diag_lock:
            return [
                (lv, text)
                for when, name, lv, text in self.history
                if when >= t and name.startswith(f'{node}: ') and name.endswith(task)
            ]

    def problems(self) -> List[str]:
        """Why the graph is not healthy now (empty: healthy)."""
        now = time.monotonic()
        out = [f'{n} exited with {rc}' for n, rc in self.dead().items()]
        if self.source.error is not None:
            out.append(f'the sensor source failed: {self.source.error!r}')
        if not self.labels or now - self.labels[-1][0] > 1.5:
            out.append('no label in the last 1.5 s')
        with self._diag_lock:
            for node in sorted(self.watched):
                mine = [
                    (when, st)
                    for name, (when, st) in self.latest.items()
                    if name.startswith(f'{node}: ')
                ]
                if not mine or now - max(w for w, _ in mine) > 1.5:
                    out.append(f'{node}: no recent /diagnostics')
                out += [
                    f'{st.name}: level {level_of(st)} ({st.message})'
                    for _, st in mine
                    if level_of(st) != 0
                ]
        return out

    def wait_healthy(self, timeout: float, what: str = 'a healthy graph') -> None:
        deadline = time.monotonic() + timeout
        while self.problems():
            if time.monotonic() > deadline:
                raise AssertionError(f'not {what} after {timeout:.0f}s: {self.problems()}')
            time.sleep(0.05)

    def label_after(self, t: float) -> bool:
        return bool(self.labels) and self.labels[-1][0] > t

    # --- parameters ---------------------------------------------------------------------------
    def set_fusion_parameter(self, name: str, value) -> Tuple[bool, str]:
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        client = self.node.create_client(SetParameters, f'{self.ns}/fusion_node/set_parameters')
        try:
            assert client.wait_for_service(timeout_sec=10), 'fusion_node/set_parameters'
            future = client.call_async(
                SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
            )
            wait_until(future.done, timeout=10, what=f'set {name}')
            result = future.result().results[0]
            return result.successful, result.reason
        finally:
            self.ros.on_executor(lambda: self.node.destroy_client(client))


# --- the faults ---------------------------------------------------------------------------------
Cause = Tuple[str, str, str]  # (node, status name suffix, value key) that must grow


@dataclass
class Fault:
    """One row: ``inject`` does the fault (for its duration) and leaves the source healthy;
    ``causes`` must grow in /diagnostics (and one of ``any_cause``, where the cause depends on
    the transport); labels must come again within ``resume_s`` after it; ``check`` asserts
    what else the row is about."""

    name: str
    inject: Callable[[Matrix], object]
    causes: Sequence[Cause] = ()
    resume_s: float = 5.0
    check: Optional[Callable[[Matrix, object], None]] = None
    recover_s: float = 15.0
    graph: bool = True
    any_cause: Sequence[Cause] = ()  # at least one of these must grow


def enc(sensor: str, key: str) -> Cause:
    return (f'{sensor}_encoder', 'topic status', key)


def fus(task: str, key: str) -> Cause:
    return ('fusion_node', task, key)


def replace_for(seconds: float, sensor: str, make: Callable) -> Callable[[Matrix], None]:
    """Each ``sensor`` message of the next ``seconds`` replaced by ``make(msg, stamp)``."""
    return lambda m: m.source.hold(seconds, 'hooks', {sensor: make})


def extra(
    sensor: str, make: Callable[[float], Sequence], count: int = 2
) -> Callable[[Matrix], None]:
    """``count`` bad messages slipped into a healthy stream, each right after one of its own."""

    def inject(m: Matrix) -> None:
        for _ in range(count):
            assert m.source.slip_in(sensor, make), f'no {sensor} message to follow'

    return inject


def pause(seconds: float, *sensors: str) -> Callable[[Matrix], None]:
    return lambda m: m.source.hold(seconds, 'enabled', dict.fromkeys(sensors, False))


def shift(seconds: float, offset: float, *sensors: str) -> Callable[[Matrix], None]:
    return lambda m: m.source.hold(seconds, 'offset', {s: offset for s in sensors or SENSORS})


def stalled(seconds: float) -> Callable[[Matrix], float]:
    """Every sensor silent for ``seconds``; the context is when the stall began."""

    def inject(m: Matrix) -> float:
        start = time.monotonic()
        pause(seconds, *SENSORS)(m)
        return start

    return inject


def camera_stops_and_resumes(m: Matrix) -> Dict[str, int]:
    logs = m.log_sizes()
    pause(2.5, 'camera')(m)
    return logs


def wrong_length_feature(m: Matrix) -> None:
    from hybrid_fusion_msgs.msg import FeatureVector

    pub = m.node.create_publisher(FeatureVector, f'{m.ns}/features/imu', RESULT_QOS)
    try:
        wait_until(lambda: pub.get_subscription_count() > 0, what='fusion input')
        end = np.floor(time.time() * 2) / 2
        pub.publish(
            conv.feature_to_msg(
                np.zeros(32), 'imu', 'other_model', end - 1, end, end - 0.01, 10, 1.0
            )
        )
        time.sleep(0.5)  # let it arrive before the publisher goes
    finally:
        m.ros.on_executor(lambda: m.node.destroy_publisher(pub))


def second_feature_publisher(m: Matrix) -> None:
    """A second node publishing on features/imu: every IMU feature arrives twice."""
    from hybrid_fusion_msgs.msg import FeatureVector

    pub = m.node.create_publisher(FeatureVector, f'{m.ns}/features/imu', RESULT_QOS)
    sub = m.node.create_subscription(
        FeatureVector,
        f'{m.ns}/features/imu',
        lambda f: pub.publish(f) if f.encoder != 'copy' else None,
        RESULT_QOS,
    )
    try:
        time.sleep(2.5)  # the fault's duration
    finally:
        m.ros.on_executor(
            lambda: (m.node.destroy_subscription(sub), m.node.destroy_publisher(pub))
        )


def refused_parameters(values: Sequence[Tuple[str, object, str]]) -> Callable[[Matrix], object]:
    def inject(m: Matrix) -> List[Tuple[str, bool, str, str]]:
        return [
            (name, *m.set_fusion_parameter(name, value), reason) for name, value, reason in values
        ]

    return inject


def check_refused(m: Matrix, results) -> None:
    for name, ok, reason, expected in results:
        assert not ok and expected in reason, (name, ok, reason)


# Counted after a message was taken in (so already in 'Events since startup'), or per window.
AFTER_ARRIVAL = {
    'out_of_order',
    'incomplete_window',
    'buffer_overflow',
    'format_change',
    'encode_error',
}


def imu_accounting(m: Matrix) -> int:
    """IMU messages the encoder took in, refused or counted lost, as its /diagnostics say."""
    st = m.status('imu_encoder', 'topic status')
    values = {kv.key: kv.value for kv in st.values}
    lost_or_refused = sum(
        float(v)
        for k, v in values.items()
        if k.startswith('Dropped (') and k[9:-1] not in AFTER_ARRIVAL
    )
    return int(float(values['Events since startup']) + lost_or_refused)


def settled_accounting(m: Matrix) -> Tuple[int, int]:
    """(messages sent, messages accounted for) once the IMU stream has been paused longer than
    a window (so the encoder sees an interruption, not samples lost) and the counts agree for
    two diagnostics periods in a row."""
    paused = time.monotonic()
    seen: List[int] = []

    def stable() -> bool:
        time.sleep(0.3)
        seen.append(imu_accounting(m))
        return time.monotonic() - paused > 1.2 and len(seen) >= 2 and seen[-1] == seen[-2]

    wait_until(stable, timeout=10, what='the IMU encoder to settle')
    return m.source.sent['imu'], seen[-1]


def burst(
    factor: float, seconds: float, sensors: Sequence[str] = ('imu',)
) -> Callable[[Matrix], object]:
    """The IMU at ``factor`` times its rate for ``seconds``, between two pauses that let the
    accounting settle: (sent, accounted) before and after."""

    def inject(m: Matrix):
        m.source.set('enabled', {'imu': False})
        before = settled_accounting(m)
        m.source.set('enabled', {'imu': True})
        m.source.hold(seconds, 'factor', {s: factor for s in sensors})
        m.source.set('enabled', {'imu': False})
        after = settled_accounting(m)
        m.source.set('enabled', {'imu': True})
        return before, after

    return inject


def check_every_message_accounted(tolerance: float) -> Callable[[Matrix, object], None]:
    def check(m: Matrix, context) -> None:
        (sent0, acc0), (sent1, acc1) = context
        sent, accounted = sent1 - sent0, acc1 - acc0
        st = m.status('imu_encoder', 'topic status')
        assert abs(sent - accounted) <= max(
            2, tolerance * sent
        ), f'{sent} IMU messages sent, {accounted} windowed or counted by cause: ' + ', '.join(
            f'{kv.key} {kv.value}' for kv in st.values
        )

    return check


def encoder_ends(name: str, sig: int, says: str) -> Callable[[Matrix], None]:
    """The encoder's process ends by ``sig``; the fusion node must report its input with
    ``says`` in the status text (WARN or worse), and the encoder is started again."""

    def inject(m: Matrix) -> None:
        gone = time.monotonic()
        try:
            m.stop_node(name, sig)
            task = f'features/{name[:-len("_encoder")]} topic status'
            wait_until(
                lambda: any(
                    lv >= 1 and says in text
                    for lv, text in m.levels_since(gone, 'fusion_node', task)
                ),
                timeout=10,
                what=f"the fusion node saying '{says}' of {name}",
            )
        finally:
            m.start_node(name)

    return inject


def restart_fusion(m: Matrix) -> float:
    labels_before = m.value('fusion_node', ': fusion', 'Labels')
    assert m.stop_node('fusion_node') == 0  # SIGINT: a clean exit
    m.start_node('fusion_node')
    return labels_before


def check_fresh_fusion(m: Matrix, labels_before: float) -> None:
    wait_until(
        lambda: 0 < m.value('fusion_node', ': fusion', 'Labels') < labels_before,
        timeout=10,
        what='the restarted fusion node counting labels from zero',
    )


def stream_stop_logged_once(m: Matrix, since: Dict[str, int]) -> None:
    text = m.new_log(since)['camera_encoder']
    assert text.count('no input on') == 1 and text.count('resumed after') == 1, text[-2000:]


def labels_without_audio(m: Matrix) -> float:
    start = time.monotonic()
    m.source.set('enabled', {'audio': False})
    try:
        wait_until(
            lambda: any(t > start and 'audio' not in list(x.modalities_used) for t, x in m.labels),
            timeout=8,
            what='labels going on with the audio masked',
        )
        masked = time.monotonic()
        wait_until(
            lambda: m.status('fusion_node', 'features/audio topic status') is not None
            and level_of(m.status('fusion_node', 'features/audio topic status')) >= 1,
            timeout=8,
            what='the silent audio input reported',
        )
    finally:
        m.source.set('enabled', {'audio': True})
    return masked - start


def fusion_warned(m: Matrix, t0: float) -> None:
    levels = m.levels_since(t0, 'fusion_node', ': fusion')
    assert any(lv >= 1 and 'label' in text for lv, text in levels), levels[-5:]


def compressed(make: Callable[[float], Sequence]) -> Callable[[Matrix], None]:
    """A fault on the compressed camera: its encoder is fed JPEGs, shown healthy, given the
    bad message, shown healthy again, and its stream stopped."""

    def inject(m: Matrix) -> None:
        m.source.set('enabled', {'camera_compressed': True})
        m.watched.add(COMPRESSED.name)
        try:
            m.wait_healthy(15, 'the compressed camera encoder healthy')
            extra('camera_compressed', make, count=1)(m)
            t = time.monotonic()
            wait_until(
                lambda: any(x > t for x in m.compressed_features),
                timeout=5,
                what='compressed camera features after the fault',
            )
            m.wait_healthy(10, 'the compressed camera encoder healthy again')
        finally:
            m.watched.discard(COMPRESSED.name)
            m.source.set('enabled', {'camera_compressed': False})

    return inject


def corrupt_jpeg(t: float):
    msg = conv.rgb_to_compressed(np.zeros((96, 128, 3), np.uint8), conv.sec_to_stamp(t + 0.01))
    msg.data = b'\x00' * 20 + bytes(msg.data)[20:]  # no JPEG header
    return [msg]


@functools.lru_cache(maxsize=1)
def _jpeg_of_noise() -> bytes:
    """A valid JPEG of about 10 MB: a 2400x2400 frame of noise."""
    frame = np.random.default_rng(0).integers(0, 256, (2400, 2400, 3), np.uint8)
    data = bytes(conv.rgb_to_compressed(frame, conv.sec_to_stamp(0.0), quality=100).data)
    assert len(data) > 9_000_000, len(data)
    return data


def jpeg_10mb(t: float):
    msg = conv.rgb_to_compressed(np.zeros((8, 8, 3), np.uint8), conv.sec_to_stamp(t + 0.01))
    msg.data = _jpeg_of_noise()
    return [msg]


def corrupt_checkpoint(m: Matrix) -> subprocess.CompletedProcess:
    from hybrid_fusion_ros.core.checkpoint import default_checkpoint_path

    bad = m.folder / 'corrupt.pt'
    data = default_checkpoint_path().read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # a copy cut short
    spec = m.specs['imu_encoder']
    cmd = node_command(spec, m.config, {'checkpoint': str(bad)}, m.folder) + [
        '-r',
        f'__ns:={m.ns}',
        '-r',
        '__node:=imu_encoder_bad',
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def check_one_line_startup_error(m: Matrix, proc: subprocess.CompletedProcess) -> None:
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 1 and 'Traceback' not in out, out
    assert len(out.splitlines()) == 1 and 'cannot start' in out and 'corrupt.pt' in out, out


def bag_replayed_twice(m: Matrix) -> None:
    """A short recording replayed twice, as recorded (no restamp): time jumps back to the
    recording's start twice, and forward to now when the live stream comes back."""
    from hybrid_fusion_tools.data.demo_data import generate_bag
    from hybrid_fusion_tools.data.demo_data import TOPICS
    from hybrid_fusion_tools.bags.replay import BagReplayer

    bag = m.folder / 'short_bag'
    if not bag.exists():
        generate_bag(bag, seconds=2.5, seed=4)
    topic_map = {TOPICS[s]: f'{m.ns}{TOPICS[s]}' for s in SENSORS}
    m.source.set('enabled', dict.fromkeys(SENSORS, False))
    try:
        for _ in range(2):
            replayer = BagReplayer(m.node, bag, topic_map=topic_map, topics=set(topic_map))
            try:
                replayer.run()
            finally:
                replayer.close()
    finally:
        m.source.set('enabled', dict.fromkeys(SENSORS, True))


def eval_into_read_only_dir(m: Matrix) -> Tuple[subprocess.CompletedProcess, Path]:
    from hybrid_fusion_tools.data.demo_data import generate_bag

    bag = m.folder / 'eval_bag'
    if not bag.exists():
        generate_bag(bag, seconds=2.0, seed=6)
    ro = m.folder / 'read_only'
    ro.mkdir(exist_ok=True)
    ro.chmod(0o555)
    out = ro / 'report'
    cmd = [sys.executable, '-m', 'hybrid_fusion_ros.cli', 'eval', str(bag), '--out', str(out)]
    if os.geteuid() == 0:  # root writes through a mode of 555: a read-only mount instead
        probe = subprocess.run(['unshare', '-m', 'true'], capture_output=True)
        if probe.returncode != 0:
            pytest.skip('running as root without the right to make a read-only mount')
        mount = 'mount -t tmpfs -o ro,size=64k tmpfs "$0" && exec "$@"'
        cmd = ['unshare', '-m', 'sh', '-c', mount, str(ro), *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120), ro


def check_clear_error_nothing_written(m: Matrix, context) -> None:
    proc, ro = context
    err = proc.stderr.strip()
    assert proc.returncode == 2 and 'Traceback' not in proc.stdout + err, proc.stdout + err
    assert len(err.splitlines()) == 1 and err.startswith('error: cannot write the report to'), err
    assert 'Read-only file system' in err or 'Permission denied' in err, err
    assert list(ro.iterdir()) == []


def few_lost(m: Matrix, before: Dict[str, float]) -> None:
    for s in SENSORS:
        lost = m.value(f'{s}_encoder', 'topic status', 'Dropped (lost_in_transport_est)')
        assert lost - before[s] < 50, f'{s}: {lost - before[s]} samples "lost" over a clock jump'


def lost_counts(m: Matrix) -> Dict[str, float]:
    return {
        s: m.value(f'{s}_encoder', 'topic status', 'Dropped (lost_in_transport_est)')
        for s in SENSORS
    }


def jump_forward_an_hour(m: Matrix) -> Dict[str, float]:
    before = lost_counts(m)
    m.source.hold(2.0, 'offset', dict.fromkeys(SENSORS, 3600.0))
    return before


ROWS: List[Fault] = [
    # --- the faults that once killed a node or went unreported -------------------------------
    Fault(
        'audio_bytes_not_whole_samples',
        extra('audio', bad_audio_bytes),
        [enc('audio', 'Dropped (malformed_audio)')],
    ),
    Fault(
        'sensor_stamped_zero', replace_for(0.5, 'imu', stamped_zero), [enc('imu', 'Clock jumps')]
    ),
    Fault(
        'imu_time_since_boot_then_epoch',
        shift(1.5, 120.0 - time.time(), 'imu'),
        [enc('imu', 'Clock jumps')],
    ),
    Fault(
        'fusion_parameters_nan_or_inf',
        refused_parameters(
            [
                ('slop', float('nan'), 'slop must be a finite number > 0'),
                ('fusion_rate_hz', float('inf'), 'fusion_rate_hz must be a finite number > 0'),
                ('max_age', float('nan'), 'max_age must be a finite number > 0'),
                ('reset_after', float('inf'), 'reset_after must be a finite number >= 0'),
            ]
        ),
        check=check_refused,
    ),
    Fault(
        'camera_resolution_change',
        replace_for(2.0, 'camera', resized(320, 240)),
        [enc('camera', 'Format changes')],
    ),
    Fault(
        'feature_of_the_wrong_length',
        wrong_length_feature,
        [fus('features/imu topic status', 'Dropped (invalid)')],
    ),
    Fault(
        'audio_48khz_stereo',
        replace_for(2.0, 'audio', stereo_48k),
        [enc('audio', 'Resampled chunks (sample rate)'), enc('audio', 'Format changes')],
    ),
    Fault(
        'audio_at_an_absurd_sample_rate',
        extra('audio', audio_at_an_absurd_rate),
        [enc('audio', 'Dropped (empty_audio)')],
    ),
    Fault('microphone_stops_for_good', labels_without_audio, resume_s=2.0),
    Fault(
        'clock_jump_forward_one_hour',
        jump_forward_an_hour,
        [enc(s, 'Clock jumps') for s in SENSORS],
        check=few_lost,
    ),
    Fault(
        'inputs_stall_labels_stop',
        stalled(3.5),
        [enc(s, 'Interruptions') for s in SENSORS],
        check=fusion_warned,
    ),
    Fault(
        'encoder_stopped_and_restarted',
        encoder_ends('imu_encoder', signal.SIGINT, 'encoder gone'),
        resume_s=10.0,
        recover_s=40.0,
    ),
    # Killed: DDS learns that its publisher is gone only when the participant's lease runs
    # out (20 s); the input is masked as silent long before that. (After the clean stop: a
    # killed publisher counts as present until then.)
    Fault(
        'encoder_killed_and_restarted',
        encoder_ends('imu_encoder', signal.SIGKILL, 'masked'),
        resume_s=10.0,
        recover_s=40.0,
    ),
    Fault('imu_burst_10x_for_2s', burst(10.0, 2.0), check=check_every_message_accounted(0.0)),
    # --- the faults that held before: they must go on holding --------------------------------
    Fault(
        'input_stops_and_resumes',
        camera_stops_and_resumes,
        [enc('camera', 'Interruptions')],
        check=stream_stop_logged_once,
    ),
    Fault('imu_nan', extra('imu', nan_imu), [enc('imu', 'Dropped (non_finite_imu)')]),
    Fault(
        'image_unsupported_encoding',
        extra('camera', unsupported_image),
        [enc('camera', 'Dropped (unsupported_encoding)')],
    ),
    Fault(
        'image_truncated',
        extra('camera', truncated_image),
        [enc('camera', 'Dropped (malformed_image)')],
    ),
    Fault(
        'image_zero_size',
        extra('camera', zero_size_image),
        [enc('camera', 'Dropped (malformed_image)')],
    ),
    # A frame bigger than Fast DDS's shared-memory segment goes out in UDP fragments, and a
    # best-effort reader loses it whole when one is lost: counted as lost in transport then.
    Fault(
        'image_oversized',
        replace_for(0.5, 'camera', resized(1920, 1080)),
        any_cause=[enc('camera', 'Format changes'), enc('camera', 'Dropped (lost_in_transport)')],
    ),
    Fault(
        'jpeg_corrupt',
        compressed(corrupt_jpeg),
        [('camera_compressed_encoder', 'topic status', 'Dropped (undecodable_image)')],
    ),
    Fault(
        'compressed_image_10mb',
        compressed(jpeg_10mb),
        any_cause=[
            (COMPRESSED.name, 'topic status', 'Format changes'),
            (COMPRESSED.name, 'topic status', 'Dropped (lost_in_transport)'),
        ],
    ),
    Fault('stamps_out_of_order', extra('imu', late_imu), [enc('imu', 'Dropped (out_of_order)')]),
    Fault(
        'stamps_duplicated',
        replace_for(0.3, 'imu', lambda msg, t: [msg, msg]),
        [enc('imu', 'Dropped (out_of_order)')],
    ),
    Fault('clock_jump_back', shift(1.5, -10.0), [enc(s, 'Clock jumps') for s in SENSORS]),
    Fault('corrupt_checkpoint_at_startup', corrupt_checkpoint, check=check_one_line_startup_error),
    Fault(
        'invalid_parameter_values',
        refused_parameters(
            [
                ('fusion_mode', 'sideways', 'fusion_mode must be one of'),
                ('fusion_rate_hz', 0.0, 'fusion_rate_hz must be a finite number > 0'),
                ('slop', -0.1, 'slop must be a finite number > 0'),
            ]
        ),
        check=check_refused,
    ),
    Fault(
        'all_sensors_5x_rate', burst(5.0, 2.0, SENSORS), check=check_every_message_accounted(0.0)
    ),
    # --- and these -------------------------------------------------------------------------
    Fault('imu_flood_100x', burst(100.0, 1.0), check=check_every_message_accounted(0.0)),
    Fault(
        'feature_topic_with_two_publishers',
        second_feature_publisher,
        [fus('features/imu topic status', 'Dropped (out_of_order)')],
    ),
    Fault(
        'fusion_node_restarted',
        restart_fusion,
        resume_s=60.0,
        recover_s=30.0,
        check=check_fresh_fusion,
    ),
    Fault(
        'bag_replayed_twice',
        bag_replayed_twice,
        [enc(s, 'Clock jumps') for s in SENSORS] + [fus(': fusion', 'State resets')],
    ),
    Fault(
        'eval_into_read_only_dir',
        eval_into_read_only_dir,
        check=check_clear_error_nothing_written,
        graph=False,
    ),
]


@pytest.fixture(scope='module')
def matrix(tmp_path_factory):
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context)
    ros = RosHarness(context)
    folder = tmp_path_factory.mktemp('fault_matrix')  # the nodes' logs stay there
    m = Matrix(ros, folder)
    try:
        for spec in (*CLASSIFIER_GRAPH, COMPRESSED):
            m.start_node(spec.name)
        pubs = [m.source.publishers[s] for s in (*SENSORS, 'camera_compressed')]
        wait_until(
            lambda: all(p.get_subscription_count() > 0 for p in pubs) and not m.dead(),
            timeout=120,
            what='the node graph to start',
        )
        m.source.start()
        m.wait_healthy(60, 'a healthy graph at start')
        yield m
    finally:
        m.source.stop()
        for name in list(m.procs):
            m.stop_node(name)
        ros.close()
        context.try_shutdown()


@pytest.mark.parametrize('row', ROWS, ids=[r.name for r in ROWS])
def test_fault(matrix: Matrix, row: Fault) -> None:
    m = matrix
    if row.graph:
        m.wait_healthy(20, f'a healthy graph before {row.name}')
    logs = m.log_sizes()
    before = {c: m.value(*c) for c in (*row.causes, *row.any_cause)}
    context = row.inject(m)
    end = time.monotonic()
    if row.graph:
        wait_until(
            lambda: m.label_after(end),
            timeout=row.resume_s,
            what=f'labels within {row.resume_s:.0f}s after {row.name}',
        )
    for c in row.causes:
        try:
            wait_until(lambda: m.value(*c) > before[c], timeout=5, what=f'{c} to count {row.name}')
        except AssertionError:
            st = m.status(*c[:2])
            raise AssertionError(
                f'{c} did not count {row.name}: '
                + ', '.join(f'{kv.key} {kv.value}' for kv in (st.values if st else []))
            ) from None
    if row.any_cause:
        wait_until(
            lambda: any(m.value(*c) > before[c] for c in row.any_cause),
            timeout=5,
            what=f'one of {list(row.any_cause)} to count {row.name}',
        )
    if row.check is not None:
        row.check(m, context)
    if row.graph:
        m.wait_healthy(row.recover_s, f'every status OK after {row.name}')
    assert not m.dead(), m.dead()
    for name, text in m.new_log(logs).items():
        assert (
            'Traceback' not in text
        ), f'{name} logged a traceback during {row.name}:\n{text[-3000:]}'


def test_soak_counts_only_windows_clear_of_faults_as_due():
    """``bench soak``'s count of windows left unlabelled: a fault and its recovery excuse the
    windows that overlap them (widened by a second), no others."""
    labels = [k * 0.5 for k in range(20, 41) if k not in (24, 33)]  # 12.0 and 16.5 missing
    assert unlabelled_windows(labels, 10.0, 20.0, []) == (21, 2)
    # Windows ending in (14.8, 18.2) overlap the fault widened by 1 s: 15.0 to 18.0.
    assert unlabelled_windows(labels, 10.0, 20.0, [(15.8, 16.2)]) == (14, 1)
