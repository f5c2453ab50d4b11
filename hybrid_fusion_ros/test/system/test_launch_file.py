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

"""launch/classifier.launch.py under the real ROS 2 launch system: run by launch.LaunchService,
the service `ros2 launch` runs, with the packaged checkpoint, with ``single_process:=true``, and
with a checkpoint whose inputs have names of their own. Each graph labels a replayed simulated
bag, and stopping it as Ctrl-C in a terminal does (SIGINT to launch's process group) ends every
node process.

launch and launch_ros are not on PyPI: scripts/ros-launch.sh installs them from
../shared/ros-launch. Without that folder (and without a ROS 2 whose launch_ros imports) the
tests are skipped."""

import contextlib
import importlib.util
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import time
from typing import Optional, Set

from conftest import wait_until
import pytest

from hybrid_fusion_ros.ros.graph import default_config_path
from hybrid_fusion_ros.ros.graph import FUSION_NODE
from hybrid_fusion_ros.ros.graph import load_config
from hybrid_fusion_ros.ros.graph import node_parameters

PACKAGE = Path(__file__).resolve().parents[2]
LAUNCH_FILE = PACKAGE / 'launch' / 'classifier.launch.py'
ROS_LAUNCH = Path(os.environ.get('HF_ROS_LAUNCH_DIR', PACKAGE.parent.parent / 'shared/ros-launch'))
# The packaged checkpoint's inputs renamed as a robot's own sensors would be.
NAMED = {'camera': 'head_camera', 'imu': 'wrist_imu', 'audio': 'chest_mic'}
STOP_BOUND = 10.0  # s; generous: the time is printed, the bound only catches a hang

# What `ros2 launch FILE a:=b` runs, without ros2cli (the recipe of ../shared/ros-launch's README).
RUN_LAUNCH = """
import sys
from launch import LaunchDescription, LaunchService
from launch.actions import IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource

arguments = sys.argv[2:]
service = LaunchService(argv=arguments)
service.include_launch_description(LaunchDescription([IncludeLaunchDescription(
    PythonLaunchDescriptionSource(sys.argv[1]),
    launch_arguments=[a.split(':=', 1) for a in arguments if ':=' in a])]))
sys.exit(service.run())
"""


def _no_launch_system() -> Optional[str]:
    """Why these tests cannot run here, or None."""
    if importlib.util.find_spec('launch_ros') is not None or ROS_LAUNCH.is_dir():
        return None
    return (
        'needs the ROS 2 launch system (launch, launch_ros): not importable, and no '
        f'{ROS_LAUNCH} to install it from with scripts/ros-launch.sh'
    )


NO_LAUNCH_SYSTEM = _no_launch_system()
pytestmark = pytest.mark.skipif(NO_LAUNCH_SYSTEM is not None, reason=NO_LAUNCH_SYSTEM or '')


@pytest.fixture(scope='module')
def launch_system() -> None:
    try:
        from launch import LaunchService  # noqa: F401
        import launch_ros.actions  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f'{ROS_LAUNCH} is there but the launch system does not import ({exc}): run '
            'scripts/ros-launch.sh (after scripts/setup.sh)',
            pytrace=False,
        )


@pytest.fixture(scope='module')
def named_checkpoint(default_checkpoint, tmp_path_factory) -> Path:
    """The packaged checkpoint with its inputs renamed (NAMED), as if trained on the demo bag's
    topics. The weights stay: the fusion models take their inputs by position."""
    from hybrid_fusion_ros.core.checkpoint import Checkpoint

    ckpt = default_checkpoint
    encoders = {
        NAMED[spec.name]: {
            **ckpt.encoders[spec.name],
            'type': spec.sensor_type,
            'topic': '/' + spec.graph_topic(),
        }
        for spec in ckpt.inputs
    }

    def renamed(fusion):
        modalities = [NAMED[m] for m in fusion['config']['modalities']]
        return {**fusion, 'config': {**fusion['config'], 'modalities': modalities}}

    named = Checkpoint(
        classes=list(ckpt.classes),
        window=ckpt.window,
        encoders=encoders,
        fusion=renamed(ckpt.fusion),
        metadata={**ckpt.metadata, 'note': 'packaged checkpoint, inputs renamed'},
        extra_fusion={s: renamed(f) for s, f in ckpt.extra_fusion.items()},
        runtime=dict(ckpt.runtime),
    )
    path = named.save(tmp_path_factory.mktemp('named') / 'named.pt')
    assert [i.name for i in Checkpoint.load(path).inputs] == list(NAMED.values())
    return path


def _process_group(pgid: int) -> Set[int]:
    """Live (not zombie) processes of group ``pgid``."""
    members = set()
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:  # ended while listed
            continue
        if fields[0] != 'Z' and int(fields[2]) == pgid:
            members.add(int(entry))
    return members


@pytest.mark.parametrize(
    'way',
    [
        'packaged',
        'single_process',
        'named_inputs',
        # inference_backend:=onnxruntime reaches every node; the first use exports the bundle.
        pytest.param('onnxruntime', marks=pytest.mark.slow),
    ],
)
def test_the_launch_file_labels_and_stops_on_ctrl_c(
    ros, demo_bag, launch_system, request, tmp_path, way
):
    from hybrid_fusion_msgs.msg import ActivityLabel

    from hybrid_fusion_ros.core.checkpoint import Checkpoint
    from hybrid_fusion_ros.ros.qos import RESULT_QOS
    from hybrid_fusion_tools.bags.replay import BagReplayer
    from hybrid_fusion_tools.data.plan import plan_bag

    checkpoint = request.getfixturevalue('named_checkpoint') if way == 'named_inputs' else None
    arguments = {
        'packaged': [],
        'single_process': ['single_process:=true'],
        'named_inputs': [f'checkpoint:={checkpoint}'],
        'onnxruntime': ['single_process:=true', 'inference_backend:=onnxruntime'],
    }[way]
    model = Checkpoint.load(checkpoint)  # None: the packaged one
    inputs = model.inputs
    nodes = {i.node_name for i in inputs} | {FUSION_NODE}
    if way == 'named_inputs':
        assert nodes == {f'{n}_encoder' for n in NAMED.values()} | {FUSION_NODE}
    processes = 1 if way in ('single_process', 'onnxruntime') else len(nodes)

    node = ros.node('launch_observer')
    labels = []
    label_topic = node_parameters(load_config(default_config_path()), FUSION_NODE)['label_topic']
    node.create_subscription(ActivityLabel, f'/{label_topic}', labels.append, RESULT_QOS)
    # The demo bag's sensor topics onto the graph's topics of the checkpoint's inputs, as eval
    # maps a bag.
    topic_map = plan_bag(demo_bag, inputs).plan.topic_map
    replayer = BagReplayer(
        node, demo_bag, rate=1.0, restamp=True, topic_map=topic_map, topics=set(topic_map)
    )

    log_path = tmp_path / 'launch.log'
    env = dict(os.environ, ROS_LOG_DIR=str(tmp_path / 'ros_log'))
    with log_path.open('w') as log:
        # A session of its own: the process group a terminal's Ctrl-C reaches.
        proc = subprocess.Popen(
            [sys.executable, '-c', RUN_LAUNCH, str(LAUNCH_FILE), *arguments],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    output = lambda: log_path.read_text()[-4000:]  # noqa: E731 - what a failure shows
    try:
        wait_until(
            lambda: nodes <= set(node.get_node_names()) or proc.poll() is not None,
            timeout=120,
            what=f'the nodes {sorted(nodes)}',
        )
        assert proc.poll() is None, output()
        wait_until(
            lambda: all(replayer.publisher_for(t).get_subscription_count() for t in topic_map),
            timeout=60,
            what='encoder subscriptions',
        )
        replayer.start()
        wait_until(
            lambda: labels or proc.poll() is not None, timeout=30, what=f'a label on {label_topic}'
        )
        assert labels, output()
        assert labels[0].label in model.classes
        assert len(_process_group(proc.pid) - {proc.pid}) == processes, output()

        start = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        wait_until(
            lambda: proc.poll() is not None and not _process_group(proc.pid),
            timeout=30,
            what='launch and every node process to end',
        )
        took = time.monotonic() - start
    finally:
        replayer.close()
        if _process_group(proc.pid):  # a failed check above: leave nothing running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    print(f'{way}: {len(labels)} label(s); Ctrl-C stopped launch and its nodes in {took:.2f} s')
    assert took < STOP_BOUND, output()
    assert proc.returncode == 0, output()
    assert log_path.read_text().count('process has finished cleanly') == processes, output()
    backends = re.findall(r'(torch|onnxruntime) backend', log_path.read_text())
    assert backends and set(backends) == {'onnxruntime' if way == 'onnxruntime' else 'torch'}
    assert 'torch imported: yes' not in log_path.read_text(), output()
