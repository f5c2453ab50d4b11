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
summary. Short bag to keep the suite fast."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # the demo in real time, 20 s a run


@pytest.mark.parametrize(
    'extra, mode',
    [([], 'early'), (['fusion_mode:=late'], 'late'), (['--single-process'], 'early')],
)
def test_demo_prints_labels_and_summary(tmp_path, extra, mode):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / 'cache'))
    out = tmp_path / 'summary.json'
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
    assert summary['coverage'] >= 0.9
    assert summary['accuracy'] > 0.5
    assert summary['latency_ms']['p50'] > 0
