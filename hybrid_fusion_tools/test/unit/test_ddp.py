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

"""Data-parallel training: ``hybrid-fusion train`` under ``torchrun`` with two real processes
(gloo on the CPU), and the single-process path left alone by it."""

from __future__ import annotations

import os
from pathlib import Path
import re
import socket
import subprocess
import sys
import time
from typing import List

import numpy as np
import pytest
import torch
import torch.distributed as dist

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.encoders import create_encoder
from hybrid_fusion_ros.core.fusion import FusionConfig
from hybrid_fusion_ros.core.fusion import FusionModel
from hybrid_fusion_tools.bench.train import TORCHRUN_ENV
from hybrid_fusion_tools.data.dataset import SequenceData
from hybrid_fusion_tools.training import distributed
from hybrid_fusion_tools.training.train import _rank_share
from hybrid_fusion_tools.training.train import ActivityModel
from hybrid_fusion_tools.training.train import fit
from hybrid_fusion_tools.training.train import seed_everything
from hybrid_fusion_tools.training.train import TrainConfig

pytestmark = pytest.mark.slow  # a two-process torchrun training run

MAPS = [
    '--map',
    '/front_depth/depth/image_raw:=front_depth',
    '--map',
    '/wrist_imu/imu:=wrist_imu:imu',
    '--map',
    '/thigh_imu/imu:=thigh_imu',
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason='no gloo backend'
)
def test_train_runs_under_torchrun_on_two_processes(tmp_path: Path) -> None:
    from hybrid_fusion_tools.data.demo_data import generate_robot_bag

    # Seeds whose 20 s hold all four classes: whichever bag validates has every class
    # (a class missing from validation is refused).
    bags = [
        generate_robot_bag(tmp_path / 'bags' / f'robot_{i}', seconds=20.0, seed=seed)
        for i, seed in enumerate((3, 5, 10))
    ]
    out = tmp_path / 'ddp.pt'
    # A clean environment for the launcher: variables of an outer torchrun would confuse it.
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    cmd = [
        sys.executable,
        '-m',
        'torch.distributed.run',
        '--nproc_per_node',
        '2',
        '--master_port',
        str(_free_port()),
        '-m',
        'hybrid_fusion_ros.cli',
        'train',
        *map(str, bags),
        *MAPS,
        '--epochs',
        '2',
        '--keep-at-chance',  # two epochs: what is checked is the two ranks in lockstep
        '--jobs',
        '1',
        '--cache-dir',
        str(tmp_path / 'cache'),
        '-o',
        str(out),
    ]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=200, cwd=tmp_path, env=env)
    took = time.monotonic() - start
    assert proc.returncode == 0, f'{took:.0f} s\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}'

    # Rank 0 alone prints: one copy of each line, and the line that names both ranks' steps.
    assert proc.stdout.count('checkpoint written to') == 1, proc.stdout
    assert proc.stdout.count('dataset: 3 recordings') == 1, proc.stdout
    found = re.search(
        r'world size 2 \(gloo\), optimizer steps per rank in the last epoch \[(\d+), (\d+)\]',
        proc.stdout,
    )
    assert found, proc.stdout
    assert int(found.group(1)) == int(found.group(2)) > 0  # both trained, in lockstep

    ckpt = Checkpoint.load(out)
    assert [i.name for i in ckpt.inputs] == ['front_depth', 'wrist_imu', 'thigh_imu']
    assert [i.sensor_type for i in ckpt.inputs] == ['camera', 'imu', 'imu']
    history = ckpt.metadata['history']
    assert history and all(h['world_size'] == 2 and len(h['steps_per_rank']) == 2 for h in history)
    assert 0.0 <= ckpt.metadata['val_macro_f1'] <= 1.0

    # The initialization train() made (same seed, same order), rebuilt: training moved every
    # part of the model a little from it. "A little" shows the rebuild is the real starting
    # point, so "moved" is not merely two unrelated random draws differing.
    tc = ckpt.metadata['train_config']
    seed_everything(tc['seed'])
    init = {
        m: create_encoder(name, ckpt.encoders[m]['config']) for m, name in tc['encoders'].items()
    }
    init_fusion = FusionModel(FusionConfig.from_dict(ckpt.fusion['config']))
    pairs = [(dict(init[m].named_parameters()), ckpt.encoders[m]['state_dict']) for m in init]
    pairs.append((dict(init_fusion.named_parameters()), ckpt.fusion['state_dict']))
    for start_params, trained in pairs:
        change = max(float((trained[k] - v.detach()).abs().max()) for k, v in start_params.items())
        assert 0.0 < change < 0.05, change


def _sequence(labels: List[int], seed: int) -> SequenceData:
    x = np.random.default_rng(seed).normal(size=(len(labels), 6, 16)).astype(np.float32)
    return SequenceData({'imu': x}, np.asarray(labels), np.arange(len(labels), dtype=float))


def _refuse(*args, **kwargs):
    raise AssertionError('torch.distributed was used in a single process')


def test_fit_in_one_process_does_not_touch_torch_distributed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in (
        'init_process_group',
        'all_reduce',
        'broadcast',
        'all_gather',
        'barrier',
        'destroy_process_group',
    ):
        monkeypatch.setattr(dist, name, _refuse)
    monkeypatch.setattr(torch.nn.parallel, 'DistributedDataParallel', _refuse)
    assert distributed.init_from_env() is False
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    distributed.barrier()
    with distributed.main_first():
        pass

    small = {
        'length': 16,
        'base_channels': 4,
        'feature_dim': 8,
    }  # a tiny network: seconds on 2 cores
    config = TrainConfig(
        encoders={'imu': 'imu_cnn1d'},
        encoder_configs={'imu': small},
        epochs=2,
        seq_len=4,
        batch_size=2,
        extra_strategies=[],
    )
    seed_everything(0)
    encoder = create_encoder('imu_cnn1d', small)
    model = ActivityModel(
        {'imu': encoder},
        FusionModel(FusionConfig(['imu'], [encoder.output_dim], 2, embed_dim=8, hidden_dim=8)),
    )
    train = [_sequence([0, 1] * 8, 1), _sequence([1, 0] * 8, 2)]
    history, report = fit(
        model, train, [_sequence([0, 1] * 4, 3)], config, ['a', 'b'], 2, False, 'test'
    )
    assert [sorted(h) for h in history] == [
        ['epoch', 'loss', 'steps', 'val_accuracy', 'val_macro_f1']
    ] * 2
    assert 0.0 <= report['macro_f1'] <= 1.0


@pytest.mark.parametrize('world', [1, 2, 3, 4])
def test_every_rank_gets_an_equal_strided_share_of_the_chunks(world: int) -> None:
    for n in range(12):
        items = [(i, 10 * i) for i in range(n)]
        shares = [_rank_share(items, r, world) for r in range(world)]
        assert len({len(s) for s in shares}) == 1  # equal step counts
        assert {x for s in shares for x in s} == set(items)  # nothing left out
        assert sum(map(len, shares)) - n < world  # padding: less than one round
        if world == 1:
            assert shares[0] == items
        elif n:
            assert shares[1][: len(items[1::world])] == items[1::world]
