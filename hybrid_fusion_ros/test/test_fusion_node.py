"""The fusion node on hand-published features: labels at window stamps, unmatched inputs
counted, state reset on a clock jump and by service, diagnostics levels."""
import time

import numpy as np
import pytest
from rclpy.parameter import Parameter

from conftest import wait_until
from diagnostic_msgs.msg import DiagnosticArray
from hybrid_fusion_ros import conversions as conv
from hybrid_fusion_ros.diagnostics import level_of
from hybrid_fusion_ros.fusion_node import FusionNode
from hybrid_fusion_ros.qos import RESULT_QOS
from hybrid_fusion_msgs.msg import ActivityLabel, FeatureVector
from std_srvs.srv import Trigger

MODALITIES = ('camera', 'imu', 'audio')


@pytest.fixture
def graph(ros):
    fusion = ros.add(FusionNode('fusion_node', **ros.kwargs(diagnostics_period=0.2, stale_timeout=0.5)))
    helper = ros.node('features_source')
    labels, diags = [], []
    helper.create_subscription(ActivityLabel, 'activity', labels.append, RESULT_QOS)
    helper.create_subscription(DiagnosticArray, '/diagnostics', diags.append, 10)
    pubs = {m: helper.create_publisher(FeatureVector, f'features/{m}', RESULT_QOS) for m in MODALITIES}
    wait_until(lambda: all(p.get_subscription_count() > 0 for p in pubs.values()), what='fusion subscriptions')

    def send(end, modalities=MODALITIES):
        for m in modalities:
            pubs[m].publish(conv.feature_to_msg(np.random.default_rng(int(end * 10)).normal(size=64), m, 'x',
                                                end - 1, end, end - 0.01, 10, 1.0))
        time.sleep(0.01)  # paced: KEEP_LAST 10 on the writer would overwrite a burst
    return fusion, helper, labels, diags, send


def test_labels_carry_window_stamps_and_probabilities(graph):
    fusion, _, labels, _, send = graph
    for k in range(1, 6):
        send(100.0 + 0.5 * k)
    wait_until(lambda: len(labels) == 5, what='5 labels')
    assert [conv.stamp_to_sec(x.header.stamp) for x in labels] == [100.5, 101.0, 101.5, 102.0, 102.5]
    lab = labels[-1]
    assert list(lab.class_names) == list(fusion.classes) and len(lab.probabilities) == len(fusion.classes)
    assert np.isclose(sum(lab.probabilities), 1.0, atol=1e-4)
    assert lab.label == lab.class_names[lab.class_id] and lab.fusion_mode == 'early'
    assert list(lab.modalities_used) == list(MODALITIES)


def test_missing_modality_leaves_windows_unmatched_and_counted(graph):
    fusion, _, labels, _, send = graph
    for k in range(1, 16):
        send(200.0 + 0.5 * k, ('camera', 'imu'))
    # 15 camera and 15 imu features wait for audio that never comes: a queue of 10 each
    # means 5 of each leave unmatched, and are counted.
    wait_until(lambda: fusion.sync.stats.received[:2] == [15, 15], what='all features received')
    assert fusion.sync.stats.dropped == [5, 5, 0]
    assert labels == []


def test_state_resets_on_clock_jump_and_service(graph):
    fusion, helper, labels, _, send = graph
    send(300.0)
    send(300.5)
    send(100.0)  # bag loop: time jumps back
    wait_until(lambda: len(labels) == 3, what='3 labels')
    assert fusion.state_resets == 1
    client = helper.create_client(Trigger, 'fusion_node/reset')
    assert client.wait_for_service(timeout_sec=5)
    future = client.call_async(Trigger.Request())
    wait_until(future.done, what='reset service')
    assert future.result().success and fusion.state_resets == 2


def test_diagnostics_warn_when_an_input_goes_stale(graph):
    fusion, _, labels, diags, send = graph

    def level(task):
        for arr in reversed(diags):
            for st in arr.status:
                if st.name.endswith(task):
                    return level_of(st)
        return None
    for k in range(1, 4):
        send(400.0 + 0.5 * k)
    wait_until(lambda: level('features/imu topic status') == 0, what='imu input OK')
    wait_until(lambda: level('features/imu topic status') == 1, timeout=5, what='imu input WARN when stale')


def test_invalid_parameter_change_is_rejected(graph):
    fusion = graph[0]
    result = fusion.set_parameters([Parameter('fusion_mode', value='sideways')])[0]
    assert not result.successful and 'fusion_mode must be one of' in result.reason
    assert fusion.get_parameter('fusion_mode').value == 'early'
    assert fusion.set_parameters([Parameter('slop', value=0.2)])[0].successful
    assert fusion.sync.slop == pytest.approx(0.2)
