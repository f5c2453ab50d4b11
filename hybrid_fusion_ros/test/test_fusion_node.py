"""The fusion node on hand-published features: every fusion mode, run-time changes, state
lifecycle, drops by cause, diagnostics levels and the managed (lifecycle) variant.

Features are stamped near the node's clock (wall time), as live encoders stamp them, so the
late and async modes' ``max_age`` applies as on a robot."""
import time

import numpy as np
import pytest
from rclpy.parameter import Parameter

from conftest import wait_until
from diagnostic_msgs.msg import DiagnosticArray
from hybrid_fusion_ros import conversions as conv
from hybrid_fusion_ros.diagnostics import level_of
from hybrid_fusion_ros.fusion_node import FusionLifecycleNode, FusionNode
from hybrid_fusion_ros.qos import RESULT_QOS
from hybrid_fusion_msgs.msg import ActivityLabel, FeatureVector
from std_srvs.srv import Trigger

MODALITIES = ('camera', 'imu', 'audio')


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
        self.pubs = {m: helper.create_publisher(FeatureVector, f'features/{m}', RESULT_QOS) for m in MODALITIES}

    @property
    def pipeline(self):
        return self.node.pipeline

    def connected(self):
        wait_until(lambda: all(p.get_subscription_count() > 0 for p in self.pubs.values()), what='fusion subscriptions')
        return self

    def send(self, end, modalities=MODALITIES):
        for m in modalities:
            feature = np.random.default_rng(int(end * 10) % 2**32).normal(size=64)
            self.pubs[m].publish(conv.feature_to_msg(feature, m, 'x', end - 1, end, end - 0.01, 10, 1.0))
        time.sleep(0.01)  # paced: KEEP_LAST 10 on the writer would overwrite a burst

    def level(self, task):
        for arr in reversed(self.diags):
            for st in arr.status:
                if st.name.endswith(task):
                    return level_of(st)
        return None


@pytest.fixture
def graph(ros):
    return Harness(ros).connected()


def test_early_labels_carry_window_stamps_and_probabilities(graph):
    for k in range(1, 6):
        graph.send(100.0 + 0.5 * k)
    wait_until(lambda: len(graph.labels) == 5, what='5 labels')
    assert [conv.stamp_to_sec(x.header.stamp) for x in graph.labels] == [100.5, 101.0, 101.5, 102.0, 102.5]
    lab = graph.labels[-1]
    assert list(lab.class_names) == list(graph.pipeline.classes) and len(lab.probabilities) == 6
    assert np.isclose(sum(lab.probabilities), 1.0, atol=1e-4)
    assert lab.label == lab.class_names[lab.class_id] and lab.fusion_mode == 'early'
    assert list(lab.modalities_used) == list(MODALITIES)
    assert len(lab.modality_weights) == 0  # the early strategy has no per-modality weights


def test_early_missing_modality_leaves_windows_unmatched_and_counted(graph):
    for k in range(1, 16):
        graph.send(200.0 + 0.5 * k, ('camera', 'imu'))
    # 15 camera and 15 imu features wait for audio that never comes: with a queue of 10
    # each, 5 of each leave unmatched, and are counted.
    wait_until(lambda: graph.pipeline.sync.stats.received[:2] == [15, 15], what='all features received')
    assert graph.pipeline.sync.stats.dropped == [5, 5, 0]
    assert graph.pipeline.input_drops(0) == {'unmatched': 5}
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
    wait_until(lambda: any(list(x.modalities_used) == list(MODALITIES) for x in g.labels), what='labels from all')
    # Audio stops: after max_age it is masked and the labels say so.
    deadline = time.time() + 1.5
    while time.time() < deadline:
        g.send(time.time(), ('camera', 'imu'))
        time.sleep(0.1)
    recent = g.labels[-3:]
    assert all(list(x.modalities_used) == ['camera', 'imu'] for x in recent), [list(x.modalities_used) for x in recent]
    assert all(x.fusion_mode == mode for x in recent)
    if mode == 'late':
        assert all(len(x.modality_weights) == 2 and np.isclose(sum(x.modality_weights), 1.0, atol=1e-5)
                   for x in recent)
    # Audio returns: used again.
    for _ in range(3):
        g.send(time.time())
        time.sleep(0.1)
    wait_until(lambda: list(g.labels[-1].modalities_used) == list(MODALITIES), what='audio used again')


def test_timer_mode_drops_features_older_than_max_age(ros):
    g = Harness(ros, fusion_mode='async', max_age=0.5).connected()
    g.send(time.time() - 5.0)
    wait_until(lambda: g.pipeline.input_drops(1).get('late') == 1, what='late imu feature counted')
    assert g.pipeline.latest == {}


def test_run_time_mode_and_rate_change(graph):
    graph.send(10.5)
    wait_until(lambda: len(graph.labels) == 1, what='an early label')
    ok = graph.node.set_parameters([Parameter('fusion_mode', value='async'),
                                    Parameter('fusion_rate_hz', value=25.0)])
    assert all(r.successful for r in ok)
    assert graph.pipeline.fusion_mode == 'async' and graph.pipeline.state_resets == 1
    assert graph.pipeline.fusion_timer.timer_period_ns == 40_000_000
    start = len(graph.labels)
    for _ in range(5):
        graph.send(time.time())
        time.sleep(0.1)
    wait_until(lambda: sum(x.fusion_mode == 'async' for x in graph.labels[start:]) >= 8, what='async labels at 25 Hz')


@pytest.mark.parametrize('name, value, reason', [
    ('fusion_mode', 'sideways', 'fusion_mode must be one of'),
    ('fusion_rate_hz', 0.0, 'fusion_rate_hz must be a finite number > 0'),
    ('max_age', -1.0, 'max_age must be a finite number > 0'),
    ('slop', -0.1, 'slop must be a finite number > 0'),
    ('slop', 0.0, 'slop must be a finite number > 0'),  # message_filters never matches with slop 0
    ('slop', float('nan'), 'slop must be a finite number > 0'),
    ('fusion_rate_hz', float('inf'), 'fusion_rate_hz must be a finite number > 0'),
    ('max_age', float('nan'), 'max_age must be a finite number > 0'),
    ('reset_after', float('inf'), 'reset_after must be a finite number >= 0'),
])
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
    graph.send(100.0)   # bag loop: time jumps back
    wait_until(lambda: len(graph.labels) == 3, what='3 labels')
    assert graph.pipeline.state_resets == 1
    graph.send(200.0)   # a gap longer than reset_after (5 s) since 100.0
    wait_until(lambda: len(graph.labels) == 4, what='4 labels')
    assert graph.pipeline.state_resets == 2
    client = graph.helper.create_client(Trigger, 'fusion_node/reset')
    assert client.wait_for_service(timeout_sec=5)
    future = client.call_async(Trigger.Request())
    wait_until(future.done, what='reset service')
    assert future.result().success and graph.pipeline.state_resets == 3


def test_out_of_order_features_are_dropped_and_counted(graph):
    graph.send(400.0)
    graph.send(400.5)
    graph.send(400.25)  # older than the last, but not a clock jump
    wait_until(lambda: graph.pipeline.input_drops(0).get('out_of_order') == 1, what='out of order counted')
    assert graph.pipeline.state_resets == 0
    assert len(graph.labels) == 2


def test_a_feature_of_the_wrong_length_is_dropped_and_counted(graph):
    """Another model's encoder publishing on the same topic must not kill the node."""
    graph.pubs['imu'].publish(conv.feature_to_msg(np.zeros(32), 'imu', 'x', 399.0, 400.0, 399.99, 10, 1.0))
    wait_until(lambda: graph.pipeline.input_drops(1).get('invalid') == 1, what='wrong length counted')
    graph.send(400.5)
    wait_until(lambda: len(graph.labels) == 1, what='labels go on')


def test_diagnostics_levels_follow_an_input_that_stops(ros):
    g = Harness(ros, stale_timeout=0.3, stale_error_timeout=0.8).connected()
    for k in range(1, 4):
        g.send(400.0 + 0.5 * k)
    wait_until(lambda: g.level('features/imu topic status') == 0, what='imu OK')
    wait_until(lambda: g.level('features/imu topic status') == 1, timeout=5, what='imu WARN when stale')
    wait_until(lambda: g.level('features/imu topic status') == 2, timeout=5, what='imu ERROR when long stale')
    g.send(402.0)
    wait_until(lambda: g.level('features/imu topic status') == 0, timeout=5, what='imu OK again')


def test_fusion_status_goes_warn_then_error_when_labels_stop(ros):
    # Stamps here are not wall time: the latency levels are kept out of the way.
    g = Harness(ros, stale_timeout=1.0, stale_error_timeout=2.0, latency_warn_ms=1e15,
                latency_error_ms=1e15).connected()
    end = [400.0]

    def labels_flow_and_fusion_is_ok() -> bool:
        end[0] += 0.5
        g.send(end[0])
        time.sleep(0.1)
        return g.level(': fusion') == 0
    wait_until(labels_flow_and_fusion_is_ok, what='fusion OK while labels come')
    wait_until(lambda: g.level(': fusion') == 1, timeout=5, what='fusion WARN when labels stop')
    wait_until(lambda: g.level(': fusion') == 2, timeout=5, what='fusion ERROR when they stay away')
    wait_until(labels_flow_and_fusion_is_ok, what='fusion OK again')


def test_lifecycle_node_transitions(ros):
    g = Harness(ros, FusionLifecycleNode)
    node = g.node
    assert node.pipeline is None
    node.trigger_configure()
    assert node.pipeline is not None and not node.pipeline.active  # model loaded, not publishing
    g.connected()
    g.send(10.5)
    time.sleep(0.5)
    assert g.labels == []
    node.trigger_activate()
    g.send(11.0)
    wait_until(lambda: len(g.labels) == 1, what='a label once active')
    node.trigger_deactivate()
    g.send(11.5)
    time.sleep(0.5)
    assert len(g.labels) == 1
    node.trigger_cleanup()
    assert node.pipeline is None
