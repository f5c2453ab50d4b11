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

"""Single-process mode (graph_container): every node of the graph in one process, each with
its own parameters from the same YAML, publishing real topics another process receives; a
bad node configuration stops it with one line; SIGINT and SIGTERM stop it cleanly. And the
sensor-transport profile: which file the launch loads, and VGA frames from another process
reaching a best-effort subscriber through it."""

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from conftest import wait_until
import pytest

from hybrid_fusion_ros.ros.graph import CLASSIFIER_GRAPH
from hybrid_fusion_ros.ros.graph import default_config_path
from hybrid_fusion_ros.ros.launcher import CONTAINER
from hybrid_fusion_ros.ros.launcher import GraphProcess

NAMES = [spec.name for spec in CLASSIFIER_GRAPH]
SENSORS = ('/camera/image_raw', '/imu/data', '/audio/chunk')


def _get_parameters(node, target: str, names):
    """Parameter values of node ``target`` (in another process) through its service."""
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    client = node.create_client(GetParameters, f'/{target}/get_parameters')
    try:
        assert client.wait_for_service(timeout_sec=30.0), f'{target} offers no get_parameters'
        future = client.call_async(GetParameters.Request(names=list(names)))
        wait_until(future.done, timeout=30.0, what=f'parameters of {target}')
        return dict(zip(names, (parameter_value_to_python(v) for v in future.result().values)))
    finally:
        node.destroy_client(client)


@pytest.mark.slow
def test_one_process_runs_the_graph_with_each_nodes_parameters(ros, demo_bag):
    from hybrid_fusion_msgs.msg import FeatureVector

    from hybrid_fusion_ros.core.windows import WindowSpec
    from hybrid_fusion_tools.evaluation.evaluator import LabelEvaluator
    from hybrid_fusion_ros.ros.qos import RESULT_QOS
    from hybrid_fusion_tools.bags.replay import BagReplayer

    node = ros.node('observer')
    features = dict.fromkeys(('camera', 'imu', 'audio'), 0)

    def count(msg):
        features[msg.modality] += 1

    for m in features:
        node.create_subscription(FeatureVector, f'/features/{m}', count, RESULT_QOS)
    graph = GraphProcess(
        default_config_path(),
        quiet=True,
        single_process=True,
        node_overrides={
            'camera_encoder': {'input_queue_depth': '7'},
            'fusion_node': {'slop': '0.04'},
        },
    )
    replayer = BagReplayer(node, demo_bag, rate=1.0, restamp=True)
    evaluator = LabelEvaluator(node, '/activity', '/activity_ground_truth')
    with graph:
        assert list(graph.processes) == [CONTAINER]  # one process for the whole graph
        graph.wait_for(lambda: set(NAMES) <= set(node.get_node_names()), 120.0, 'the nodes')
        # The same parameters as one process per node: the YAML's block of each node, the
        # overrides of one node only, and each encoder's own input.
        camera = _get_parameters(node, 'camera_encoder', ['input', 'input_queue_depth', 'encoder'])
        assert camera == {'input': 'camera', 'input_queue_depth': 7, 'encoder': 'camera_cnn'}
        imu = _get_parameters(node, 'imu_encoder', ['input', 'input_queue_depth', 'encoder'])
        assert imu == {'input': 'imu', 'input_queue_depth': 50, 'encoder': 'imu_cnn1d'}
        fusion = _get_parameters(node, 'fusion_node', ['slop', 'fusion_mode'])
        assert fusion == {'slop': 0.04, 'fusion_mode': 'early'}
        graph.wait_for(
            lambda: all(replayer.publisher_for(t).get_subscription_count() > 0 for t in SENSORS),
            60.0,
            'encoder subscriptions',
        )
        replayer.run()
        expected = 37  # grid windows fully inside the 20 s recording
        windows = lambda: len({round(r.stamp, 3) for r in evaluator.labels})  # noqa: E731
        graph.wait_for(lambda: windows() >= int(0.9 * expected), 20.0, 'labels for 90% of windows')
        assert not graph.exited()
    replayer.close()
    start = (replayer.start_ns + replayer.shift_ns) / 1e9
    summary = evaluator.summary(WindowSpec(), start, (replayer.end_ns + replayer.shift_ns) / 1e9)
    assert summary['coverage'] >= 0.9, summary
    assert summary['accuracy'] >= 0.7, summary  # chance is 1/6
    # Features are real topics too: this process received every encoder's.
    assert all(n >= int(0.9 * expected) for n in features.values()), features


def test_a_bad_node_configuration_stops_the_container_with_one_line(tmp_path):
    import yaml

    config = yaml.safe_load(default_config_path().read_text())
    config['/**/camera_encoder']['ros__parameters']['encoder'] = 'nope'
    bad = tmp_path / 'bad.yaml'
    bad.write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'hybrid_fusion_ros.nodes.container',
            '--ros-args',
            '--params-file',
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    lines = [line for line in out.splitlines() if 'cannot start' in line]
    assert len(lines) == 1, out
    assert 'camera_encoder' in lines[0] and "unknown encoder 'nope'" in lines[0], lines[0]
    assert 'Traceback' not in out


def test_an_unknown_node_name_is_refused_with_the_names_it_takes():
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'hybrid_fusion_ros.nodes.container',
            '--nodes',
            'camera_encoder,fusion',
            '--ros-args',
            '--params-file',
            str(default_config_path()),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "cannot start: 'fusion' is not a node of the classifier graph" in out, out


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_stop_the_container_cleanly(ros, sig):
    node = ros.node('watcher')
    proc = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'hybrid_fusion_ros.nodes.container',
            '--nodes',
            'imu_encoder,fusion_node',
            '--ros-args',
            '--params-file',
            str(default_config_path()),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: {'imu_encoder', 'fusion_node'} <= set(node.get_node_names())
            or proc.poll() is not None,
            timeout=120,
            what='the container',
        )
        assert proc.poll() is None, proc.stdout.read()
        proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert 'Traceback' not in out, out


# --- the sensor-transport profile --------------------------------------------------------------


@pytest.mark.parametrize(
    'env, variable, name',
    [
        ({'ROS_DISTRO': 'humble'}, 'FASTRTPS_DEFAULT_PROFILES_FILE', 'fastdds2_sensors.xml'),
        ({'ROS_DISTRO': 'jazzy'}, 'FASTRTPS_DEFAULT_PROFILES_FILE', 'fastdds2_sensors.xml'),
        ({'ROS_DISTRO': 'kilted'}, 'FASTDDS_DEFAULT_PROFILES_FILE', 'fastdds_sensors.xml'),
        (
            {'ROS_DISTRO': 'jazzy', 'RMW_IMPLEMENTATION': 'rmw_fastrtps_cpp'},
            'FASTRTPS_DEFAULT_PROFILES_FILE',
            'fastdds2_sensors.xml',
        ),
    ],
)
def test_the_launch_loads_the_profile_of_the_distros_fast_dds(env, variable, name):
    from hybrid_fusion_ros.ros.qos import sensor_profile_env

    added = sensor_profile_env(env)
    assert list(added) == [variable]
    assert Path(added[variable]).name == name and Path(added[variable]).is_file()


@pytest.mark.parametrize(
    'env',
    [
        {'ROS_DISTRO': 'jazzy', 'FASTRTPS_DEFAULT_PROFILES_FILE': '/mine.xml'},
        {'ROS_DISTRO': 'kilted', 'FASTDDS_DEFAULT_PROFILES_FILE': '/mine.xml'},
        {'ROS_DISTRO': 'kilted', 'FASTRTPS_DEFAULT_PROFILES_FILE': '/mine.xml'},
        {'ROS_DISTRO': 'jazzy', 'RMW_IMPLEMENTATION': 'rmw_cyclonedds_cpp'},
    ],
)
def test_a_users_profile_or_another_rmw_is_left_alone(env):
    from hybrid_fusion_ros.ros.qos import sensor_profile_env

    assert sensor_profile_env(env) == {}


def test_both_profiles_have_the_same_transports():
    import xml.etree.ElementTree as ET

    folder = default_config_path().parent
    local = lambda el: el.tag.split('}')[-1]  # noqa: E731
    trees = [
        ET.parse(folder / n).getroot() for n in ('fastdds_sensors.xml', 'fastdds2_sensors.xml')
    ]
    shapes = [[(local(el), (el.text or '').strip()) for el in t.iter()] for t in trees]
    assert shapes[0] == shapes[1]
    values = dict(shapes[0])
    assert values['type'] == 'UDPv4' and values['useBuiltinTransports'] == 'false'
    assert int(values['segment_size']) >= 10 * 1280 * 720 * 3  # ten 720p rgb8 frames


def test_vga_frames_from_another_process_reach_a_best_effort_subscriber(ros):
    """What the camera encoder subscribes with (SensorDataQoS), fed by a driver process that
    loads the package's profile. Without it, this machine's Fast DDS delivered 0 of 90."""
    from sensor_msgs.msg import Image

    from hybrid_fusion_ros.ros.qos import sensor_qos

    node = ros.node('camera_counter')
    frames = []
    node.create_subscription(
        Image, '/bench_camera/image_raw', lambda m: frames.append(m.width), sensor_qos(5)
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
    }
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'hybrid_fusion_tools.bench.latency',
            'camera',
            '--size',
            '640x480',
            '--seconds',
            '2',
            '--topic',
            '/bench_camera/image_raw',
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'XMLPARSER' not in proc.stderr, proc.stderr  # the profile loaded
    deadline = time.monotonic() + 5.0
    while len(frames) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(frames) >= 54, f'{len(frames)} of 60 VGA frames arrived'
    assert set(frames) == {640}
