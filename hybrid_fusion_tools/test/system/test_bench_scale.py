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

"""``hybrid-fusion bench scale``: the models it builds run in the real graph, what the
sensors' chunking imposes is computed right, and a short run of two configurations gives a
floor and a graph row each, a summary and a plot. Figures are not asserted (a benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hybrid_fusion_tools.bench.latency import parse_streams
from hybrid_fusion_tools.bench.latency import Stream
from hybrid_fusion_tools.bench.scale import imposed_wait_ms
from hybrid_fusion_tools.bench.scale import INPUT_SETS
from hybrid_fusion_tools.bench.scale import untrained_checkpoint


def test_the_sensors_chunking_is_what_a_label_must_wait_for():
    camera, imu, audio = Stream('camera', 'camera'), Stream('imu', 'imu'), Stream('a', 'audio')
    # Windows every 0.5 s end on audio chunk boundaries: nothing to wait for.
    assert imposed_wait_ms([camera, imu, audio], 0.5)['p99'] < 0.1
    # Every 1/30 s, a window ends 0, 1/3 or 2/3 of the way into a 0.1 s chunk.
    wait = imposed_wait_ms([camera, imu, audio], 1 / 30)
    assert wait['p50'] == pytest.approx(100 / 3, abs=0.2)
    assert wait['p99'] == pytest.approx(200 / 3, abs=0.2)
    # Frames and IMU samples arrive when they are taken.
    assert imposed_wait_ms([camera, imu], 1 / 30)['p99'] == 0.0


def test_streams_parse_and_unknown_kinds_are_named():
    assert parse_streams('front:depth,imu') == (Stream('front', 'depth'), Stream('imu', 'imu'))
    with pytest.raises(ValueError, match="unknown stream kind.*'lidar'"):
        parse_streams('x:lidar')


def test_an_eight_input_model_is_what_the_graph_will_run(tmp_path):
    from hybrid_fusion_ros.core.checkpoint import Checkpoint

    path = untrained_checkpoint(INPUT_SETS[8], 1 / 30, tmp_path / 'eight.pt')
    ckpt = Checkpoint.load(path)
    assert ckpt.modalities == [s.name for s in INPUT_SETS[8]]
    assert ckpt.window.hop == pytest.approx(1 / 30)
    assert [i.graph_topic() for i in ckpt.inputs] == [s.topic for s in INPUT_SETS[8]]
    depth = ckpt.encoders['depth']
    assert depth['config']['depth'] and ckpt.input('depth').sensor_type == 'camera'


def test_a_short_scale_run_measures_floor_and_graph(tmp_path):
    out = tmp_path / 'scale'
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'hybrid_fusion_ros.cli',
            'bench',
            'scale',
            '--axes',
            'inputs',
            '--inputs',
            '1,2',
            '--layouts',
            'single',
            '--backends',
            'torch',
            '--seconds',
            '3',
            '--warmup',
            '1',
            '--out',
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads((out / 'scale.json').read_text())
    runs = [(r['value'], r['run']) for r in result['rows']]
    assert runs == [('1', 'floor'), ('1', 'graph'), ('2', 'floor'), ('2', 'graph')]
    for r in result['rows']:
        assert r['labels'] > 0 and r['windows'] > 0, r
        assert r['latency_ms']['p99'] >= r['latency_ms']['p50'] > 0, r
    assert result['summary']['targets'][0]['what'] == 'label p99 at 2 inputs / at 1'
    assert 'SIMULATED' in proc.stdout and 'what runs out first' in proc.stdout
    assert (out / 'scale.png').stat().st_size > 10_000
