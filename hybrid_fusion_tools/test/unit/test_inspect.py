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

"""``hybrid-fusion inspect`` on small real bags: trials with pauses read at their rate, the
ground truth per class, and warnings that name what to fix."""

import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pytest

from hybrid_fusion_ros.cli import main as cli
from hybrid_fusion_ros.ros import conversions as conv
from hybrid_fusion_tools.bags.bag import BagWriter
from hybrid_fusion_tools.data.demo_data import generate_bag
from hybrid_fusion_tools.data.demo_data import TOPICS
from hybrid_fusion_tools.data.inspection import bag_timelines
from hybrid_fusion_tools.data.inspection import read_stamps

T0 = 1_700_000_000.0
RATE = 50.0
# One trial (0.8 s of 'wave') is shorter than the default 1 s window.
TRIALS = [
    (3.0, 'wave'),
    (2.0, 'walk'),
    (0.8, 'wave'),
    (5.0, 'walk'),
    (4.0, 'idle'),
    (2.5, 'idle'),
    (6.0, 'wave'),
]


def write_trials(
    path: Path,
    trials: Sequence[Tuple[float, str]] = TRIALS,
    topics: Sequence[str] = ('/wrist_imu/imu',),
    pause: float = 1.0,
    extra_rows: Sequence[str] = (),
) -> Path:
    """A bag of IMU trials at 50 Hz, ``pause`` seconds silent between them (stamped at capture,
    logged 2 ms later), and its ``<bag>.labels.csv``: one interval per trial, in seconds from
    the bag's first message, then ``extra_rows`` as written."""
    rng = np.random.default_rng(3)
    rows: List[str] = []
    t = T0
    first_log = T0 + 0.002
    with BagWriter(path, 'mcap') as writer:
        for length, label in trials:
            n = int(round(length * RATE))
            for k in range(n):
                stamp = t + k / RATE
                for topic in topics:
                    msg = conv.row_to_imu(rng.normal(size=6), conv.sec_to_stamp(stamp))
                    writer.write(topic, msg, int(round((stamp + 0.002) * 1e9)))
            rows.append(f'{t - first_log:.6f},{t + n / RATE - first_log:.6f},{label}')
            t += n / RATE + pause
    sidecar = path.with_name(path.name + '.labels.csv')
    sidecar.write_text('\n'.join(['start,end,label', *rows, *extra_rows]) + '\n')
    return path


def topic_line(text: str, topic: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith(topic))


def kinds(facts: Dict) -> Dict[str, List[Dict]]:
    out: Dict[str, List[Dict]] = {}
    for w in facts['warnings']:
        out.setdefault(w['kind'], []).append(w)
    return out


def test_trials_with_pauses_read_at_their_rate(tmp_path, capsys):
    bag = write_trials(tmp_path / 'trials')
    out = tmp_path / 'inspect.json'
    assert cli(['inspect', str(bag), '--json', str(out)]) == 0
    text = capsys.readouterr().out
    line = topic_line(text, '/wrist_imu/imu').split()
    # topic, input, type, rate, Hz, runs, pauses, paused, s, median pause, s, lost, (%)
    assert line[3:5] == ['50.00', 'Hz'], text
    assert line[5:7] == ['7', '6'] and line[9] == '1.00', text
    assert "class 'wave': 1 of 3 segment(s) shorter than the 1 s window" in text
    assert '--window-length 0.8' in text
    facts = json.loads(out.read_text())
    (b,) = facts['bags']
    imu = b['topics']['/wrist_imu/imu']
    # Message count over bag duration reads the pauses in: about 40 Hz.
    assert imu['messages'] / b['seconds'] < 42
    assert imu['rate_hz'] == pytest.approx(50.0, rel=1e-4)
    assert (imu['run_count'], imu['pause_count'], imu['lost_samples']) == (7, 6, 0)
    assert imu['paused_seconds'] == pytest.approx(6.0, abs=1e-3)
    assert imu['median_pause_s'] == pytest.approx(1.0, abs=1e-3)
    assert [r['samples'] for r in imu['runs']] == [int(x * RATE) for x, _ in TRIALS]
    wave = b['classes']['wave']
    assert wave['intervals'] == 3
    assert (wave['length_min'], wave['length_median'], wave['length_max']) == pytest.approx(
        (0.8, 3.0, 6.0), abs=1e-3
    )
    assert all(c['windows'] > 0 for c in b['classes'].values())
    # 6 s of 'wave' trial alone gives 11-12 windows of 1 s every 0.5 s.
    assert wave['windows'] >= 11 + 5 + 1
    found = kinds(facts)
    (short,) = found['short_segments']
    assert (short['bag'], short['label'], short['suggested_window_length']) == (
        'trials',
        'wave',
        0.8,
    )
    assert 'single_group' in found and 'labels_unusable' not in found
    assert facts['window'] == {'length': 1.0, 'hop': 0.5, 'min_fill': 0.5}


def test_warnings_name_the_bag_topic_class_and_fix(tmp_path, capsys):
    """Two bags: one with a label over no data, one without a mapped input and with
    overlapping labels. Each problem is a warning; the pooled summary follows the bags."""
    a = write_trials(
        tmp_path / 's1_trials',
        topics=('/wrist_imu/imu', '/thigh_imu/imu'),
        extra_rows=['200.0,203.0,ghost'],
    )
    b = write_trials(tmp_path / 's2_trials', TRIALS[:3], extra_rows=['1.0,2.5,walk'])
    out = tmp_path / 'both.json'
    argv = ['inspect', str(a), str(b), '--json', str(out), '--group-by', r's(\d+)_']
    argv += ['--map', '/wrist_imu/imu:=wrist:imu', '--map', '/thigh_imu/imu:=thigh:imu']
    assert cli(argv) == 0
    text = capsys.readouterr().out
    assert 'all 2 bags (2 group(s)):' in text and 'WARNINGS' in text
    facts = json.loads(out.read_text())
    found = kinds(facts)
    (missing,) = found['input_missing']
    assert (missing['bag'], missing['topic']) == ('s2_trials', '/thigh_imu/imu')
    (overlap,) = found['labels_unusable']
    assert overlap['file'].endswith('s2_trials.labels.csv') and 'overlap' in overlap['message']
    ghosts = found['labels_without_data']
    assert {(w['bag'], w['label']) for w in ghosts} == {('s1_trials', 'ghost')}
    assert {w['topic'] for w in ghosts} == {'/wrist_imu/imu', '/thigh_imu/imu'}
    assert [w['label'] for w in found['class_without_windows']] == ['ghost']
    # s2's labels are unusable: every class is in group 1 only.
    assert {w['label'] for w in found['class_in_one_group']} == {'ghost', 'idle', 'walk', 'wave'}
    for w in facts['warnings']:
        assert w['fix'] and w['message'], w
    assert facts['pooled']['groups'] == ['1', '2']
    assert facts['pooled']['inputs']['wrist']['bags'] == ['s1_trials', 's2_trials']
    assert facts['pooled']['inputs']['thigh']['bags'] == ['s1_trials']


def test_timelines_of_every_sensor_type(tmp_path):
    """Camera, IMU and audio header stamps (audio per chunk, counted in samples); the label
    topic is not a sensor."""
    bag = generate_bag(tmp_path / 'demo', seconds=3.0, seed=1)
    timelines = bag_timelines(bag)
    assert set(timelines) == {TOPICS['camera'], TOPICS['imu'], TOPICS['audio']}
    expected = {TOPICS['camera']: 15.0, TOPICS['imu']: 100.0, TOPICS['audio']: 16000.0}
    for topic, rate in expected.items():
        tl = timelines[topic]
        assert tl.rate == pytest.approx(rate, rel=5e-3), topic  # simulated jitter
        assert (len(tl.runs), len(tl.pauses), tl.lost) == (1, 0, 0), topic
    audio = read_stamps(bag, [TOPICS['audio']])[TOPICS['audio']]
    assert audio.declared_rate == 16000.0 and audio.from_receive_time == 0
    assert timelines[TOPICS['audio']].samples == 3 * 16000
