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

"""Labels a robot can act on, through a real fusion node: the model id on every label and the
latched ~/model_info, features of another model dropped and reported while the inputs that
agree go on, 'unknown' below the threshold, activity events, and swaps refused on bad input
with the running model untouched."""

import time

from conftest import wait_until
from hybrid_fusion_msgs.msg import ActivityEvent
from hybrid_fusion_msgs.msg import ActivityLabel
from hybrid_fusion_msgs.msg import FeatureVector
from hybrid_fusion_msgs.msg import ModelInfo
from hybrid_fusion_msgs.srv import LoadModel
import numpy as np
import pytest
from rclpy.parameter import Parameter

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.nodes.fusion_node import FusionNode
from hybrid_fusion_ros.ros import conversions as conv
from hybrid_fusion_ros.ros.diagnostics import level_of
from hybrid_fusion_ros.ros.qos import LATCHED_QOS
from hybrid_fusion_ros.ros.qos import RESULT_QOS

MODALITIES = ('camera', 'imu', 'audio')


class Graph:
    """A fusion node fed by hand, with subscribers to everything it publishes."""

    def __init__(self, ros, **params):
        params.setdefault('diagnostics_period', 0.2)
        params.setdefault('input_timeout', 1.0)
        self.ros = ros
        self.node = ros.add(FusionNode('fusion_node', **ros.kwargs(**params)))
        self.helper = helper = ros.node('features_source')
        self.labels, self.events, self.diags = [], [], []
        helper.create_subscription(ActivityLabel, 'activity', self.labels.append, RESULT_QOS)
        helper.create_subscription(
            ActivityEvent, 'activity_events', self.events.append, RESULT_QOS
        )
        from diagnostic_msgs.msg import DiagnosticArray

        helper.create_subscription(DiagnosticArray, '/diagnostics', self.diags.append, 10)
        self.pubs = {
            m: helper.create_publisher(FeatureVector, f'features/{m}', RESULT_QOS)
            for m in MODALITIES
        }
        wait_until(
            lambda: all(p.get_subscription_count() > 0 for p in self.pubs.values()),
            what='fusion subscriptions',
        )
        self.end = 100.0

    @property
    def runtime(self):
        return self.node.pipeline.runtime

    def send(self, count, ids=None, value=0.0):
        """``count`` windows of constant features; ``ids`` maps a modality to the model id it
        stamps (default: the node's own)."""
        for _ in range(count):
            self.end += 0.5
            for m in MODALITIES:
                msg = conv.feature_to_msg(
                    np.full(64, value, np.float32), m, 'x', self.end - 1, self.end,
                    self.end - 0.01, 10, 1.0,
                    model_id=(ids or {}).get(m, self.runtime.model_id),
                )
                self.pubs[m].publish(msg)
            time.sleep(0.02)

    def status(self, task):
        for arr in reversed(self.diags):
            for st in arr.status:
                if st.name.endswith(task):
                    return level_of(st), st.message, {kv.key: kv.value for kv in st.values}
        return None

    def call(self, request, timeout=60.0):
        client = self.helper.create_client(LoadModel, 'fusion_node/load_model')
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(request)
        wait_until(future.done, timeout=timeout, what='the load_model response')
        return future.result()


def test_labels_and_latched_model_info_carry_the_model_id(ros, default_checkpoint):
    graph = Graph(ros)
    model_id = default_checkpoint.model_id
    assert graph.runtime.model_id == model_id and len(model_id) == 12
    graph.send(4)
    wait_until(lambda: len(graph.labels) >= 4, what='labels')
    label = graph.labels[-1]
    assert label.model_id == model_id
    end = conv.stamp_to_sec(label.window_end)
    assert end == conv.stamp_to_sec(label.header.stamp)
    assert end - conv.stamp_to_sec(label.window_start) == pytest.approx(
        default_checkpoint.window.length
    )
    # A subscriber that joins after the fact still gets the model's description.
    infos = []
    late = ros.node('late_joiner')
    late.create_subscription(ModelInfo, 'fusion_node/model_info', infos.append, LATCHED_QOS)
    wait_until(lambda: infos, what='the latched model info')
    info = infos[-1]
    assert info.model_id == model_id
    assert list(info.class_names) == default_checkpoint.classes
    assert list(info.input_names) == default_checkpoint.modalities
    assert info.window_hop == pytest.approx(default_checkpoint.window.hop)


def test_features_of_another_model_are_dropped_reported_and_the_rest_goes_on(ros):
    graph = Graph(ros)
    own = graph.runtime.model_id
    graph.send(3)
    wait_until(lambda: len(graph.labels) >= 3, what='labels of the whole graph')
    # The imu encoder restarted on another checkpoint: its features say so.
    before = len(graph.labels)
    graph.send(8, ids={'imu': 'feedfacecafe'})
    wait_until(lambda: len(graph.labels) >= before + 4, what='labels without the imu')
    assert all(lab.model_id == own for lab in graph.labels)
    assert 'imu' not in graph.labels[-1].modalities_used
    assert graph.runtime.drops['imu'].snapshot()['foreign_model'] == 8
    wait_until(
        lambda: graph.status('features/imu topic status') is not None
        and 'feedfacecafe' in graph.status('features/imu topic status')[1],
        what='diagnostics naming the foreign model',
    )
    level, text, values = graph.status('features/imu topic status')
    assert level == 1 and own in text, text
    assert values['Foreign model id'] == 'feedfacecafe'
    assert graph.status(': fusion')[2]['Model id'] == own
    # An old encoder sends no id: its features are fused, and counted.
    graph.send(2, ids={'audio': ''})
    wait_until(lambda: graph.runtime.without_model_id['audio'] == 2, what='the count')


def test_unknown_below_the_threshold_and_its_parameter(ros):
    graph = Graph(ros)
    node = graph.node
    graph.send(2)
    wait_until(lambda: len(graph.labels) >= 2, what='labels')
    assert graph.labels[-1].class_id >= 0
    assert node.set_parameters([Parameter('unknown_threshold', value=1.0)])[0].successful
    n = len(graph.labels)
    graph.send(2)
    wait_until(lambda: len(graph.labels) >= n + 2, what='unknown labels')
    label = graph.labels[-1]
    assert (label.label, label.class_id) == ('unknown', -1)
    assert len(label.probabilities) == len(label.class_names)
    assert label.confidence == pytest.approx(max(label.probabilities))
    for bad in (1.5, -0.5, float('nan')):
        result = node.set_parameters([Parameter('unknown_threshold', value=bad)])[0]
        assert not result.successful and 'unknown_threshold' in result.reason
    assert graph.runtime.unknown_threshold == 1.0
    assert graph.runtime.fusion_drops.snapshot()['refused_parameter'] == 3


def test_a_held_label_becomes_an_event_that_ends_when_labels_stop(ros):
    graph = Graph(ros, event_min_duration=1.0, event_max_gap=1.0, event_enter_confidence=0.0)
    graph.send(5)
    wait_until(lambda: graph.events, what='an event')
    started = graph.events[0]
    assert started.state == ActivityEvent.STARTED
    assert started.label == graph.labels[0].label and started.model_id == graph.runtime.model_id
    # Retroactive: it starts with the first window of its run (ending 100.5, 1 s long), not
    # when it was decided.
    assert conv.stamp_to_sec(started.start) == pytest.approx(99.5)
    assert conv.stamp_to_sec(started.header.stamp) > conv.stamp_to_sec(started.start) + 1.0
    # No more labels: the node's clock runs on past event_max_gap and the event ends.
    graph.end = time.time()
    wait_until(
        lambda: any(e.state == ActivityEvent.ENDED for e in graph.events),
        timeout=10.0,
        what='the event to end',
    )


def test_swaps_that_cannot_work_are_refused_and_labels_go_on(ros, tmp_path):
    graph = Graph(ros)
    own = graph.runtime.model_id
    corrupt = tmp_path / 'corrupt.pt'
    corrupt.write_bytes(b'not a checkpoint')
    other_inputs = Checkpoint.load()
    other_inputs.fusion['config'] = dict(other_inputs.fusion['config'])
    other_inputs.fusion['config']['modalities'] = ['camera', 'imu', 'microphone']
    other_inputs.encoders['microphone'] = other_inputs.encoders.pop('audio')
    other_inputs.save(tmp_path / 'other_inputs.pt')
    truncated = tmp_path / 'truncated.pt'
    whole = Checkpoint.load().path.read_bytes()
    truncated.write_bytes(whole[: len(whole) // 2])
    cases = {
        str(tmp_path / 'missing.pt'): 'no such file',
        str(corrupt): 'cannot be read',
        str(truncated): 'cannot be read',
        str(tmp_path / 'other_inputs.pt'): 'restart the graph to change inputs',
    }
    for path, why in cases.items():
        response = graph.call(LoadModel.Request(action=LoadModel.Request.SWAP, checkpoint=path))
        assert not response.success and why in response.message, response.message
        assert response.model_id == own and 'untouched' in response.message
        n = len(graph.labels)
        graph.send(2)
        wait_until(lambda: len(graph.labels) >= n + 2, what='labels after the refusal')
        assert graph.labels[-1].model_id == own
    # No encoder publishes the features here (a test publisher does): nothing to swap with.
    response = graph.call(LoadModel.Request(action=LoadModel.Request.SWAP, checkpoint=''))
    assert not response.success and 'load_model service' in response.message, response.message
    assert graph.runtime.model_id == own


def test_the_debug_image_draws_the_label_on_the_newest_frame(ros):
    from sensor_msgs.msg import Image

    from hybrid_fusion_ros.ros.qos import SENSOR_QOS

    graph = Graph(ros, debug_image=True)
    images = []
    graph.helper.create_subscription(Image, 'fusion_node/debug_image', images.append, RESULT_QOS)
    camera = graph.helper.create_publisher(Image, 'camera/image_raw', SENSOR_QOS)
    red = np.zeros((96, 128, 3), np.uint8)
    red[..., 0] = 255  # rgb8
    wait_until(lambda: camera.get_subscription_count() > 0, what='the camera subscription')
    camera.publish(conv.rgb_to_image(red, conv.sec_to_stamp(100.0)))
    time.sleep(0.2)
    graph.send(3)
    wait_until(lambda: images, what='a debug image')
    image = images[-1]
    assert (image.encoding, image.height, image.width) == ('bgr8', 480, 640)
    pixels = np.frombuffer(bytes(image.data), np.uint8).reshape(480, 640, 3)
    # The frame (red, letterboxed) fills the lower right, away from the label panel.
    assert (pixels[400, 600] == (0, 0, 255)).all(), pixels[400, 600]
    assert graph.node.pipeline.debug_image.published >= 1


def test_a_half_updated_graph_keeps_labelling_says_why_and_heals_on_commit(ros, tmp_path):
    """The imu encoder restarted on a second checkpoint with the same inputs: the fusion node
    drops its features, labels on with camera and audio and names both models; told through
    the encoder's own ~/load_model to go back (prepare, commit at a window), it rejoins."""
    from sensor_msgs.msg import Imu

    from hybrid_fusion_ros.nodes.encoder_node import EncoderNode
    from hybrid_fusion_ros.ros.qos import sensor_qos

    second = Checkpoint.load()
    state = second.encoders['imu']['state_dict']
    name = next(k for k, v in state.items() if v.dtype.is_floating_point)
    state[name] = state[name] * 1.01
    second_path = second.save(tmp_path / 'second.pt')
    second_id = Checkpoint.load(second_path).model_id
    graph = Graph(ros)
    own = graph.runtime.model_id
    assert second_id != own
    encoder = ros.add(
        EncoderNode(
            'imu_encoder',
            **ros.kwargs(checkpoint=str(second_path), input_queue_depth=1000),
        )
    )
    assert encoder.runtime.model_id == second_id
    imu_pub = graph.helper.create_publisher(Imu, 'imu/data', sensor_qos(1000))
    wait_until(lambda: imu_pub.get_subscription_count() > 0, what='the imu subscription')
    graph.pubs['imu'] = graph.helper.create_publisher(FeatureVector, 'unused/imu', RESULT_QOS)

    def feed(seconds):
        """IMU at 100 Hz from the graph's current time on, then the other inputs' features."""
        start = graph.end
        stamps = start + np.arange(0, seconds, 0.01)
        for t in stamps:
            imu_pub.publish(conv.row_to_imu([0, 0, 9.8, 0, 0, 0], conv.sec_to_stamp(t)))
            time.sleep(0.0005)
        graph.send(int(seconds / 0.5), ids={'imu': 'unused'})

    feed(4.0)
    wait_until(lambda: graph.runtime.drops['imu'].snapshot().get('foreign_model', 0) >= 3,
               what='foreign imu features')
    wait_until(lambda: len(graph.labels) >= 4, what='labels without the imu')
    assert 'imu' not in graph.labels[-1].modalities_used
    wait_until(
        lambda: (graph.status('features/imu topic status') or (0, ''))[1].startswith(
            f'features of model {second_id}'
        ),
        what='the imu status naming the other model',
    )
    # Back to this graph's model, from a window boundary on.
    client = graph.helper.create_client(LoadModel, 'imu_encoder/load_model')
    assert client.wait_for_service(timeout_sec=10.0)

    def call(**fields):
        future = client.call_async(LoadModel.Request(**fields))
        wait_until(future.done, what='the encoder load_model response')
        return future.result()

    prepared = call(action=LoadModel.Request.PREPARE, checkpoint='')
    assert prepared.success and prepared.model_id == own, prepared.message
    switch = graph.end + 1.0
    committed = call(action=LoadModel.Request.COMMIT, switch_at=conv.sec_to_stamp(switch))
    assert committed.success, committed.message
    feed(4.0)
    wait_until(lambda: 'imu' in graph.labels[-1].modalities_used, what='the imu to rejoin')
    assert encoder.runtime.model_id == own
    refused = call(action=LoadModel.Request.SWAP, checkpoint='')
    assert not refused.success and "fusion node's ~/load_model" in refused.message


def test_the_swap_command_says_why_a_swap_is_refused(ros, tmp_path, capsys):
    from hybrid_fusion_ros.cli import main

    graph = Graph(ros)
    node = f'{ros.namespace}/fusion_node'
    assert main(['swap', str(tmp_path / 'nothing.pt'), '--node', node]) == 2
    assert 'no such file' in capsys.readouterr().out
    # The real service answers: no encoder publishes these features, so nothing may change.
    assert main(['swap', 'default', '--node', node]) == 1
    out = capsys.readouterr().out
    assert 'refused, the running model is untouched' in out and 'load_model service' in out
    assert main(['swap', 'default', '--node', '/nobody', '--service-timeout', '0.5']) == 1
    assert 'is the graph running?' in capsys.readouterr().out
    assert graph.runtime.model_id == Checkpoint.load().model_id
