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

r"""``hybrid-fusion bench train``: training at scale on MEx (real data), as
``benchmarks/run_mex.sh`` trains it.

1. The dataset cache, built cold in a fresh process of its own: seconds, x real time, peak RSS
   (the kernel's ``wait4`` accounting).
2. ``hybrid-fusion train`` on that cache three times: one process with one torch thread, one
   process with two, and two processes of one thread each under
   ``torchrun --nproc_per_node 2`` (DDP, gloo). The same recordings, windows, epochs and
   global batch in each (the two ranks take half the batch each). Throughput is training's
   own figure (``training_time`` in the checkpoint's metadata): every training window once
   per epoch over the seconds of the optimizer steps, the first epoch (warm-up) left out;
   process start, imports, cache load, front ends, validation and calibration are not in it.
3. The DDP speed-up against both single-process runs.

Whether the cache build keeps flat memory on a recording ten times longer is
``hybrid-fusion bench dataset`` (``--memory`` here runs it too). Prints figures; asserts
nothing.

    hybrid-fusion bench train --subjects 5 --json train_bench.json
    hybrid-fusion bench train --bags DIR --map TOPIC:=INPUT ... --config CFG.yaml --group-by RE
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import re
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from hybrid_fusion_ros.cli import Command

MEX_MAPS = (
    '/mex/depth/image_raw:=depth',
    '/mex/thigh/imu:=thigh',
    '/mex/wrist/imu:=wrist',
)
MEX_GROUP = r'mex_s(\d+)_'
# Variables of an outer torchrun: a launcher started inside one would take them for its own.
TORCHRUN_ENV = (
    'RANK',
    'WORLD_SIZE',
    'LOCAL_RANK',
    'LOCAL_WORLD_SIZE',
    'MASTER_ADDR',
    'MASTER_PORT',
    'TORCHELASTIC_RUN_ID',
    'GROUP_RANK',
    'ROLE_RANK',
)
# (processes, torch threads per process) of the runs compared, all at the same global batch.
RUNS = ((1, 1), (1, 2), (2, 1))

# The cache build of `hybrid-fusion train`, alone, in a fresh process: the same call with the
# same arguments, so the training runs after it find every entry built.
_BUILD = """
import json, sys
from pathlib import Path
from hybrid_fusion_ros.cli import parse_map
from hybrid_fusion_ros.core.windows import WindowSpec
from hybrid_fusion_tools.data.loading import load_recordings
bags, maps, values, cache, jobs = json.loads(sys.argv[1])
spec = (WindowSpec(values.get('window_length', 1.0), values.get('window_hop', 0.5))
        if 'window_length' in values or 'window_hop' in values else None)
data = load_recordings([Path(b) for b in bags], parse_map(maps), spec, None, None, Path(cache),
                       jobs, progress=False, encoder_overrides=values.get('encoder_configs'),
                       encoder_names=values.get('encoders'))
print(json.dumps(data.build))
"""


def _repo_root() -> Path:
    """The checkout this module runs from (``benchmarks/`` lives there, not in the package)."""
    return Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _run_measured(cmd: Sequence[str], env: Optional[Dict[str, str]] = None):
    """(stdout, stderr, peak RSS MiB of the largest process, wall s) of ``cmd``; exits with
    its error output when it fails."""
    start = time.perf_counter()
    with tempfile.TemporaryFile('w+') as out, tempfile.TemporaryFile('w+') as err:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(
            f'error: {" ".join(cmd[:8])} ... exited {proc.returncode}:\n{stdout[-2000:]}\n'
            f'{stderr[-3000:]}'
        )
    return stdout, stderr, usage.ru_maxrss / 1024.0, wall


def select_bags(bags: Sequence[Path], subjects: Optional[int], group: str) -> List[Path]:
    """The bags of the first ``subjects`` groups (``group``: a regex whose first group names
    a bag's subject), in name order; all of them when ``subjects`` is None."""
    if subjects is None:
        return list(bags)
    rx = re.compile(group)

    def subject(bag: Path) -> Any:
        found = rx.search(bag.name)
        if found is None:
            return None
        name = found.group(1) if found.groups() else found.group(0)
        return int(name) if name.isdigit() else name  # subject 10 after subject 9

    ids = sorted({subject(b) for b in bags} - {None})
    if not ids:
        raise SystemExit(f"error: --subjects: no bag name matches '{group}'")
    keep = set(ids[:subjects])
    return [b for b in bags if subject(b) in keep]


def throughput(timing: Dict[str, Any]) -> Dict[str, Any]:
    """Windows per second of a run's ``training_time``: the epochs after the first (warm-up),
    or the only one."""
    train_s = list(timing['train_seconds'])
    epoch_s = list(timing['epoch_seconds'])
    timed = slice(1, None) if len(train_s) > 1 else slice(None)
    n = len(train_s[timed])
    windows = timing['windows_per_epoch'] * n
    return {
        'timed_epochs': n,
        'train_seconds_per_epoch': sum(train_s[timed]) / n,
        'windows_per_second': windows / sum(train_s[timed]),
        'windows_per_second_with_validation': windows / sum(epoch_s[timed]),
    }


class BenchTrainCommand(Command):
    help = (
        'MEx training at scale: dataset cache build (s, x real time, peak RSS) and training '
        'windows/s on 1 process (1 and 2 threads) and 2 under torchrun, with the DDP speed-up'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            '--bags',
            type=Path,
            help=(
                'folder of MEx bags (python benchmarks/mex_to_bags.py --out DIR); default: '
                'made once under the cache folder from ../shared/data/mex beside the checkout'
            ),
        )
        parser.add_argument(
            '--subjects',
            type=int,
            help='the first N subjects only (default 5 when the bags are made here, else all)',
        )
        parser.add_argument(
            '--epochs',
            type=int,
            help="epochs per run (default: the config's; the first is warm-up, not timed)",
        )
        parser.add_argument(
            '--config',
            type=Path,
            help=(
                'training options (default benchmarks/mex.yaml); the fusion heads beside the '
                'primary one are not trained, and every epoch runs (keep: last)'
            ),
        )
        parser.add_argument(
            '--map',
            action='append',
            metavar='TOPIC:=INPUT[:TYPE]',
            help="the bags' topics as train takes them (default: MEx's depth, thigh, wrist)",
        )
        parser.add_argument(
            '--group-by',
            default=MEX_GROUP,
            metavar='REGEX',
            help=f"a bag's subject, for --subjects and validation (default '{MEX_GROUP}')",
        )
        parser.add_argument(
            '--jobs', type=int, default=1, help='processes building the cache (default 1)'
        )
        parser.add_argument(
            '--memory',
            action='store_true',
            help='also run hybrid-fusion bench dataset: the build on a recording and on one 10x '
            'longer (flat memory; simulated, minutes)',
        )
        parser.add_argument(
            '--larger-batch',
            action='store_true',
            help='also 2 processes with the whole batch each (a global batch twice as large, as '
            'train under torchrun runs by default): not the same training, shown apart',
        )
        parser.add_argument('--json', type=Path, help='also write the figures as JSON here')

    def run(self, args: argparse.Namespace) -> int:
        import yaml

        from hybrid_fusion_ros.core.paths import cache_root
        from ..common.machine import machine_line
        from ..data.recordings import expand_bags

        root = _repo_root()
        config_path = args.config or root / 'benchmarks' / 'mex.yaml'
        if not config_path.is_file():
            raise SystemExit(f'error: no training config {config_path}: give --config')
        if args.bags is None:
            subjects = args.subjects or 5
            bag_dir = cache_root() / 'bench' / 'mex_bags'
            script = root / 'benchmarks' / 'mex_to_bags.py'
            if not script.is_file():
                raise SystemExit(
                    f'error: {script} not found: give --bags (MEx bags made by '
                    'python benchmarks/mex_to_bags.py --out DIR in a checkout)'
                )
            print(f'MEx bags of subjects 1-{subjects} in {bag_dir} (made once) ...', flush=True)
            subprocess.run(
                [
                    sys.executable,
                    str(script),
                    '--out',
                    str(bag_dir),
                    '--subjects',
                    f'1-{subjects}',
                    '--jobs',
                    str(os.cpu_count() or 1),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        else:
            subjects, bag_dir = args.subjects, args.bags
        bags = select_bags(expand_bags([bag_dir]), subjects, args.group_by)
        maps = list(args.map or MEX_MAPS)
        values = yaml.safe_load(config_path.read_text()) or {}
        if args.epochs is not None:
            values['epochs'] = args.epochs
        values['keep'] = 'last'  # every epoch runs: the same count in every run
        values['extra_strategies'] = []  # the primary model only: its epochs are timed
        batch = int(values.get('batch_size', 12))
        if batch % 2:
            raise SystemExit(f'error: batch_size {batch} must be even: two ranks share it')
        epochs = int(values.get('epochs', 30))
        load_before = os.getloadavg()

        with tempfile.TemporaryDirectory(prefix='bench_train_') as tmp_name:
            tmp = Path(tmp_name)
            cache = tmp / 'cache'
            print(
                f'building the dataset cache of {len(bags)} bags, cold, in a fresh process '
                f'({args.jobs} job(s)) ...',
                flush=True,
            )
            payload = json.dumps([[str(b) for b in bags], maps, values, str(cache), args.jobs])
            out, _, rss, _ = _run_measured([sys.executable, '-c', _BUILD, payload])
            build = json.loads(out.strip().splitlines()[-1])
            secs, wall = build['seconds_of_data'], build['wall_seconds']
            cache_row = {
                'bags': build['bags'],
                'seconds_of_data': secs,
                'build_seconds': wall,
                'speed_x': secs / wall if wall > 0 else float('inf'),
                'peak_rss_mib': rss,
                'jobs': args.jobs,
            }
            print(
                f"  {build['bags']} bags, {secs:.0f} s of data, built in {wall:.1f} s ="
                f" {cache_row['speed_x']:.0f}x real time; peak RSS {rss:.0f} MiB",
                flush=True,
            )
            rows = []
            runs = [(p, t, batch // p) for p, t in RUNS]
            if args.larger_batch:
                runs.append((2, 1, batch))
            for procs, threads, per_rank in runs:
                rows.append(
                    self._train(
                        tmp, bags, maps, values, per_rank, procs, threads, cache, args.group_by
                    )
                )
        load_after = os.getloadavg()
        by = {
            (r['processes'], r['threads_requested']): r
            for r in rows
            if r['global_batch'] == batch
        }
        ddp = by[(2, 1)]['windows_per_second']
        speedup = {
            'ddp_vs_1proc_1thread': ddp / by[(1, 1)]['windows_per_second'],
            'ddp_vs_1proc_2threads': ddp / by[(1, 2)]['windows_per_second'],
        }
        if args.larger_batch:
            larger = rows[-1]['windows_per_second'] / by[(1, 1)]['windows_per_second']
            speedup['ddp_larger_batch_vs_1proc_1thread'] = larger
        if args.bags is None:
            data = f'MEx (real data), subjects 1-{subjects}, {len(bags)} bags'
        else:
            data = f'{len(bags)} bags from {bag_dir}'
            if subjects:
                data += f' (the first {subjects} subjects)'
        result = {
            'data': data,
            'maps': maps,
            'bags': [b.name for b in bags],
            'config': str(config_path),
            'epochs': epochs,
            'global_batch': batch,
            'cache_build': cache_row,
            'runs': rows,
            'speedup': speedup,
            'target_speedup': 1.6,
            'load_average_before': list(load_before),
            'load_average_after': list(load_after),
            'machine': machine_line(),
        }
        self._print(result)
        if args.memory:
            from .dataset import BenchDatasetCommand

            print('\nflat memory, 10x longer recording: hybrid-fusion bench dataset', flush=True)
            with tempfile.TemporaryDirectory() as tmp_name:
                path = Path(tmp_name) / 'dataset.json'
                verb = BenchDatasetCommand()
                parser = argparse.ArgumentParser(prog='hybrid-fusion bench dataset')
                verb.add_arguments(parser)
                if verb.run(parser.parse_args(['--json', str(path)])) == 0:
                    result['dataset_memory'] = json.loads(path.read_text())
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0

    def _train(
        self,
        tmp: Path,
        bags: Sequence[Path],
        maps: Sequence[str],
        values: Dict[str, Any],
        per_rank_batch: int,
        procs: int,
        threads: int,
        cache: Path,
        group_by: str,
    ) -> Dict[str, Any]:
        """One ``hybrid-fusion train`` run on the built cache; its figures."""
        import yaml

        from hybrid_fusion_ros.core.checkpoint import Checkpoint

        name = f'{procs}x{threads}_b{per_rank_batch}'
        config = tmp / f'train_{name}.yaml'
        # For the same global batch, each of N ranks takes batch / N lanes per step.
        config.write_text(yaml.safe_dump({**values, 'batch_size': per_rank_batch}))
        checkpoint = tmp / f'train_{name}.pt'
        env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
        env['OMP_NUM_THREADS'] = str(threads)
        launcher = [sys.executable, '-m', 'hybrid_fusion_ros.cli']
        if procs > 1:
            launcher = [
                sys.executable,
                '-m',
                'torch.distributed.run',
                '--nproc_per_node',
                str(procs),
                '--master_port',
                str(_free_port()),
                '-m',
                'hybrid_fusion_ros.cli',
            ]
        cmd = [
            *launcher,
            'train',
            *map(str, bags),
            '--config',
            str(config),
            *[a for m in maps for a in ('--map', m)],
            '--group-by',
            group_by,
            '--cache-dir',
            str(cache),
            # More than one: with one job the cache is read in this process, and the build's
            # worker pins torch to a single thread, which would undo OMP_NUM_THREADS.
            '--jobs',
            '2',
            '--keep-at-chance',  # a few epochs on a few subjects: the timing is the point
            '-o',
            str(checkpoint),
        ]
        label = f"{procs} process{'es' if procs > 1 else ''} x {threads} thread"
        label += 's' if threads > 1 else ''
        how = ' (torchrun, gloo)' if procs > 1 else ''
        print(f'training: {label}{how} ...', flush=True)
        stdout, _, rss, wall = _run_measured(cmd, env)
        reused = re.search(r'cache: (\d+) built, (\d+) reused', stdout)
        if reused and int(reused.group(1)):
            print(f'  warning: this run built {reused.group(1)} cache entries itself', flush=True)
        timing = Checkpoint.load(checkpoint).metadata['training_time']
        row = {
            'run': label,
            'processes': procs,
            'threads_requested': threads,
            'torch_threads': timing['torch_threads'],
            'world_size': timing['world_size'],
            'global_batch': timing['global_batch'],
            'windows_per_epoch': timing['windows_per_epoch'],
            'epochs': len(timing['train_seconds']),
            **throughput(timing),
            'process_wall_seconds': wall,
            'peak_rss_mib': rss,
            'cache_entries_built': int(reused.group(1)) if reused else None,
            'train_seconds': timing['train_seconds'],
        }
        print(
            f"  {row['windows_per_second']:.0f} windows/s ({row['windows_per_epoch']} windows"
            f" per epoch, {row['train_seconds_per_epoch']:.2f} s); torch threads"
            f" {row['torch_threads']} per process; {wall:.0f} s in all",
            flush=True,
        )
        return row

    @staticmethod
    def _print(result: Dict[str, Any]) -> None:
        c = result['cache_build']
        first = result['runs'][0]
        print(
            f"\n{result['data']}; {first['windows_per_epoch']} training windows per epoch,"
            f" global batch {result['global_batch']}, {result['epochs']} epochs"
            f" ({first['timed_epochs']} timed)"
        )
        print(
            f"dataset cache build, cold, {c['jobs']} job(s): {c['build_seconds']:.1f} s for"
            f" {c['seconds_of_data']:.0f} s of data = {c['speed_x']:.0f}x real time, peak RSS"
            f" {c['peak_rss_mib']:.0f} MiB"
        )
        head = (
            f"{'run':<40}{'torch threads':>14}{'batch':>6}{'windows/s':>11}{'s/epoch':>9}"
            f"{'w/s, with val.':>16}{'process s':>11}"
        )
        print(head)
        print('-' * len(head))
        for r in result['runs']:
            name = r['run'] + (' (torchrun, gloo)' if r['processes'] > 1 else '')
            threads = ' x '.join([str(r['torch_threads'])] * r['processes'])
            print(
                f"{name:<40}{threads:>14}{r['global_batch']:>6}{r['windows_per_second']:>11.0f}"
                f"{r['train_seconds_per_epoch']:>9.3f}"
                f"{r['windows_per_second_with_validation']:>16.0f}"
                f"{r['process_wall_seconds']:>11.0f}"
            )
        s = result['speedup']
        print(
            f"DDP speed-up (2 processes x 1 thread): {s['ddp_vs_1proc_1thread']:.2f}x over 1"
            f" process x 1 thread, {s['ddp_vs_1proc_2threads']:.2f}x over 1 process x 2 threads"
            f" (the same 2 cores); target >= {result['target_speedup']}x"
        )
        if 'ddp_larger_batch_vs_1proc_1thread' in s:
            print(
                f"  with the whole batch on each rank (global batch {2 * result['global_batch']},"
                ' fewer steps per epoch; not the same training):'
                f" {s['ddp_larger_batch_vs_1proc_1thread']:.2f}x over 1 process x 1 thread"
            )
        before, after = result['load_average_before'], result['load_average_after']
        print(
            f"machine: {result['machine']}; load average {before[0]:.2f} before,"
            f' {after[0]:.2f} after'
        )
        print(
            'flat memory on a recording 10x longer: hybrid-fusion bench dataset (or --memory)'
        )
