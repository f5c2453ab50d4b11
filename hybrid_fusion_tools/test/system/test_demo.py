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

"""The newcomer demo, end to end: generated bag, node processes from the YAML, live labels,
summary. Short bag to keep the suite fast. The early runs also swap the running graph to a
second model halfway (the fusion node's ~/load_model), in both process layouts."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # the demo in real time, 20 s a run


@pytest.fixture(scope='module')
def second_model(tmp_path_factory):
    """The packaged model with its fusion weights nudged and a calibration: another model id,
    the same inputs and windows, so a running graph can swap to it."""
    import torch

    from hybrid_fusion_ros.core.checkpoint import Checkpoint

    ckpt = Checkpoint.load()
    state = ckpt.fusion['state_dict']
    name = next(k for k, v in state.items() if v.dtype.is_floating_point)
    state[name] = state[name] * 1.01 + torch.full_like(state[name], 1e-3)
    ckpt.calibration = {'temperature': 1.5, 'threshold': 0.0}
    path = ckpt.save(tmp_path_factory.mktemp('second') / 'second.pt')
    return path, Checkpoint.load(path).model_id, Checkpoint.load().model_id


@pytest.mark.parametrize(
    'extra, mode, swap',
    # late mode through the node graph is test_graph.py's
    [([], 'early', True), (['--single-process'], 'early', True)],
)
def test_demo_prints_labels_and_summary(tmp_path, extra, mode, swap, second_model):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / 'cache'))
    out = tmp_path / 'summary.json'
    if swap:
        extra = [*extra, '--swap-to', str(second_model[0]), '--swap-after', '4']
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'hybrid_fusion_ros.cli',
            'demo',
            '--seconds',
            '12',
            '--json',
            str(out),
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'generating the simulated demo bag' in proc.stdout
    assert proc.stdout.count('latency') >= 15
    assert 'accuracy:' in proc.stdout and 'coverage' in proc.stdout
    assert f'summary ({mode} fusion' in proc.stdout
    layout = 'one process' if '--single-process' in extra else 'one process per node'
    assert f'summary ({mode} fusion, {layout};' in proc.stdout
    summary = json.loads(out.read_text())
    assert summary['expected_windows'] == 21
    if swap:  # every node switched at one window boundary: at most one window unlabelled
        result = summary['swap']
        assert result['success'], result['text']
        assert (result['previous_model_id'], result['model_id']) == second_model[2:0:-1]
        assert result['windows_unlabelled'] <= 1, result['text']
        assert result['labels_old'] >= 3 and result['labels_new'] >= 3, result['text']
    assert summary['coverage'] >= 0.9
    assert summary['accuracy'] > 0.5
    assert summary['latency_ms']['p50'] > 0
