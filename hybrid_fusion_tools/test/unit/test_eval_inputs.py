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

"""Ground truth files and streams, topic planning and report scoring, without a graph."""

import json
import math
import re

import pytest

from hybrid_fusion_ros.core.inputs import ModelInput
from hybrid_fusion_tools.bags.bag import BagError
from hybrid_fusion_tools.data.plan import inputs_from_map
from hybrid_fusion_tools.data.plan import plan_inputs
from hybrid_fusion_tools.data.truth import GroundTruth
from hybrid_fusion_tools.data.truth import GroundTruthError
from hybrid_fusion_tools.data.truth import Interval
from hybrid_fusion_tools.data.truth import write_sidecar
from hybrid_fusion_tools.evaluation.report import score
from hybrid_fusion_tools.evaluation.report import WindowOutcome
from hybrid_fusion_tools.evaluation.report import write_report

START = 1_700_000_000.0
TOPICS = {
    '/cam': ('sensor_msgs/msg/CompressedImage', 30),
    '/imu/data': ('sensor_msgs/msg/Imu', 400),
    '/mic': ('hybrid_fusion_msgs/msg/AudioChunk', 40),
    '/labels': ('std_msgs/msg/String', 4),
    '/tf': ('tf2_msgs/msg/TFMessage', 10),
}
DEFAULT = [ModelInput('camera', 'camera'), ModelInput('imu', 'imu'), ModelInput('audio', 'audio')]
IMU_ONLY = [ModelInput('imu', 'imu')]


def test_sidecar_csv_and_json_relative_and_absolute_times(tmp_path):
    csv_file = tmp_path / 'gt.csv'
    csv_file.write_text('start,end,label\n0,2.5,walking\n2.5,4,running\n')
    truth = GroundTruth.from_file(csv_file, START)
    assert truth.at(START + 1.0) == 'walking' and truth.at(START + 2.5) == 'running'
    assert truth.at(START + 4.0) is None and truth.at(START - 0.1) is None
    json_file = tmp_path / 'gt.json'
    json_file.write_text(json.dumps([{'start': START + 1, 'end': START + 2, 'label': 'idle'}]))
    assert GroundTruth.from_file(json_file, 0.0).at(START + 1.5) == 'idle'  # absolute stamps kept
    again = GroundTruth.from_file(write_sidecar(truth, tmp_path / 'round.json', START), START)
    assert again.intervals == truth.intervals


@pytest.mark.parametrize(
    'text, message',
    [
        ('start,end,label\n0,1,a\n0.5,2,b\n', 'intervals overlap'),
        ('start,end,label\n2,1,a\n', 'empty or unlabelled'),
        ('begin,finish,what\n0,1,a\n', 'needs numeric start and end'),
        ('start,end,label\n', 'no intervals'),
    ],
)
def test_bad_sidecar_files_name_the_problem(tmp_path, text, message):
    path = tmp_path / 'gt.csv'
    path.write_text(text)
    with pytest.raises(GroundTruthError, match=message):
        GroundTruth.from_file(path, START)


def test_label_stream_becomes_intervals():
    truth = GroundTruth.from_samples([0.0, 0.1, 0.2, 0.3], ['a', 'a', 'b', 'b'], 'topic')
    assert truth.intervals == [Interval(0.0, 0.2, 'a'), Interval(0.2, pytest.approx(0.4), 'b')]
    assert truth.at(0.39) == 'b' and truth.at(0.41) is None


def test_plan_uses_maps_types_and_the_default_names():
    plan = plan_inputs(
        TOPICS, DEFAULT, {'/cam': 'camera', '/mic': '/audio/chunk', '/labels': 'ground_truth'}
    )
    assert plan.inputs['camera'] == (
        '/cam',
        'sensor_msgs/msg/CompressedImage',
        '/camera/image_raw/compressed',
    )
    assert plan.inputs['imu'] == (
        '/imu/data',
        'sensor_msgs/msg/Imu',
        '/imu/data',
    )  # found by its name
    assert plan.inputs['audio'][0] == '/mic'
    assert (plan.truth_topic, plan.truth_type) == ('/labels', 'std_msgs/msg/String')


def test_plan_errors_list_topics_and_fitting_maps():
    with pytest.raises(BagError) as err:
        plan_inputs(TOPICS, DEFAULT, {}, 'run7')
    text = str(err.value)
    assert 'run7 lacks the input(s) camera, audio' in text
    assert re.search(r'/tf +tf2_msgs/msg/TFMessage  \(10 messages\)', text)
    assert '--map /cam:=camera' in text and '--map /mic:=audio' in text
    with pytest.raises(BagError, match="'lidar' is not an input of the model"):
        plan_inputs(TOPICS, IMU_ONLY, {'/tf': 'lidar'})
    with pytest.raises(BagError, match='imu is mapped twice'):
        plan_inputs(TOPICS, IMU_ONLY, {'/tf': 'imu', '/imu/data': 'imu'})
    with pytest.raises(BagError, match='ground truth /tf is tf2_msgs/msg/TFMessage'):
        plan_inputs(TOPICS, IMU_ONLY, {'/tf': 'ground_truth'})


ROBOT = {
    '/robot/front/depth': ('sensor_msgs/msg/Image', 300),
    '/robot/wrist': ('sensor_msgs/msg/Imu', 3000),
    '/robot/thigh': ('sensor_msgs/msg/Imu', 3000),
    '/robot/gps': ('sensor_msgs/msg/NavSatFix', 30),
}


def test_named_inputs_are_declared_by_maps_and_found_again_by_their_training_topic():
    inputs = inputs_from_map(
        ROBOT,
        {
            '/robot/front/depth': 'front_depth',
            '/robot/wrist': 'wrist_imu:imu',
            '/robot/thigh': 'thigh_imu',
        },
    )
    assert [(i.name, i.sensor_type, i.encoder, i.topic) for i in inputs] == [
        ('front_depth', 'camera', 'camera_cnn', '/robot/front/depth'),
        ('wrist_imu', 'imu', 'imu_cnn1d', '/robot/wrist'),
        ('thigh_imu', 'imu', 'imu_cnn1d', '/robot/thigh'),
    ]
    plan = plan_inputs(ROBOT, inputs)  # unmapped: each input's training topic
    assert plan.inputs['thigh_imu'] == ('/robot/thigh', 'sensor_msgs/msg/Imu', '/thigh_imu/data')
    assert plan.inputs['front_depth'][2] == '/front_depth/image_raw'
    with pytest.raises(BagError, match="input 'wrist_imu' is of sensor type imu, not camera"):
        plan_inputs(ROBOT, inputs, {'/robot/wrist': 'wrist_imu:camera'})
    with pytest.raises(BagError, match='NavSatFix, which no sensor type reads'):
        inputs_from_map(ROBOT, {'/robot/gps': 'gps'})
    with pytest.raises(BagError, match='not usable as a ROS name'):
        inputs_from_map(ROBOT, {'/robot/wrist': 'wrist-imu'})
    with pytest.raises(
        BagError, match=r"input 'front_depth' \(camera\) reads sensor_msgs/msg/Image"
    ):
        plan_inputs({**ROBOT, '/robot/front/depth': ('sensor_msgs/msg/Imu', 3)}, inputs)
    with pytest.raises(BagError, match='lacks the input.* thigh_imu'):
        plan_inputs({k: v for k, v in ROBOT.items() if k != '/robot/thigh'}, inputs)


def test_scoring_counts_coverage_and_keeps_unknown_truth_apart(tmp_path):
    outcomes = [
        WindowOutcome(1.0, 'a', 'a', 0.9, 10.0),
        WindowOutcome(1.5, 'a', 'b', 0.6, 20.0),
        WindowOutcome(2.0, 'b', None),
        WindowOutcome(2.5, 'zebra', 'a', 0.8, 30.0),
        WindowOutcome(3.0, None, 'b', 0.7, 40.0),
    ]
    m = score(outcomes, ['a', 'b'])
    assert (m['windows'], m['labelled_windows'], m['scored_windows']) == (5, 4, 2)
    assert m['coverage'] == pytest.approx(0.8) and m['accuracy'] == pytest.approx(0.5)
    assert m['truth_not_a_model_class'] == ['zebra']
    assert m['latency_ms']['max'] == 40.0
    report = write_report(
        tmp_path, outcomes, ['a', 'b'], {'bag': 'x', 'fusion_mode': 'early'}, partial=True
    )
    assert report['partial'] and (tmp_path / 'confusion.png').exists()
    assert 'PARTIAL' in (tmp_path / 'report.md').read_text()
    nothing = score([WindowOutcome(1.0, None, None)], ['a'])
    assert nothing['accuracy'] is None and math.isnan(nothing['latency_ms']['p50'])
