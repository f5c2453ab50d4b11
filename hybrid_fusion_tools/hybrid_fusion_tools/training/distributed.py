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

"""Data-parallel training across processes started by ``torchrun`` (PyTorch DDP).

    torchrun --nproc_per_node N -m hybrid_fusion_ros.cli train BAG... --map ... -o model.pt

torchrun starts N copies of the same command and tells each who it is through the
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``).
:func:`init_from_env` turns that into a process group: gloo for CPU tensors, and with CUDA
NCCL for CUDA tensors besides. Without those variables (a plain ``hybrid-fusion train``)
nothing is initialized and every helper here answers for one process (rank 0 of 1) with no
collective call, so callers use them unconditionally.
"""

from __future__ import annotations

import atexit
import contextlib
from datetime import timedelta
import os
from typing import Any, Iterator, Optional

import torch
import torch.distributed as dist

# How long the other ranks wait for rank 0 to build the dataset cache. The default group's
# timeout (30 min for gloo) fits a stuck collective, not a cache of many hours of recordings;
# a rank that dies is noticed by torchrun anyway, which then stops the others.
MAIN_FIRST_TIMEOUT = timedelta(hours=24)

_cleanup_registered = False
_wait_group: Optional[Any] = None


def env_world_size() -> int:
    """The world size the environment (torchrun) announces; 1 when it announces none."""
    value = os.environ.get('WORLD_SIZE', '').strip()
    if not value:
        return 1
    try:
        return int(value)
    except ValueError:
        raise RuntimeError(f'WORLD_SIZE={value!r} is not an integer') from None


def default_backend() -> str:
    """gloo on CPU; with CUDA, gloo for CPU tensors and NCCL for CUDA tensors.

    Training is CPU-first (the model stays on the CPU unless moved), and NCCL cannot reduce
    CPU tensors, so with a GPU present a pure ``nccl`` group would fail on the CPU model:
    the per-device form keeps both working."""
    return 'cpu:gloo,cuda:nccl' if torch.cuda.is_available() else 'gloo'


def init_from_env() -> bool:
    """Join the process group the environment describes, once; True when running on more
    than one process. The group is destroyed at interpreter exit (see :func:`cleanup`)."""
    global _cleanup_registered
    if env_world_size() <= 1:
        return False
    if not dist.is_available():
        raise RuntimeError('WORLD_SIZE > 1 but this PyTorch build has no torch.distributed')
    if not dist.is_initialized():
        if torch.cuda.is_available():
            # NCCL needs each process bound to its own device before the group forms.
            torch.cuda.set_device(int(os.environ.get('LOCAL_RANK', '0')))
        # The default init_method 'env://' reads RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT.
        dist.init_process_group(backend=default_backend())
    if not _cleanup_registered:
        atexit.register(cleanup)
        _cleanup_registered = True
    return dist.get_world_size() > 1


def is_distributed() -> bool:
    """True when a process group of more than one process is initialized."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 in a single process)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """The number of processes training together (1 in a single process)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on the process that prints and writes files (rank 0, or the only process)."""
    return rank() == 0


def backend() -> str:
    """The process group's backend, or ``'none'`` in a single process."""
    return str(dist.get_backend()) if is_distributed() else 'none'


def barrier() -> None:
    """Wait until every process gets here; a no-op in a single process."""
    if is_distributed():
        dist.barrier()


def _long_wait_group() -> Any:
    """A gloo group of every rank whose barriers wait up to :data:`MAIN_FIRST_TIMEOUT`,
    made on first use (all ranks call this at the same point, as ``new_group`` needs)."""
    global _wait_group
    if _wait_group is None:
        _wait_group = dist.new_group(backend='gloo', timeout=MAIN_FIRST_TIMEOUT)
    return _wait_group


@contextlib.contextmanager
def main_first() -> Iterator[None]:
    """Run the body on rank 0 first and on the other ranks only once rank 0 is done.

    For work that fills a shared cache: rank 0 builds it alone, the others then find it
    built instead of racing to write the same entries. Rank 0 reaches the barrier even when
    its body raises, so the others are released (and meet the same error themselves)
    rather than waiting forever."""
    if not is_distributed():
        yield
        return
    group = _long_wait_group()
    if not is_main():
        dist.barrier(group=group)
    try:
        yield
    finally:
        if is_main():
            dist.barrier(group=group)


def cleanup() -> None:
    """Destroy the process group if one is initialized (safe to call more than once)."""
    global _wait_group
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()  # every group, the long-wait one included
    _wait_group = None


@contextlib.contextmanager
def session() -> Iterator[bool]:
    """``init_from_env()`` for the duration of a ``with`` block; yields whether distributed."""
    try:
        yield init_from_env()
    finally:
        cleanup()
