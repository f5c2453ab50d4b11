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

"""`hybrid-fusion eval`: a bag through the real node graph to a report. Each run starts the
four node processes, so the bags are short; the formats, the topic map and the sidecar
ground truth must all give the same windows as the reference run."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

from conftest import wait_until
import pytest

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_tools.bags.bag import BagWriter
from hybrid_fusion_tools.bags.bag import open_reader
from hybrid_fusion_tools.bags.bag import read_messages
from hybrid_fusion_tools.data.demo_data import generate_bag
from hybrid_fusion_tools.data.demo_data import TOPICS
from hybrid_fusion_tools.data.plan import truth_from_bag
from hybrid_fusion_tools.data.truth import write_sidecar

SECONDS, SEED = 8.0, 5
RENAMED = {
    TOPICS['camera']: '/robot/front_cam/image',
    TOPICS['imu']: '/robot/imu',
    TOPICS['audio']: '/robot/mic',
}


def eval_cli(*args, timeout=240):
    return subprocess.run(
        [sys.executable, '-m', 'hybrid_fusion_ros.cli', 'eval', *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def windows(out_dir):
    """(end, truth, label, confidence) of every window the report lists."""
    with (out_dir / 'windows.csv').open() as f:
        return [
            (
                round(float(r['end']), 3),
                r['truth'],
                r['label'],
                round(float(r['confidence']), 3) if r['confidence'] != 'nan' else None,
            )
            for r in csv.DictReader(f)
        ]


@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    root = tmp_path_factory.mktemp('eval')
    bag = generate_bag(root / 'ref', SECONDS, SEED, storage='mcap')
    out = root / 'ref_report'
    proc = eval_cli(bag, '--out', out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return bag, out, proc


def test_eval_writes_a_complete_report(reference):
    bag, out, proc = reference
    for name in (
        'report.json',
        'report.md',
        'windows.csv',
        'confusion.png',
        'latency_cdf.png',
        'coverage.png',
        'timeline.png',
    ):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / 'report.json').read_text())
    m = report['metrics']
    assert report['partial'] is False
    assert m['windows'] == 13 and m['coverage'] >= 0.9
    assert m['accuracy'] >= 0.6 and 0 < m['latency_ms']['p50'] < 5000
    assert set(m['per_class']) == set(m['classes']) and len(m['confusion_matrix']) == 6
    assert 'SIMULATED' in report['meta']['data_note']
    assert report['meta']['ground_truth'] == 'topic /activity_ground_truth'
    # The graph's own activity events, scored against the truth intervals.
    events = m['events']
    assert events['scored'] and events['events'] >= 1
    assert events['overall']['truth'] >= 1 and events['overall']['precision'] is not None
    # Calibration: the published probabilities against the truth, and the chosen point.
    assert 0.0 <= m['calibration']['ece'] <= 1.0
    assert m['calibration']['chosen']['coverage'] == pytest.approx(1.0)  # no threshold packaged
    assert report['meta']['model_id'] == Checkpoint.load().model_id
    md = (out / 'report.md').read_text()
    assert '| label coverage |' in md and '| class | precision | recall | F1 | support |' in md
    assert 'report written to' in proc.stdout


@pytest.mark.parametrize('storage', ['sqlite3', 'ros1'])
def test_every_bag_format_gives_the_same_windows(reference, tmp_path, storage):
    _, ref_out, _ = reference
    name = 'bag.bag' if storage == 'ros1' else 'bag'
    bag = generate_bag(tmp_path / name, SECONDS, SEED, storage=storage)
    proc = eval_cli(bag, '--out', tmp_path / 'report')
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert windows(tmp_path / 'report') == windows(ref_out)
    got = json.loads((tmp_path / 'report' / 'report.json').read_text())['metrics']
    ref = json.loads((ref_out / 'report.json').read_text())['metrics']
    for key in ('windows', 'labelled_windows', 'accuracy', 'macro_f1', 'confusion_matrix'):
        assert got[key] == ref[key], key


def test_compare_runs_modes_on_one_bag_into_one_table(reference, tmp_path):
    bag = reference[0]
    out = tmp_path / 'cmp'
    proc = eval_cli(
        bag,
        '--compare',
        'fusion_mode:=early',
        'fusion_mode:=late,fusion_rate_hz:=5.0',
        '--out',
        out,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    table = (out / 'compare.md').read_text()
    assert '| fusion_mode=early |' in table and '| fusion_mode=late_fusion_rate_hz=5.0 |' in table
    runs = json.loads((out / 'compare.json').read_text())
    assert [r['meta']['fusion_mode'] for r in runs] == ['early', 'late']
    assert all(r['metrics']['coverage'] >= 0.9 for r in runs)
    assert windows(out / 'fusion_mode=early') == windows(reference[1])
    assert (out / 'latency_cdf.png').stat().st_size > 0


def renamed_bag_and_sidecar(src, tmp_path):
    """The reference bag under a robot's own topic names, without its ground-truth topic,
    plus that ground truth as a sidecar CSV."""
    reader = open_reader(src)
    start = reader.start_time * 1e-9
    truth = truth_from_bag(reader, TOPICS['ground_truth'], 'hybrid_fusion_msgs/msg/ActivityLabel')
    dst = tmp_path / 'robot_bag'
    with BagWriter(dst, 'mcap') as writer:
        for msg in read_messages(reader, list(RENAMED)):
            writer.write_cdr(RENAMED[msg.topic], msg.msgtype, msg.data, msg.log_time_ns)
    reader.close()
    return dst, write_sidecar(truth, tmp_path / 'labels.csv', start)


def test_topic_map_and_sidecar_truth_reproduce_the_reference(reference, tmp_path):
    src, ref_out, _ = reference
    bag, sidecar = renamed_bag_and_sidecar(src, tmp_path)
    maps = [
        a
        for t, m in (
            (RENAMED[TOPICS['camera']], 'camera'),
            (RENAMED[TOPICS['imu']], 'imu'),
            (RENAMED[TOPICS['audio']], 'audio'),
        )
        for a in ('--map', f'{t}:={m}')
    ]
    proc = eval_cli(bag, *maps, '--truth', sidecar, '--out', tmp_path / 'report')
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert windows(tmp_path / 'report') == windows(ref_out)
    report = json.loads((tmp_path / 'report' / 'report.json').read_text())
    assert report['meta']['ground_truth'] == f'sidecar file {sidecar}'


def test_bag_without_the_needed_topics_says_which_map_fits(reference, tmp_path):
    bag, _ = renamed_bag_and_sidecar(reference[0], tmp_path)
    proc = eval_cli(bag, '--out', tmp_path / 'report', timeout=60)
    assert proc.returncode == 2
    err = proc.stderr
    assert 'lacks the input(s) camera, imu, audio' in err
    assert '/robot/imu' in err and 'sensor_msgs/msg/Imu' in err and '(800 messages)' in err
    assert '--map /robot/imu:=imu' in err and '--map /robot/front_cam/image:=camera' in err
    assert not (tmp_path / 'report').exists()


def test_bad_inputs_are_clear_errors_and_write_no_report(reference, tmp_path):
    bag = reference[0]
    empty = tmp_path / 'empty'
    with BagWriter(empty, 'mcap'):
        pass
    garbage = tmp_path / 'garbage'
    garbage.mkdir()
    (garbage / 'garbage_0.mcap').write_bytes(b'\x89MCAP0\r\n' + os.urandom(4000))
    bad_csv = tmp_path / 'bad.csv'
    bad_csv.write_text('start,end,label\n0.0,oops,walking\n')
    cases = [
        ((empty,), 'contains no messages'),
        ((garbage,), 'cannot be opened'),
        ((tmp_path / 'missing',), 'no such file'),
        (
            (bag, '--map', '/activity_ground_truth:=imu'),
            "input 'imu' (imu) reads sensor_msgs/msg/Imu",
        ),
        ((bag, '--map', '/nope:=imu'), 'has no topic /nope'),
        ((bag, '--truth', bad_csv), 'interval 1 needs numeric start and end'),
    ]
    for args, message in cases:
        proc = eval_cli(*args, '--out', tmp_path / 'report', timeout=60)
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert message in proc.stderr, (args, proc.stderr[-2000:])
    assert not (tmp_path / 'report').exists()


def test_truncated_bag_is_never_reported_as_complete(reference, tmp_path):
    bag = generate_bag(tmp_path / 'cut', SECONDS, SEED)
    mcap = next(bag.glob('*.mcap'))
    data = mcap.read_bytes()
    mcap.write_bytes(data[: len(data) // 2])
    proc = eval_cli(bag, '--out', tmp_path / 'report', timeout=120)
    assert proc.returncode != 0
    assert 'truncated or corrupt' in proc.stderr or 'cannot be opened' in proc.stderr, proc.stderr[
        -2000:
    ]
    report = tmp_path / 'report' / 'report.json'
    assert not report.exists() or json.loads(report.read_text())['partial'] is True


def test_ctrl_c_leaves_a_report_marked_partial(ros, demo_bag, tmp_path):
    """Real-time replay of the 20 s bag, interrupted once labels flow."""
    from hybrid_fusion_msgs.msg import ActivityLabel

    from hybrid_fusion_ros.ros.qos import RESULT_QOS

    seen = []
    node = ros.node('watch_labels')
    node.create_subscription(ActivityLabel, '/activity', seen.append, RESULT_QOS)
    out = tmp_path / 'report'
    proc = subprocess.Popen(
        [
            sys.executable,
            '-m',
            'hybrid_fusion_ros.cli',
            'eval',
            str(demo_bag),
            '--realtime',
            '--out',
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: len(seen) >= 3 or proc.poll() is not None,
            120,
            'labels from the evaluated graph',
        )
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr[-2000:]
    report = json.loads((out / 'report.json').read_text())
    assert report['partial'] is True
    assert 0 < report['metrics']['labelled_windows'] < 37
    assert 'PARTIAL' in (out / 'report.md').read_text().splitlines()[0]
    assert 'PARTIAL result' in stdout


def test_live_evaluator_node_scores_labels_against_the_truth_topic(ros, tmp_path):
    from hybrid_fusion_msgs.msg import ActivityLabel
    from std_srvs.srv import Trigger

    from hybrid_fusion_ros.ros import conversions as conv
    from hybrid_fusion_tools.evaluation.evaluator_node import EvaluatorNode
    from hybrid_fusion_ros.ros.qos import RESULT_QOS

    out = tmp_path / 'live'
    evaluator = ros.add(EvaluatorNode(**ros.kwargs(output_dir=str(out))))
    node = ros.node('sources')
    truth_pub = node.create_publisher(ActivityLabel, 'activity_ground_truth', RESULT_QOS)
    label_pub = node.create_publisher(ActivityLabel, 'activity', RESULT_QOS)
    wait_until(
        lambda: truth_pub.get_subscription_count() and label_pub.get_subscription_count(),
        20,
        'matching',
    )
    classes = evaluator.classes
    t0 = 1_700_000_000.0
    for k in range(60):  # 6 s of truth at 10 Hz: walking, then running
        truth_pub.publish(
            conv.make_label(
                conv.sec_to_stamp(t0 + 0.1 * k),
                classes,
                None,
                classes.index('walking' if k < 30 else 'running'),
                [],
                'ground_truth',
            )
        )
        time.sleep(
            0.005
        )  # reliable, keep-last 10: a burst would overwrite what is not yet delivered
    ends = [t0 + 1.0 + 0.5 * i for i in range(10)]  # windows ending 1.0 .. 5.5 s
    for i, end in enumerate(ends):
        if i == 4:
            continue  # one window never labelled
        truth = 'walking' if end - 0.5 < t0 + 3.0 else 'running'
        said = 'idle' if i == 7 else truth  # one wrong label
        msg = conv.make_label(
            conv.sec_to_stamp(end), classes, None, classes.index(said), ['imu'], 'early'
        )
        msg.latency_ms = 10.0 + i
        label_pub.publish(msg)
        label_pub.publish(msg)  # re-published: counted once
        time.sleep(0.005)
    wait_until(
        lambda: evaluator.label_messages == 18 and len(evaluator.truth_stamps) == 60,
        20,
        'messages',
    )
    client = node.create_client(Trigger, f'{ros.namespace}/evaluator_node/write_report')
    assert client.wait_for_service(timeout_sec=10)
    future = client.call_async(Trigger.Request())
    wait_until(future.done, 20, 'the write_report service')
    assert future.result().success, future.result().message
    report = json.loads((out / 'report.json').read_text())
    m = report['metrics']
    assert (m['windows'], m['labelled_windows'], m['scored_windows']) == (10, 9, 9)
    assert m['accuracy'] == pytest.approx(8 / 9)
    assert m['latency_ms']['max'] == pytest.approx(19.0)
    assert m['per_class']['running']['recall'] == pytest.approx(4 / 5)
    assert (out / 'confusion.png').stat().st_size > 0
