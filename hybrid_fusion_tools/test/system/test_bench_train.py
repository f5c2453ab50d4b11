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

"""``hybrid-fusion bench train`` end to end on three short SIMULATED recordings: the cold cache
build, then real training runs on one process (one and two threads) and on two under torchrun,
and the table and JSON that name both process counts and the speed-up. No timing is asserted."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

import pytest
import torch.distributed as dist

pytestmark = pytest.mark.slow  # four processes that import torch, one of them torchrun's two

# Short, but long enough for every class in each (the seeds test_ddp uses): whichever bag
# validates has them all.
SEEDS = (3, 5, 10)
SENSORS = {'front_depth': 'depth', 'wrist_imu': 'imu'}
CONFIG = """
epochs: 2
seq_len: 4
encoder_configs:
  front_depth: {frames: 2}
"""


@pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason='no gloo backend'
)
def test_bench_train_reports_both_process_counts_and_the_speedup(tmp_path: Path) -> None:
    from hybrid_fusion_tools.data.demo_data import generate_robot_bag

    bags = tmp_path / 'bags'
    for i, seed in enumerate(SEEDS):
        generate_robot_bag(bags / f'robot_{i}', seconds=20.0, seed=seed, sensors=SENSORS)
    config = tmp_path / 'tiny.yaml'
    config.write_text(CONFIG)
    out = tmp_path / 'bench.json'
    cmd = [
        sys.executable, '-m', 'hybrid_fusion_ros.cli', 'bench', 'train',
        '--bags', str(bags),
        '--config', str(config),
        '--map', '/front_depth/depth/image_raw:=front_depth',
        '--map', '/wrist_imu/imu:=wrist_imu',
        '--group-by', r'robot_(\d+)',
        '--json', str(out),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK')}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'

    table = proc.stdout
    assert 'dataset cache build, cold' in table and 'x real time, peak RSS' in table
    for run in ('1 process x 1 thread', '1 process x 2 threads', '2 processes x 1 thread'):
        assert run in table, table
    assert 'DDP speed-up (2 processes x 1 thread):' in table

    result = json.loads(out.read_text())
    runs = {(r['processes'], r['threads_requested']): r for r in result['runs']}
    assert sorted(runs) == [(1, 1), (1, 2), (2, 1)]
    assert runs[(2, 1)]['world_size'] == 2 and runs[(1, 1)]['world_size'] == 1
    assert runs[(1, 1)]['torch_threads'] == 1 and runs[(1, 2)]['torch_threads'] == 2
    assert runs[(2, 1)]['torch_threads'] == 1
    # The same windows, epochs and global batch in every run; the cache built once, before.
    assert len({r['windows_per_epoch'] for r in runs.values()}) == 1
    assert {r['global_batch'] for r in runs.values()} == {result['global_batch']}
    assert {r['epochs'] for r in runs.values()} == {2}
    assert all(r['cache_entries_built'] == 0 for r in runs.values())
    assert result['cache_build']['bags'] == 3 and result['cache_build']['peak_rss_mib'] > 0
    assert all(r['windows_per_second'] > 0 for r in runs.values())
    assert set(result['speedup']) == {'ddp_vs_1proc_1thread', 'ddp_vs_1proc_2threads'}
    assert all(v > 0 for v in result['speedup'].values())
