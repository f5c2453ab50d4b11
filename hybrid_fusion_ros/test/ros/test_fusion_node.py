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

"""The fusion node on hand-published features: every fusion mode, run-time changes, state
lifecycle, drops by cause, diagnostics levels and the managed (lifecycle) variant.

Features are stamped near the node's clock (wall time), as live encoders stamp them, so the
late and async modes' ``max_age`` applies as on a robot."""

import time

from conftest import wait_until
from diagnostic_msgs.msg import DiagnosticArray
from hybrid_fusion_msgs.msg import ActivityLabel
from hybrid_fusion_msgs.msg import FeatureVector
import numpy as np
import pytest
from rclpy.lifecycle import LifecyclePublisher
from rclpy.parameter import Parameter
from std_srvs.srv import Trigger

from hybrid_fusion_ros.core.fusion_runtime import FusionSettings
from hybrid_fusion_ros.nodes.fusion_node import FusionLifecycleNode
from hybrid_fusion_ros.nodes.fusion_node import FusionNode
from hybrid_fusion_ros.ros import conversions as conv
from hybrid_fusion_ros.ros.diagnostics import level_of
from hybrid_fusion_ros.ros.qos import RESULT_QOS

MODALITIES = ('camera', 'imu', 'audio')
CAMERA_IMU = ('camera', 'imu')


class Harness:
    def __init__(self, ros, node_class=FusionNode, **params):
        params.setdefault('diagnostics_period', 0.2)
        params.setdefault('stale_timeout', 0.5)
        self.node = ros.add(node_class('fusion_node', **ros.kwargs(**params)))
        helper = ros.node('features_source')
        self.helper = helper
        self.labels, self.diags = [], []
        helper.create_subscription(ActivityLabel, 'activity', self.labels.append, RESULT_QOS)
        helper.create_subscription(DiagnosticArray, '/diagnostics', self.diags.append, 10)
        self.pubs = {
            m: helper.create_publisher(FeatureVector, f'features/{m}', RESULT_QOS)
            for m in MODALITIES
        }

    @property
    def pipeline(self):
        return self.node.pipeline

    @property
    def runtime(self):
        return self.node.pipeline.runtime

    def connected(self):
        wait_until(
            lambda: all(p.get_subscription_count() > 0 for p in self.pubs.values()),
            what='fusion subscriptions',
        )
        return self

    def stream_until(self, condition, what, modalities=MODALITIES, start=None):
        """Send the next window's features every 0.1 s until ``condition()`` holds; the
        stamps go on from ``start`` (or from the last window streamed)."""
        if start is not None:
            self.end = start

        def next_window_and_check() -> bool:
            self.end += 0.5
            self.send(self.end, modalities)
            time.sleep(0.1)
            return condition()

        wait_until(next_window_and_check, what=what)

    def send(self, end, modalities=MODALITIES):
        for m in modalities:
            feature = np.random.default_rng(int(end * 10) % 2**32).normal(size=64)
            self.pubs[m].publish(
                conv.feature_to_msg(feature, m, 'x', end - 1, end, end - 0.01, 10, 1.0)
            )
        time.sleep(0.01)  # paced: KEEP_LAST 10 on the writer would overwrite a burst

    def status(self, task):
        """The latest status of ``task``: level, message and values (None if none yet)."""
        for arr in reversed(self.diags):
            for st in arr.status:
                if st.name.endswith(task):
                    return level_of(st), st.message, {kv.key: kv.value for kv in st.values}
        return None

    def level(self, task):
        status = self.status(task)
        return None if status is None else status[0]


@pytest.fixture
def graph(ros):
    return Harness(ros).connected()


def test_early_labels_carry_window_stamps_and_probabilities(graph):
    for k in range(1, 6):
        graph.send(100.0 + 0.5 * k)
    wait_until(lambda: len(graph.labels) == 5, what='5 labels')
    assert [conv.stamp_to_sec(x.header.stamp) for x in graph.labels] == [
        100.5,
        101.0,
        101.5,
        102.0,
        102.5,
    ]
    lab = graph.labels[-1]
    assert list(lab.class_names) == list(graph.runtime.classes) and len(lab.probabilities) == 6
    assert np.isclose(sum(lab.probabilities), 1.0, atol=1e-4)
    assert lab.label == lab.class_names[lab.class_id] and lab.fusion_mode == 'early'
    assert list(lab.modalities_used) == list(MODALITIES)
    assert len(lab.modality_weights) == 0  # the early strategy has no per-modality weights


def test_early_missing_modality_leaves_windows_unmatched_and_counted(ros):
    graph = Harness(ros, input_timeout=0.0).connected()  # 0: wait for every input
    for k in range(1, 16):
        graph.send(200.0 + 0.5 * k, ('camera', 'imu'))
    # 15 camera and 15 imu features wait for audio that never comes: with a queue of 10
    # each, 5 of each leave unmatched, and are counted.
    wait_until(
        lambda: graph.pipeline.sync.stats.received[:2] == [15, 15], what='all features received'
    )
    assert graph.pipeline.sync.stats.dropped == [5, 5, 0]
    assert graph.runtime.input_drops('camera') == {'unmatched': 5}
    assert graph.labels == []


def test_early_mode_fuses_without_an_input_that_timed_out(ros):
    g = Harness(ros, input_timeout=1.0).connected()
    g.send(20.5)
    for k in range(2, 8):
        g.send(20.0 + 0.5 * k, ('camera', 'imu'))
    wait_until(lambda: len(g.labels) >= 4, what='labels without audio')
    assert list(g.labels[0].modalities_used) == list(MODALITIES)
    assert all(list(x.modalities_used) == ['camera', 'imu'] for x in g.labels[1:])
    assert g.pipeline.sync.stats.partial == len(g.labels) - 1


def test_attention_model_puts_modality_weights_on_labels(ros):
    g = Harness(ros, model='attention').connected()
    g.send(50.5)
    wait_until(lambda: len(g.labels) == 1, what='a label')
    weights = list(g.labels[0].modality_weights)
    assert len(weights) == 3 and np.isclose(sum(weights), 1.0, atol=1e-5)


@pytest.mark.parametrize('mode', ['late', 'async'])
def test_timer_modes_mask_a_stale_modality_and_recover(ros, mode):
    g = Harness(ros, fusion_mode=mode, fusion_rate_hz=20.0, max_age=0.6).connected()
    # All three modalities, live.
    for _ in range(4):
        g.send(time.time())
        time.sleep(0.1)
    wait_until(
        lambda: any(list(x.modalities_used) == list(MODALITIES) for x in g.labels),
        what='labels from all',
    )
    # Audio stops: after max_age it is masked and the labels say so.
    deadline = time.time() + 1.5
    while time.time() < deadline:
        g.send(time.time(), ('camera', 'imu'))
        time.sleep(0.1)
    recent = g.labels[-3:]
    assert all(list(x.modalities_used) == ['camera', 'imu'] for x in recent), [
        list(x.modalities_used) for x in recent
    ]
    assert all(x.fusion_mode == mode for x in recent)
    if mode == 'late':
        assert all(
            len(x.modality_weights) == 2 and np.isclose(sum(x.modality_weights), 1.0, atol=1e-5)
            for x in recent
        )
    # Audio returns: used again.
    for _ in range(3):
        g.send(time.time())
        time.sleep(0.1)
    wait_until(
        lambda: list(g.labels[-1].modalities_used) == list(MODALITIES), what='audio used again'
    )


def test_timer_mode_drops_features_older_than_max_age(ros):
    g = Harness(ros, fusion_mode='async', max_age=0.5).connected()
    g.send(time.time() - 5.0)
    wait_until(
        lambda: g.runtime.input_drops('imu').get('late') == 1, what='late imu feature counted'
    )
    assert g.runtime.latest == {}


def test_run_time_mode_and_rate_change(graph):
    graph.send(10.5)
    wait_until(lambda: len(graph.labels) == 1, what='an early label')
    ok = graph.node.set_parameters(
        [Parameter('fusion_mode', value='async'), Parameter('fusion_rate_hz', value=25.0)]
    )
    assert all(r.successful for r in ok)
    assert graph.runtime.settings.fusion_mode == 'async' and graph.runtime.state_resets == 1
    assert graph.pipeline.fusion_timer.timer_period_ns == 40_000_000
    start = len(graph.labels)
    for _ in range(5):
        graph.send(time.time())
        time.sleep(0.1)
    wait_until(
        lambda: sum(x.fusion_mode == 'async' for x in graph.labels[start:]) >= 8,
        what='async labels at 25 Hz',
    )


@pytest.mark.parametrize(
    'name, value, reason',
    [
        ('fusion_mode', 'sideways', 'fusion_mode must be one of'),
        ('fusion_rate_hz', 0.0, 'fusion_rate_hz must be a finite number > 0'),
        ('max_age', -1.0, 'max_age must be a finite number > 0'),
        ('slop', -0.1, 'slop must be a finite number > 0'),
        (
            'slop',
            0.0,
            'slop must be a finite number > 0',
        ),  # message_filters never matches with slop 0
        ('slop', float('nan'), 'slop must be a finite number > 0'),
        ('fusion_rate_hz', float('inf'), 'fusion_rate_hz must be a finite number > 0'),
        ('max_age', float('nan'), 'max_age must be a finite number > 0'),
        ('reset_after', float('inf'), 'reset_after must be a finite number >= 0'),
    ],
)
def test_invalid_parameter_change_is_rejected_and_old_value_kept(graph, name, value, reason):
    before = graph.node.get_parameter(name).value
    result = graph.node.set_parameters([Parameter(name, value=value)])[0]
    assert not result.successful and reason in result.reason
    assert graph.node.get_parameter(name).value == before


def test_slop_change_applies_to_the_synchronizer(graph):
    assert graph.node.set_parameters([Parameter('slop', value=0.2)])[0].successful
    assert graph.pipeline.sync.slop == pytest.approx(0.2)


def test_state_resets_on_clock_jump_gap_and_service(graph):
    graph.send(300.0)
    graph.send(300.5)
    graph.send(100.0)  # bag loop: time jumps back
    wait_until(lambda: len(graph.labels) == 3, what='3 labels')
    assert graph.runtime.state_resets == 1
    graph.send(200.0)  # a gap longer than reset_after (5 s) since 100.0
    wait_until(lambda: len(graph.labels) == 4, what='4 labels')
    assert graph.runtime.state_resets == 2
    client = graph.helper.create_client(Trigger, 'fusion_node/reset')
    assert client.wait_for_service(timeout_sec=5)
    future = client.call_async(Trigger.Request())
    wait_until(future.done, what='reset service')
    assert future.result().success and graph.runtime.state_resets == 3


def test_out_of_order_features_are_dropped_and_counted(graph):
    graph.send(400.0)
    graph.send(400.5)
    graph.send(400.25)  # older than the last, but not a clock jump
    wait_until(
        lambda: graph.runtime.input_drops('camera').get('out_of_order') == 1,
        what='out of order counted',
    )
    assert graph.runtime.state_resets == 0
    assert len(graph.labels) == 2


def test_a_feature_of_the_wrong_length_is_dropped_and_counted(graph):
    """Another model's encoder publishing on the same topic must not kill the node."""
    graph.pubs['imu'].publish(
        conv.feature_to_msg(np.zeros(32), 'imu', 'x', 399.0, 400.0, 399.99, 10, 1.0)
    )
    wait_until(
        lambda: graph.runtime.input_drops('imu').get('invalid') == 1, what='wrong length counted'
    )
    graph.send(400.5)
    wait_until(lambda: len(graph.labels) == 1, what='labels go on')


def test_diagnostics_levels_follow_an_input_that_stops(ros):
    g = Harness(ros, stale_timeout=0.3, stale_error_timeout=0.8).connected()
    for k in range(1, 4):
        g.send(400.0 + 0.5 * k)
    wait_until(lambda: g.level('features/imu topic status') == 0, what='imu OK')
    wait_until(
        lambda: g.level('features/imu topic status') == 1, timeout=5, what='imu WARN when stale'
    )
    wait_until(
        lambda: g.level('features/imu topic status') == 2,
        timeout=5,
        what='imu ERROR when long stale',
    )
    g.send(402.0)
    wait_until(lambda: g.level('features/imu topic status') == 0, timeout=5, what='imu OK again')


def test_fusion_status_goes_warn_then_error_when_labels_stop(ros):
    # Stamps here are not wall time: the latency levels are kept out of the way.
    g = Harness(
        ros,
        stale_timeout=1.0,
        stale_error_timeout=2.0,
        latency_warn_ms=1e15,
        latency_error_ms=1e15,
    ).connected()

    def fusion_ok() -> bool:
        return g.level(': fusion') == 0

    g.stream_until(fusion_ok, 'fusion OK while labels come', start=400.0)
    wait_until(lambda: g.level(': fusion') == 1, timeout=5, what='fusion WARN when labels stop')
    wait_until(
        lambda: g.level(': fusion') == 2, timeout=5, what='fusion ERROR when they stay away'
    )
    g.stream_until(fusion_ok, 'fusion OK again')


def test_lifecycle_node_publishes_through_lifecycle_publishers(ros):
    g = Harness(ros, FusionLifecycleNode)
    node = g.node
    assert node.pipeline is None
    node.trigger_configure()
    pub = node.pipeline.label_pub
    assert isinstance(pub, LifecyclePublisher)
    assert isinstance(node.pipeline.diag_pub, LifecyclePublisher)
    assert not pub.is_activated and not node.pipeline.active  # model loaded, not publishing
    g.connected()

    def ignored_while_inactive(n: int) -> bool:
        return all(g.runtime.input_drops(m).get('inactive') == n for m in MODALITIES)

    g.send(10.5)
    wait_until(lambda: ignored_while_inactive(1), what='features dropped while inactive')
    node.trigger_activate()
    assert pub.is_activated
    g.send(11.0)
    wait_until(lambda: len(g.labels) == 1, what='a label once active')
    wait_until(lambda: g.level(': fusion') is not None, what='diagnostics once active')
    node.trigger_deactivate()
    assert not pub.is_activated
    g.send(11.5)
    wait_until(lambda: ignored_while_inactive(2), what='features dropped while inactive again')
    node.trigger_activate()
    g.send(12.0)
    wait_until(lambda: len(g.labels) == 2, what='a label once active again')
    # Reliable and in order: a label of 10.5 or 11.5 would have come before the later ones.
    assert [conv.stamp_to_sec(x.header.stamp) for x in g.labels] == [11.0, 12.0]
    node.trigger_deactivate()
    node.trigger_cleanup()
    assert node.pipeline is None


def test_early_mode_degrades_when_an_input_stops_for_good(ros):
    """With the default input_timeout, labels go on without a microphone that stopped; its
    status says why, WARN then ERROR, and it is taken back when it returns."""
    g = Harness(
        ros,
        stale_timeout=0.5,
        stale_error_timeout=2.0,
        latency_warn_ms=1e15,
        latency_error_ms=1e15,
    ).connected()
    assert g.node.get_parameter('input_timeout').value == FusionSettings().input_timeout > 0

    def fused(modalities):
        return lambda: bool(g.labels) and list(g.labels[-1].modalities_used) == list(modalities)

    audio = 'features/audio topic status'

    def audio_masked(level):
        return lambda: g.level(audio) == level and g.status(audio)[1].endswith('s; masked')

    g.stream_until(fused(MODALITIES), 'labels from all three', start=1000.0)
    g.stream_until(fused(CAMERA_IMU), 'labels without the microphone', CAMERA_IMU)
    g.stream_until(audio_masked(1), 'audio WARN, masked', CAMERA_IMU)
    g.stream_until(audio_masked(2), 'audio ERROR, masked', CAMERA_IMU)
    assert g.status(audio)[1].startswith('no features for ')
    assert list(g.labels[-1].modalities_used) == list(CAMERA_IMU)
    g.stream_until(fused(MODALITIES), 'the microphone taken back')
    g.stream_until(lambda: g.level(audio) == 0, 'audio OK again')


def test_an_input_whose_encoder_vanished_is_reported_as_such(ros):
    g = Harness(ros, stale_timeout=2.0, stale_error_timeout=3.0).connected()
    g.send(500.0)
    audio = 'features/audio topic status'
    wait_until(lambda: g.level(audio) == 0, what='audio OK')
    audio_pub = g.pubs.pop('audio')
    ros.on_executor(lambda: g.helper.destroy_publisher(audio_pub))
    gone = 'no publisher on features/audio (encoder gone)'
    wait_until(lambda: g.status(audio)[:2] == (1, gone), what='audio WARN: encoder gone')
    wait_until(lambda: g.status(audio)[:2] == (2, gone), what='audio ERROR: encoder gone')


def test_internal_errors_are_counted_reported_and_survived(ros, monkeypatch):
    g = Harness(
        ros,
        stale_timeout=5.0,
        stale_error_timeout=1.0,
        latency_warn_ms=1e15,
        latency_error_ms=1e15,
    ).connected()

    def broken(*args, **kwargs):
        raise RuntimeError('injected')

    rt = g.runtime
    for method in ('on_feature', 'on_timer', 'reset', 'set_parameters'):
        monkeypatch.setattr(rt, method, broken)
    g.send(600.0)
    result = g.node.set_parameters([Parameter('slop', value=0.1)])[0]
    assert not result.successful and result.reason == 'internal error: injected'
    client = g.helper.create_client(Trigger, 'fusion_node/reset')
    assert client.wait_for_service(timeout_sec=5)
    future = client.call_async(Trigger.Request())
    wait_until(future.done, what='reset service')
    assert not future.result().success and future.result().message == 'internal error: injected'
    errors = g.pipeline.errors
    wait_until(
        lambda: set(errors.by_callback)
        == {
            'features/camera callback',
            'features/imu callback',
            'features/audio callback',
            'fusion timer',
            'reset service',
            'parameter callback',
        },
        what='every guard tripped',
    )
    wait_until(lambda: g.level(': fusion') == 2, what='fusion ERROR')
    assert int(g.status(': fusion')[2]['Internal errors']) > 0
    monkeypatch.undo()
    g.stream_until(lambda: g.level(': fusion') == 0, 'labels again, fusion OK again', start=600.0)
    assert g.node.set_parameters([Parameter('slop', value=0.1)])[0].successful
