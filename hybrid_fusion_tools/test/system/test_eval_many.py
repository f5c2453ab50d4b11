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

"""`hybrid-fusion eval` over several bags: one node graph replays them one after another and one
report covers them all. Every bag must come out as it does replayed alone (fast mode is
deterministic), whether the clock jumps forward to it (bags recorded one after another) or back
(bags recorded at the same time). Each eval starts several node processes, so the bags are
short and the evals few: one over three bags (the third is the first one again: the generator
is deterministic), each of the two different bags alone, and the three again on two node graphs
at the same time (``--jobs 2``)."""

import csv
import json
from pathlib import Path
import subprocess
import sys
from types import SimpleNamespace

import pytest

from hybrid_fusion_ros.core.windows import WindowSpec
from hybrid_fusion_tools.bags.bag import BagWriter
from hybrid_fusion_tools.bags.bag import open_reader
from hybrid_fusion_tools.bags.bag import read_messages
from hybrid_fusion_tools.bags.bag import topics_and_types
from hybrid_fusion_tools.bags.replay import shift_stamp
from hybrid_fusion_tools.data.demo_data import generate_bag
from hybrid_fusion_tools.evaluation.runner import replay_shifts

pytestmark = pytest.mark.slow  # replays several bags through the graph

SECONDS = 8.0
LATER = 3600 * 10**9  # ns: the second bag was recorded an hour after the first


def eval_cli(*args, timeout=240):
    return subprocess.run(
        [sys.executable, '-m', 'hybrid_fusion_ros.cli', 'eval', *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def windows(out_dir: Path, bag=None):
    """(end, truth, label, confidence) of every window of the report, or of one bag's."""
    with (out_dir / 'windows.csv').open() as f:
        return [
            (r['end'], r['truth'], r['label'], r['confidence'])
            for r in csv.DictReader(f)
            if bag is None or r['bag'] == str(bag)
        ]


def shifted_copy(src: Path, dst: Path, shift_ns: int) -> Path:
    """``src`` as if recorded ``shift_ns`` later: log times and every header stamp moved."""
    reader = open_reader(src)
    with BagWriter(dst, 'mcap') as writer:
        for msg in read_messages(reader, list(topics_and_types(reader))):
            data = shift_stamp(msg.data, shift_ns)
            writer.write_cdr(msg.topic, msg.msgtype, data, msg.log_time_ns + shift_ns)
    reader.close()
    return dst


@pytest.fixture(scope='module')
def bags(tmp_path_factory):
    """A folder of three bags, in name order: the first; another recorded an hour later (the
    clock jumps forward to it); the first again, same data and times (the clock jumps back)."""
    root = tmp_path_factory.mktemp('eval_many')
    folder = root / 'bags'
    folder.mkdir()
    first = generate_bag(folder / '1_first', SECONDS, seed=1)
    later = shifted_copy(
        generate_bag(root / 'seed2', SECONDS, seed=2), folder / '2_an_hour_later', LATER
    )
    again = generate_bag(folder / '3_first_again', SECONDS, seed=1)
    return root, folder, [first, later, again]


@pytest.fixture(scope='module')
def together(bags):
    """The folder (it expands to its bags) in one eval on one node graph, with a fusion parameter
    among them."""
    root, folder, _ = bags
    out = root / 'all'
    proc = eval_cli(folder, 'fusion_mode:=early', '--jobs', '1', '--out', out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out, json.loads((out / 'report.json').read_text())


def test_report_has_a_row_per_bag_and_the_total(bags, together):
    paths = bags[2]
    out, report = together
    per_bag = report['per_bag']
    assert [b['bag'] for b in per_bag] == [str(p) for p in paths]
    assert report['partial'] is False and report['meta']['node_graphs'] == 1
    m = report['metrics']
    assert m['windows'] == sum(b['metrics']['windows'] for b in per_bag) == 3 * 13
    assert m['labelled_windows'] == sum(b['metrics']['labelled_windows'] for b in per_bag)
    assert m['coverage'] >= 0.9 and all(b['metrics']['coverage'] >= 0.9 for b in per_bag)
    assert m['accuracy'] >= 0.6 and len(m['confusion_matrix']) == 6
    for b in per_bag:
        assert b['ground_truth'] == 'topic /activity_ground_truth'
        assert set(b['metrics']) >= {'windows', 'coverage', 'accuracy', 'macro_f1', 'latency_ms'}
    # Only the bag recorded later moves back in time, so that the nodes see a jump back to it.
    assert [b['replay_shift_s'] < 0 for b in per_bag] == [False, True, False]
    md = (out / 'report.md').read_text()
    assert all(f'| `{p}` | 13 |' in md for p in paths) and '| **total** | 39 |' in md
    assert '| label coverage |' in md
    rows = windows(out)
    assert len(rows) == 39 and next(csv.reader((out / 'windows.csv').open()))[0] == 'bag'
    for name in ('confusion.png', 'latency_cdf.png'):
        assert (out / name).stat().st_size > 0, name


def test_each_bag_gives_the_windows_it_gives_alone(bags, together):
    root, _, (first, later, again) = bags
    out, _ = together
    for k, bag in enumerate((first, later)):
        alone = root / f'alone_{k}'
        proc = eval_cli(bag, '--out', alone)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        assert windows(out, bag) == windows(alone), bag
        report = json.loads((alone / 'report.json').read_text())
        assert 'per_bag' not in report and 'bag' not in next(
            csv.reader((alone / 'windows.csv').open())
        )
    # Labels and confidences of the first bag, after another bag, with the clock jumping back.
    assert windows(out, again) == windows(out, first)


def test_bags_on_graphs_at_the_same_time_give_the_windows_they_give_on_one(bags, together):
    root, folder, paths = bags
    out = root / 'jobs2'
    proc = eval_cli(folder, 'fusion_mode:=early', '--jobs', '2', '--out', out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    report = json.loads((out / 'report.json').read_text())
    assert report['partial'] is False
    assert report['meta']['jobs'] == 2 and report['meta']['node_graphs'] == 2
    per_bag = report['per_bag']
    assert [b['bag'] for b in per_bag] == [str(p) for p in paths]
    # Bags of the same length: the first and third share a graph, the second has its own.
    assert [b['node_graph'] for b in per_bag] == [1, 2, 1]
    assert not any(b['replay_shift_s'] for b in per_bag)
    for bag in paths:
        assert windows(out, bag) == windows(together[0], bag), bag
    assert report['metrics']['windows'] == 39


def test_compare_runs_each_mode_over_all_the_bags(bags, together, tmp_path):
    _, _, (first, later, _) = bags
    out = tmp_path / 'cmp'
    proc = eval_cli(
        first, later, '--compare', 'fusion_mode:=early', 'fusion_mode:=late', '--out', out
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    table = (out / 'compare.md').read_text()
    assert (
        '2 bags' in table and '| fusion_mode=early |' in table and '| fusion_mode=late |' in table
    )
    runs = json.loads((out / 'compare.json').read_text())
    assert [r['meta']['fusion_mode'] for r in runs] == ['early', 'late']
    for run in runs:
        assert [b['bag'] for b in run['per_bag']] == [str(first), str(later)]
        assert run['metrics']['windows'] == 26 and run['metrics']['coverage'] >= 0.9
    for bag in (first, later):
        assert windows(out / 'fusion_mode=early', bag) == windows(together[0], bag)


def test_a_bad_bag_among_several_fails_before_any_node_starts(bags, tmp_path):
    paths = bags[2]
    missing = tmp_path / 'missing'
    proc = eval_cli(paths[0], missing, paths[2], '--out', tmp_path / 'report', timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert str(missing) in proc.stderr and 'no such file' in proc.stderr
    assert 'evaluating' not in proc.stdout
    assert not (tmp_path / 'report').exists()


def test_truth_file_is_for_a_single_bag(bags, tmp_path):
    paths = bags[2]
    truth = tmp_path / 'labels.csv'
    truth.write_text('start,end,label\n0,8,walking\n')
    proc = eval_cli(paths[0], paths[2], '--truth', truth, '--out', tmp_path / 'report', timeout=60)
    assert proc.returncode == 2
    assert '--truth' in proc.stderr and '2 bags' in proc.stderr and '.labels.csv' in proc.stderr
    assert not (tmp_path / 'report').exists()


def _setup(start: float, end: float, hop: float = 0.5):
    return SimpleNamespace(
        start=start, end=end, checkpoint=SimpleNamespace(window=WindowSpec(1.0, hop))
    )


def test_replay_shifts_move_only_bags_that_do_not_start_well_before_the_last_one_ended():
    t0 = 1_700_000_000.0
    # Same times: the clock jumps 8 s back to the second bag, enough for every node.
    assert replay_shifts([_setup(t0, t0 + 8), _setup(t0, t0 + 8)]) == [0, 0]
    # An hour later: moved back in whole seconds to start well before the first one ended.
    shifts = replay_shifts([_setup(t0, t0 + 8), _setup(t0 + 3600, t0 + 3608)])
    assert shifts[0] == 0 and shifts[1] % 10**9 == 0
    assert t0 + 3600 + shifts[1] * 1e-9 <= t0 + 8 - (1.0 + 2 * 0.5 + 1.0)
    # A hop of 0.3 s: whole hops as well, so the windows stay on the bag's own grid.
    shifts = replay_shifts([_setup(t0, t0 + 8, 0.3), _setup(t0 + 100, t0 + 108, 0.3)])
    assert shifts[1] < 0 and shifts[1] % (3 * 10**9) == 0
    # A fusion node that only takes a larger jump for one gets a larger one.
    small = replay_shifts([_setup(t0, t0 + 8), _setup(t0 + 3600, t0 + 3608)], jump_threshold=1.0)[
        1
    ]
    large = replay_shifts([_setup(t0, t0 + 8), _setup(t0 + 3600, t0 + 3608)], jump_threshold=30.0)[
        1
    ]
    assert large <= small - 29 * 10**9
