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

"""Drives the real node graph with a bag and collects one outcome per window.

Two ways to replay:

- **fast** (default): every node runs with ``use_sim_time``; the replayer publishes as fast as
  the graph keeps up, in *lockstep per window*: before it publishes past window end ``T`` (plus
  ``lag`` of log time, for sensors whose stamps trail their log time) it waits until each
  encoder whose sensor had data in the window has published the window's feature, then
  publishes ``/clock = T + lag``; in late and async modes it also waits for the label the
  fusion timer then publishes. After the last window (early mode) it waits for the features of
  the windows it ran ahead of and for the last label. Nothing is dropped for lack of CPU, so the
  result does not depend on the machine: the same bag gives the same labels in every bag format.
- **realtime**: the recorded pacing times ``rate``; at rate 1 the stamps are shifted to now
  (as live sensors would stamp them), otherwise ``/clock`` is published and the nodes use
  sim time. Drops under load are real here.

Latency, in both, is wall time from publishing a window's last sensor message to receiving
the window's first label (in fast mode, while the rest of the replay keeps the CPUs busy).

Several bags in fast mode replay one after another through one graph (:class:`GraphLink`,
:func:`replay_shifts`): each starts with the clock, the encoders and the fusion node as fresh
as for that bag alone, so its windows are those of a replay of it alone.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from dataclasses import field
import math
import os
from pathlib import Path
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from hybrid_fusion_msgs.msg import ActivityEvent
from hybrid_fusion_msgs.msg import ActivityLabel
from hybrid_fusion_msgs.msg import FeatureVector
import numpy as np
from rclpy.qos import QoSProfile
from rosgraph_msgs.msg import Clock
from std_srvs.srv import Trigger

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.windows import window_ends_between
from hybrid_fusion_ros.ros.qos import DRIVER_QOS
from hybrid_fusion_ros.ros.qos import RESULT_QOS
from hybrid_fusion_ros.ros.qos import sensor_qos
from .report import window_key
from .report import window_outcomes
from .report import WindowOutcome
from ..bags.bag import bag_format
from ..bags.bag import data_note
from ..bags.bag import message_class
from ..bags.bag import open_reader
from ..bags.bag import read_messages
from ..bags.replay import clock_message
from ..bags.replay import header_stamp
from ..bags.replay import live_shift_ns
from ..bags.replay import shift_stamp
from ..common.machine import machine_line
from ..data.plan import InputPlan
from ..data.plan import plan_bag
from ..data.truth import GroundTruth

FAST_QUEUE_DEPTH = 2000  # encoder input queues in fast mode: a window's burst never overflows them
EPS = 1e-6
EVALUATOR_DROPS = 'evaluator (lockstep waits that timed out)'
ENCODER_JUMP = 1.0  # s: a stamp this far behind an encoder's newest restarts its windows
BAG_SLACK = 3.0  # s: header stamps may trail log times, a sensor may start late or stop early


@dataclass
class EvalOptions:
    realtime: bool = False
    rate: float = 1.0
    lag: float = 0.25  # s of log time past a window end before waiting for it
    ahead: int = 4  # early mode: windows the replay may run ahead of the features
    window_timeout: float = 3.0  # s of wall time to wait for a window's features / label
    label_topic: str = '/activity'
    feature_prefix: str = '/features'
    event_topic: str = '/activity_events'


@dataclass
class EvalSetup:
    """Everything decided before a node starts: inputs, ground truth, node parameters."""

    bag: Path
    plan: InputPlan
    checkpoint: Checkpoint
    truth: Optional[GroundTruth]
    truth_source: Optional[str]
    node_overrides: Dict[str, Dict[str, str]]
    notes: List[str] = field(default_factory=list)
    total_messages: int = 0
    seconds: float = 0.0
    data_note: Optional[str] = None
    format: str = ''
    start: float = 0.0  # first and last log time of the bag (s)
    end: float = 0.0


def use_replay_dds_profile() -> Optional[str]:
    """Fast replay loads a Fast DDS profile (a 20 ms reliable-writer heartbeat, faster
    discovery) in this process and the nodes it starts, unless the user set a Fast DDS profile
    file already. Must run before ``rclpy.init``. Returns the file in effect.

    Fast DDS 3.x reads config/fastdds_replay.xml through ``FASTDDS_DEFAULT_PROFILES_FILE``;
    2.x reads its camelCase twin config/fastdds2_replay.xml through
    ``FASTRTPS_DEFAULT_PROFILES_FILE``. The major version: ``ROS_DISTRO`` (set by every ROS
    setup script) decides when set: humble, iron and jazzy ship Fast DDS 2.x, kilted and later
    3.x. Else the ``ros-rmw-fastrtps-cpp`` wheel (PyPI ROS) does: rmw_fastrtps 9 (Kilted) and
    later link Fast DDS 3, 8 (Jazzy) and earlier Fast DDS 2. If neither says: 3.x."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    from hybrid_fusion_ros.ros.graph import default_config_path

    for var in ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE'):
        if os.environ.get(var):
            return os.environ[var]
    distro = os.environ.get('ROS_DISTRO', '').strip().lower()
    if distro:
        fast_dds_2 = distro in ('humble', 'iron', 'jazzy')
    else:
        try:
            fast_dds_2 = int(version('ros-rmw-fastrtps-cpp').split('.')[0]) < 9
        except (PackageNotFoundError, ValueError):
            fast_dds_2 = False
    if fast_dds_2:
        name, var = 'fastdds2_replay.xml', 'FASTRTPS_DEFAULT_PROFILES_FILE'
    else:
        name, var = 'fastdds_replay.xml', 'FASTDDS_DEFAULT_PROFILES_FILE'
    # The installed share directory first, then the source tree (an install older than the file).
    source_config = Path(__file__).resolve().parents[2] / 'config'
    for folder in (default_config_path().parent, source_config):
        if (folder / name).is_file():
            os.environ[var] = str(folder / name)
            return os.environ[var]
    return None


def prepare(
    bag: Path | str,
    checkpoint_path: Optional[str],
    user_map: Optional[Dict[str, str]] = None,
    truth_file: Optional[Path] = None,
    realtime: bool = False,
) -> EvalSetup:
    """Reads the bag's index and ground truth (``plan_bag``, the same rules as training from
    recordings); raises BagError / GroundTruthError with a message that says what to fix."""
    ckpt = Checkpoint.load(checkpoint_path or None)
    read = plan_bag(bag, ckpt.inputs, user_map, truth_file)
    bag, topics, plan = read.bag, read.topics, read.plan
    overrides: Dict[str, Dict[str, str]] = {spec.node_name: {} for spec in ckpt.inputs}
    notes = []
    for spec in ckpt.inputs:
        src, msgtype, dst = plan.inputs[spec.name]
        node = overrides[spec.node_name]
        node['input_topic'] = dst.lstrip('/')
        if spec.sensor_type == 'camera':
            node['image_transport'] = (
                'compressed' if msgtype.endswith('CompressedImage') else 'raw'
            )
        if not realtime:
            node['input_queue_depth'] = str(FAST_QUEUE_DEPTH)
            node['input_reliability'] = 'reliable'
        if spec.sensor_type != 'audio':
            # A sensor far from the rate the model expects (a 50 Hz IMU, a 10 fps camera)
            # would have its windows judged too sparse: tell the encoder the bag's rate.
            count = topics[src][1]
            rate = count / read.seconds
            expected = spec.rate_hz or ckpt.build_encoder(spec.name)[0].input_spec.expected_rate_hz
            if count > 1 and abs(rate - expected) > 0.2 * expected:
                node['sensor_rate_hz'] = f'{rate:.3f}'
                notes.append(
                    f'{spec.name}: {src} runs at {rate:.1f} Hz, the model expects {expected:g} Hz:'
                    f' {spec.node_name} sensor_rate_hz:={rate:.3f}'
                )
    return EvalSetup(
        bag,
        plan,
        ckpt,
        read.truth,
        read.truth_source,
        overrides,
        notes,
        sum(topics[src][1] for src, _, _ in plan.inputs.values()),
        read.seconds,
        data_note(bag),
        bag_format(bag),
        read.start,
        read.end,
    )


def replay_shifts(setups: Sequence[EvalSetup], jump_threshold: float = 1.0) -> List[int]:
    """Per bag, the shift (ns) of its stamps, log times and clock when the bags replay one
    after another through one graph in fast mode (0 where none is needed).

    Every node starts afresh on a jump of its stamps *backwards*: the encoders restart their
    buffer and window grid, the fusion node its synchronizer, inputs and LSTM state. A jump
    forwards, as from one recording to a later one, leaves an encoder's grid running: the
    windows that end in the next bag's first ``length`` seconds would be cut from its first
    samples alone, half-full windows that a fresh encoder never emits, and they would move the
    LSTM state before the bag's first real window. So a bag that does not start well before
    the previous one ended is moved back in time, by whole seconds that are whole hops as well:
    its windows then fall on the same grid points, and its stamps keep the same fractional
    parts, as when it is replayed alone. ``jump_threshold`` is the fusion node's."""
    shifts: List[int] = []
    previous_end: Optional[float] = None
    for setup in setups:
        window = setup.checkpoint.window
        shift = 0
        if previous_end is not None:
            # The first features of this bag are stamped about length + hop after its start,
            # the last ones of the previous bag about a hop before its end.
            need = window.length + 2 * window.hop + max(jump_threshold, ENCODER_JUMP) + BAG_SLACK
            late = setup.start + need - previous_end
            if late > 0:
                unit = math.lcm(int(round(window.hop * 1e9)), 1_000_000_000)
                shift = -math.ceil(late * 1e9 / unit) * unit
        shifts.append(shift)
        previous_end = setup.end + shift * 1e-9
    return shifts


class _Collector:
    """The evaluator's subscriptions: labels, features per modality, both with wall times,
    and the graph's activity events."""

    def __init__(self, node, options: EvalOptions, modalities) -> None:
        self.cond = threading.Condition()
        # window key -> (label, confidence, wall time, probabilities or None), the first label
        self.labels: Dict[int, tuple] = {}
        self.newest_label = -math.inf
        self.newest_feature = {m: -math.inf for m in modalities}
        self.label_count = 0
        self.shift = 0.0
        # (label, start ns) -> the event as last heard of (started, ongoing, ended)
        self.events: Dict[tuple, Dict[str, Any]] = {}
        # Deep reader queues: while the main thread bursts sensor data this node's executor
        # may fall behind, and a keep-last-10 reader would overwrite labels it has not taken.
        qos = QoSProfile(
            depth=1000, reliability=RESULT_QOS.reliability, durability=RESULT_QOS.durability
        )
        node.create_subscription(ActivityLabel, options.label_topic, self._on_label, qos)
        node.create_subscription(ActivityEvent, options.event_topic, self._on_event, qos)
        for m in modalities:
            node.create_subscription(
                FeatureVector,
                f'{options.feature_prefix}/{m}',
                lambda msg, m=m: self._on_feature(m, msg),
                qos,
            )

    def start_bag(self, shift: float) -> None:
        """Forget the previous bag: its stamps may come again in the next one."""
        with self.cond:
            self.labels = {}
            self.events = {}
            self.newest_label = -math.inf
            self.newest_feature = {m: -math.inf for m in self.newest_feature}
            self.label_count = 0
            self.shift = shift

    def _on_label(self, msg: ActivityLabel) -> None:
        wall = time.perf_counter()
        t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9 - self.shift
        # Kept for the segment vote, which sums probabilities; empty when the node sent none.
        probabilities = tuple(float(p) for p in msg.probabilities) or None
        with self.cond:
            self.labels.setdefault(
                window_key(t), (msg.label, float(msg.confidence), wall, probabilities)
            )
            self.label_count += 1
            self.newest_label = max(self.newest_label, t)
            self.cond.notify_all()

    def _on_event(self, msg: ActivityEvent) -> None:
        sec = lambda t: t.sec + t.nanosec * 1e-9 - self.shift  # noqa: E731 - local shorthand
        key = (msg.label, msg.start.sec, msg.start.nanosec)
        with self.cond:
            event = self.events.setdefault(
                key,
                {'label': msg.label, 'start': sec(msg.start), 'decided': sec(msg.header.stamp)},
            )
            event.update(end=sec(msg.end), state=msg.state, confidence=float(msg.confidence))

    def event_records(self) -> List[Dict[str, Any]]:
        """One record per event, in start order: label, start, end, decided (the sensor time
        it was started at), its last state and confidence."""
        with self.cond:
            return sorted((dict(e) for e in self.events.values()), key=lambda e: e['start'])

    def _on_feature(self, modality: str, msg: FeatureVector) -> None:
        with self.cond:
            self.newest_feature[modality] = max(
                self.newest_feature[modality],
                msg.window_end.sec + msg.window_end.nanosec * 1e-9 - self.shift,
            )
            self.cond.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)


@dataclass
class EvalResult:
    outcomes: List[WindowOutcome]
    counts: Dict[str, int]
    partial: bool
    wall_seconds: float
    replayed_seconds: float
    diagnostics_drops: Dict[str, Dict[str, int]]
    events: List[Dict[str, Any]] = field(default_factory=list)  # _Collector.event_records


class GraphLink:
    """This process's end of a started graph: a publisher per input, /clock, the readers of
    labels, features and diagnostics. Made once per graph: bags replayed one after another
    reuse endpoints that are already matched, where new ones would have to be discovered
    again, and readers left from the previous bag would make the graph look ready early."""

    def __init__(self, node, graph, setup: EvalSetup, options: EvalOptions) -> None:
        from hybrid_fusion_ros.ros.diagnostics import DiagnosticsCollector
        from hybrid_fusion_ros.ros.graph import FUSION_NODE

        modalities = list(setup.plan.inputs)
        self.realtime = options.realtime
        self.collector = _Collector(node, options, modalities)
        self.diagnostics = DiagnosticsCollector(node)
        # Reliable either way (REP-2003: drivers publish reliable, subscribers choose); fast mode
        # also needs the depth, so the replayer can run ahead of a busy encoder.
        qos = sensor_qos(FAST_QUEUE_DEPTH, reliable=True) if not options.realtime else DRIVER_QOS
        # By input, not by bag topic: every bag replayed through this graph feeds the same inputs.
        self.pubs = {
            modality: node.create_publisher(message_class(msgtype), dst, qos)
            for modality, (_, msgtype, dst) in setup.plan.inputs.items()
        }
        sim_time = not options.realtime or options.rate != 1.0
        self.clock_pub = node.create_publisher(Clock, '/clock', 10) if sim_time else None
        self.reset_client = node.create_client(Trigger, f'/{FUSION_NODE}/reset')
        self.bags = 0

        feature_topics = [f'{options.feature_prefix}/{m}' for m in modalities]
        # Ready when every link of the graph is known here: our sensor publishers matched the
        # encoders, and each feature topic has its encoder and two readers (the fusion node and
        # this collector). A fast replay is over before a late link would come up.
        graph.wait_for(
            lambda: all(p.get_subscription_count() > 0 for p in self.pubs.values())
            and node.count_publishers(options.label_topic) > 0
            and all(
                node.count_publishers(t) > 0 and node.count_subscribers(t) > 1
                for t in feature_topics
            ),
            120.0,
            'the node graph to start (rerun with --verbose-nodes to see why)',
        )
        # Matching is seen from this side first; the subscribers' side of best-effort discovery
        # can lag by a few hundred ms, and whatever is published before it completes is lost.
        time.sleep(1.0)

    def begin(self, setup: EvalSetup, shift_ns: int, counts: Dict[str, int]) -> None:
        """Ready for the next bag. After another bag (fast mode only: live stamps cannot jump
        back), the clock goes back to a second before this bag's first message: timers on sim
        time restart, and the late and async modes do not judge its first features stale by
        the previous bag's clock (a graph alone starts with the clock at 0). Its stamps jump
        back too (``replay_shifts``), which resets every node. The fusion node's ``~/reset``
        clears its LSTM state whatever happens, and waiting for the reply gives the clock
        message sent before the request time to arrive there."""
        if self.bags:
            if self.realtime:
                raise ValueError(
                    'a graph replays one bag in real time: live stamps cannot jump back'
                )
            assert self.clock_pub is not None
            self.clock_pub.publish(
                clock_message(int(round(setup.start * 1e9)) + shift_ns - 1_000_000_000)
            )
            done = False
            if self.reset_client.wait_for_service(timeout_sec=10.0):
                future = self.reset_client.call_async(Trigger.Request())
                deadline = time.monotonic() + 10.0
                while not future.done() and time.monotonic() < deadline:
                    time.sleep(0.01)
                done = future.done() and future.result() is not None and future.result().success
            if not done:
                counts['fusion ~/reset calls that failed'] = 1
        self.collector.start_bag(shift_ns * 1e-9)
        self.bags += 1


def _interrupted(node) -> bool:
    """Ctrl-C: rclpy's own SIGINT handler shuts the context down at once, so a publish under way
    fails with an RCLError ("context is invalid") before Python raises KeyboardInterrupt."""
    import rclpy

    return not rclpy.ok(context=node.context)


def run(
    setup: EvalSetup,
    node,
    graph,
    options: EvalOptions,
    fusion_mode: str,
    on_progress: Optional[Callable[[int, int], None]] = None,
    link: Optional[GraphLink] = None,
    shift_ns: int = 0,
) -> EvalResult:
    """Replays the bag into a started graph through ``node`` (spun elsewhere) and collects
    the outcome of every window. Ctrl-C ends it early with ``partial`` set. ``link``: the
    graph's link, when bags replay one after another through one graph; ``shift_ns``: fast
    mode, this bag's shift from :func:`replay_shifts`."""
    if link is None:
        link = GraphLink(node, graph, setup, options)
    modalities = list(setup.plan.inputs)
    window = setup.checkpoint.window
    collector, diagnostics, clock_pub = link.collector, link.diagnostics, link.clock_pub
    sim_time = clock_pub is not None
    pubs = {
        src: (link.pubs[modality], modality) for modality, (src, _, _) in setup.plan.inputs.items()
    }
    late_modes = fusion_mode in ('late', 'async')
    if options.realtime and shift_ns:
        raise ValueError('shift_ns is for fast mode (real time at rate 1 shifts stamps to now)')
    counts = {'published': 0, 'label_timeouts': 0}
    link.begin(setup, shift_ns, counts)

    stamps: Dict[str, List[float]] = {m: [] for m in modalities}
    walls: Dict[str, List[float]] = {m: [] for m in modalities}
    clock_now = [-math.inf]

    def publish_clock(t: float) -> None:
        """``t`` in the bag's own time; the clock runs in the replayed (shifted) time."""
        if clock_pub is None or t <= clock_now[0]:
            return
        clock_now[0] = t
        clock_pub.publish(clock_message(int(round(t * 1e9)) + shift_ns))

    def settle(end: float) -> None:
        """Lockstep: wait for window ``end``'s features (and, late/async, its label).

        In early mode the fusion node only reacts to features, which no queue drops when the
        replay runs at most ``ahead`` windows in front of them, so the wait is for the window
        ``ahead`` hops back and the encoders overlap with the replay. Late and async modes
        fuse on a sim-time timer, which must tick with exactly this window's features in."""
        if not late_modes:
            publish_clock(end + options.lag)
            end = round(end - options.ahead * window.hop, 9)
        await_features(end)
        if not late_modes:
            return
        publish_clock(end + options.lag)
        await_label(end)

    def inputs_of(end: float) -> List[str]:
        """The inputs with data in window ``end``: those whose encoder publishes its feature."""
        return [
            m
            for m in modalities
            if bisect_right(stamps[m], end + EPS)
            > bisect_right(stamps[m], end - window.length + EPS)
        ]

    def await_features(end: float) -> List[str]:
        need = inputs_of(end)
        ok = collector.wait(
            lambda: all(collector.newest_feature[m] >= end - EPS for m in need),
            options.window_timeout,
        )
        if not ok:
            for m in need:
                if collector.newest_feature[m] < end - EPS:
                    key = f'feature_timeouts ({m})'
                    counts[key] = counts.get(key, 0) + 1
        return need

    def await_label(end: float) -> None:
        if not collector.wait(lambda: collector.newest_label >= end - EPS, options.window_timeout):
            counts['label_timeouts'] += 1

    def finish(last_end: float) -> None:
        """Early mode, after the last window: the ``ahead`` windows ``settle`` did not wait
        for. Their features, then the label of the newest window every input had data for:
        the replay ends when they are in, however busy the machine, not when labels merely
        stop coming for a moment (an encoder the OS holds back for that long loses them)."""
        ends = [round(last_end - k * window.hop, 9) for k in range(options.ahead - 1, -1, -1)]
        complete = [e for e in ends if len(await_features(e)) == len(modalities)]
        if complete:
            await_label(complete[-1])

    reader = open_reader(setup.bag)
    partial = False
    first_stamp: Optional[float] = None
    next_end: Optional[float] = None
    wall0 = time.perf_counter()
    try:
        start_ns = reader.start_time
        if options.realtime and options.rate == 1.0:
            shift_ns = live_shift_ns(start_ns, time.time())
            collector.shift = shift_ns / 1e9
        t0 = time.time()
        for msg in read_messages(reader, pubs.keys()):
            log_t = msg.log_time_ns * 1e-9
            if options.realtime:
                delay = t0 + (msg.log_time_ns - start_ns) / 1e9 / options.rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                if sim_time:
                    publish_clock(log_t)
            else:
                while next_end is not None and log_t > next_end + options.lag:
                    settle(next_end)
                    next_end = round(next_end + window.hop, 9)
            pub, modality = pubs[msg.topic]
            stamp = header_stamp(msg.data)
            data = shift_stamp(msg.data, shift_ns) if shift_ns else msg.data
            pub.publish(data)
            wall = time.perf_counter()
            stamps[modality].append(stamp)
            walls[modality].append(wall)
            if first_stamp is None:
                first_stamp = stamp
                ends = window_ends_between(
                    window, first_stamp + window.length - 1e-9, first_stamp + 2 * window.length
                )
                next_end = float(ends[0])
            counts['published'] += 1
            if on_progress is not None:
                on_progress(counts['published'], collector.label_count)
        last_stamp = max((s[-1] for s in stamps.values() if s), default=None)
        if not options.realtime and last_stamp is not None:
            while next_end is not None and next_end <= last_stamp + EPS:
                settle(next_end)
                next_end = round(next_end + window.hop, 9)
            if not late_modes and next_end is not None:
                finish(round(next_end - window.hop, 9))
    except KeyboardInterrupt:
        partial = True
    except Exception:  # noqa: BLE001 - only an interrupted context is expected here
        if not _interrupted(node):
            raise
        partial = True
    finally:
        reader.close()
    replay_wall = time.perf_counter() - wall0
    # Let the last labels and a round of diagnostics arrive.
    try:
        last_seen = -1
        settle_deadline = time.monotonic() + (2.0 if partial else 10.0)
        while time.monotonic() < settle_deadline:
            if sim_time and clock_now[0] > -math.inf:
                publish_clock(clock_now[0] + 1.1)
            time.sleep(0.6)
            if collector.label_count == last_seen:
                break
            last_seen = collector.label_count
    except KeyboardInterrupt:
        partial = True
    except Exception:  # noqa: BLE001 - only an interrupted context is expected here
        if not _interrupted(node):
            raise
        partial = True

    outcomes: List[WindowOutcome] = []
    replayed = 0.0
    if counts['published']:
        all_stamps = np.concatenate([np.asarray(stamps[m]) for m in modalities])
        all_walls = np.concatenate([np.asarray(walls[m]) for m in modalities])
        order = np.argsort(all_stamps, kind='stable')
        sorted_stamps = all_stamps[order]
        done_wall = np.maximum.accumulate(
            all_walls[order]
        )  # wall time by which every sample <= t was out
        first, last = float(sorted_stamps[0]), float(sorted_stamps[-1])
        replayed = last - first
        ends = window_ends_between(window, first + window.length - 1e-9, last + EPS)
        with collector.cond:
            labels = dict(collector.labels)

        def latency(end: float, label_wall: float) -> float:
            k = bisect_right(sorted_stamps, end + EPS) - 1
            return (label_wall - done_wall[k]) * 1e3 if k >= 0 else math.nan

        outcomes = window_outcomes(ends, window.length, setup.truth, labels, latency)
    drops: Dict[str, Dict[str, int]] = {}
    for task, values in diagnostics.drops().items():
        ints = {}
        for k, v in values.items():
            try:
                ints[k.replace('Dropped ', '').strip('()')] = int(float(v))
            except ValueError:
                continue
        if ints:
            drops[task] = ints
    evaluator_drops = {k: v for k, v in counts.items() if k != 'published' and v}
    if evaluator_drops:
        drops[EVALUATOR_DROPS] = evaluator_drops
    events = close_open_events(collector.event_records(), outcomes)
    return EvalResult(outcomes, counts, partial, replay_wall, replayed, drops, events)


def close_open_events(
    events: List[Dict[str, Any]], outcomes: Sequence[WindowOutcome]
) -> List[Dict[str, Any]]:
    """Events still open when the replay ended (the graph ends an event only once labels
    stop for ``event_max_gap``): each ends with the last window labelled as it, marked
    ``open_at_end``."""
    out = []
    for event in events:
        if event.get('state') != 'ended':
            ends = [
                o.end for o in outcomes if o.label == event['label'] and o.end >= event['start']
            ]
            event = {**event, 'end': max(ends, default=event['end']), 'open_at_end': True}
        out.append(event)
    return out


def unknown_threshold(setup: EvalSetup, overrides: Optional[Dict[str, str]] = None) -> float:
    """The rejection threshold the graph runs with: the fusion node's ``unknown_threshold``
    when the command line (``overrides``) set one in [0, 1], else the checkpoint's (0: none)."""
    own = {**setup.node_overrides.get('fusion_node', {}), **(overrides or {})}.get(
        'unknown_threshold'
    )
    try:
        value = float(own) if own is not None else -1.0
    except ValueError:
        value = -1.0
    if 0.0 <= value <= 1.0:
        return value
    return float((setup.checkpoint.calibration or {}).get('threshold', 0.0))


def meta_for(
    setup: EvalSetup,
    options: EvalOptions,
    result: EvalResult,
    config: Path,
    fusion_mode: str,
    checkpoint: Optional[str],
    overrides: Optional[Dict[str, str]] = None,
) -> Dict[str, object]:
    mode = (
        ('real time' if options.rate == 1.0 else f'{options.rate:g}x recorded pace, sim time')
        if options.realtime
        else 'fast lockstep replay with sim time (deterministic)'
    )
    return {
        'bag': str(setup.bag),
        'bag_format': setup.format,
        'bag_seconds': setup.seconds,
        'data_note': setup.data_note or 'not stated in the bag',
        'replay_note': (
            f'{mode}; inputs '
            + ', '.join(f'{m} <- {src} ({ty})' for m, (src, ty, _) in setup.plan.inputs.items())
        ),
        'config': str(config),
        'checkpoint': checkpoint or 'packaged default',
        'model_id': setup.checkpoint.model_id,
        'unknown_threshold': unknown_threshold(setup, overrides),
        'fusion_mode': fusion_mode,
        'ground_truth': setup.truth_source,
        'machine': machine_line(),
        'wall_seconds': result.wall_seconds,
        'replayed_seconds': result.replayed_seconds,
        'speed_x': (
            result.replayed_seconds / result.wall_seconds if result.wall_seconds > 0 else None
        ),
        'window': {'length': setup.checkpoint.window.length, 'hop': setup.checkpoint.window.hop},
        'latency_note': (
            "wall time from publishing the window's last sensor message to receiving its first "
            'label'
            + (
                ' (fast mode: measured while the replay runs many times faster than real '
                'time, so it includes queueing behind later messages)'
                if not options.realtime
                else ''
            )
        ),
        'latency_title': 'Last sample published -> label received',
        'notes': setup.notes,
        'messages_published': result.counts['published'],
    }
