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

r"""``hybrid-fusion train``: train encoders + fusion and write a checkpoint.

    hybrid-fusion train BAG [BAG ...] --map TOPIC:=INPUT[:TYPE] ... -o model.pt   # your recordings
    hybrid-fusion train BAGS --map ... --folds 5 --group-by 'subject(\d+)' --baseline --report cv/
    hybrid-fusion train -o model.pt                       # simulated data, one seed
    hybrid-fusion train --seeds 3 --report train_report   # 3 seeds: mean ± std, confusion PNG
    hybrid-fusion train --from model.pt --add-heads gmu -o model.pt   # a head on frozen encoders

Data-parallel on N processes (PyTorch DDP; gloo on CPU, NCCL for CUDA tensors), same arguments:

    torchrun --nproc_per_node N -m hybrid_fusion_ros.cli train BAG... --map TOPIC:=INPUT ... \
        -o model.pt

Each process trains on its share of the chunks with the same weights; rank 0 alone prints and
writes the checkpoint and report (see ``core/train.py:fit`` and ``core/distributed.py``).
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from dataclasses import replace
import json
from pathlib import Path
from typing import Any, Dict, List

import yaml

from hybrid_fusion_ros.cli import Command
from ..training.baseline_choice import BASELINE_RESULTS


def mean_std(values: List[float]) -> Dict[str, float]:
    import numpy as np

    arr = np.asarray(values, dtype=np.float64)
    return {
        'mean': float(arr.mean()),
        'std': float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
        'n': int(arr.size),
    }


class TrainCommand(Command):
    help = (
        'train the encoders and fusion model on labelled recordings (bags), or on simulated data, '
        'and write a checkpoint'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from hybrid_fusion_ros.core.fusion import STRATEGIES

        parser.add_argument(
            'bags',
            nargs='*',
            type=Path,
            metavar='BAG',
            help=(
                'rosbag2 directories (.mcap/.db3) or ROS 1 .bag files, or folders of them; '
                'none: the built-in simulation'
            ),
        )
        parser.add_argument(
            '--map',
            action='append',
            metavar='TOPIC:=INPUT[:TYPE]',
            help=(
                'a bag topic and the model input it is (name, and sensor type camera | imu | '
                "audio, by default the message type's); TOPIC:=ground_truth for a label topic"
            ),
        )
        parser.add_argument(
            '--truth',
            type=Path,
            metavar='FILE',
            help=(
                'labels of a single bag (start,end,label CSV or JSON); default: '
                '<bag>.labels.csv next to each bag, else its label topic'
            ),
        )
        parser.add_argument(
            '--val', nargs='+', type=Path, metavar='BAG', help='validation bags (early stopping)'
        )
        parser.add_argument(
            '--folds', type=int, help='cross-validation over groups of recordings: mean ± std'
        )
        parser.add_argument(
            '--group-by',
            metavar='REGEX',
            help=(
                "regex on the bag name picking its group (subject/session), e.g. 's(\\d+)_'; "
                'default: each bag its own group'
            ),
        )
        parser.add_argument(
            '--freeze-encoders',
            action='store_true',
            help='with --from: encoders taken from the checkpoint are not trained',
        )
        parser.add_argument(
            '--cv-only',
            action='store_true',
            help='with --folds: report the cross-validation only, train no final checkpoint',
        )
        parser.add_argument(
            '--baseline',
            nargs='*',
            choices=tuple(BASELINE_RESULTS),
            metavar='KIND',
            help=(
                'with --folds: also classical baselines on the same windows, each in every fold:'
                ' forest (engineered features + random forest), minirocket (MiniRocket + ridge,'
                ' needs aeon); no KIND: every one this install has. The network is compared'
                ' with the stronger'
            ),
        )
        parser.add_argument('--window-length', type=float, help='window length (s); default 1.0')
        parser.add_argument('--window-hop', type=float, help='window hop (s); default 0.5')
        parser.add_argument(
            '--jobs',
            type=int,
            default=0,
            help='processes building the dataset cache (0: all cores)',
        )
        parser.add_argument(
            '--cache-dir',
            type=Path,
            help='dataset cache (default ~/.cache/hybrid_fusion_ros/datasets)',
        )
        parser.add_argument(
            '--skip-bad',
            action='store_true',
            help='leave out (and name) bags that cannot be read, instead of stopping',
        )
        parser.add_argument(
            '--keep-at-chance',
            action='store_true',
            help='write the checkpoint even when its validation cannot be told from chance '
            '(a smoke test, a first epoch); without it such a run exits 2 and writes nothing',
        )
        parser.add_argument('--config', type=Path, help='YAML file of TrainConfig fields')
        parser.add_argument('--output', '-o', type=Path, default=Path('checkpoint.pt'))
        parser.add_argument('--seed', type=int, help='first seed')
        parser.add_argument(
            '--seeds',
            type=int,
            default=1,
            help=(
                'train this many seeds (seed, seed+1, ...); report mean ± std; '
                "the checkpoint written is the first seed's"
            ),
        )
        parser.add_argument(
            '--report', type=Path, help='write metrics.json and confusion.png here'
        )
        parser.add_argument('--epochs', type=int)
        parser.add_argument('--strategy', choices=[s for s in STRATEGIES if s != 'late'])
        parser.add_argument('--train-episodes', type=int)
        parser.add_argument('--val-episodes', type=int)
        parser.add_argument('--episode-seconds', type=float)
        parser.add_argument(
            '--from',
            dest='from_checkpoint',
            type=Path,
            help=(
                "start from this checkpoint's encoders (inputs of the same name and type); "
                'with --add-heads: the checkpoint whose frozen encoders the heads use'
            ),
        )
        parser.add_argument(
            '--add-heads',
            nargs='+',
            choices=list(STRATEGIES),
            metavar='STRATEGY',
            help=(
                f'only train fusion heads of these strategies ({", ".join(STRATEGIES)}) on '
                'the frozen encoders of --from, and write that checkpoint with them added'
            ),
        )

    def run(self, args: argparse.Namespace) -> int:
        from ..training.train import TrainConfig

        if args.add_heads:
            return self._add_heads(args)
        if args.seeds < 1:
            raise SystemExit(f'error: --seeds must be >= 1, got {args.seeds}')
        values: Dict[str, Any] = {}
        if args.config:
            values.update(yaml.safe_load(args.config.read_text()) or {})
        for f in fields(TrainConfig):
            v = getattr(args, f.name, None)
            if v is not None:
                values[f.name] = v
        known = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SystemExit(
                f'error: unknown training option(s) {unknown}; known: {sorted(known)}'
            )
        if args.bags:
            # Inputs come from the recordings; the simulation's episode options do not apply.
            values.setdefault('extra_strategies', ['late'])
            values.setdefault('encoders', {})  # inputs not named here: their type's default
        try:
            config = TrainConfig(**values) if not args.bags else values
        except ValueError as exc:
            raise SystemExit(f'error: {exc}')
        if args.bags:
            from .train_recordings import train_recordings

            return train_recordings(args, values)
        return self._train_seeds(args, config)

    def _train_seeds(self, args: argparse.Namespace, config) -> int:
        from hybrid_fusion_ros.core.calibration import describe as describe_calibration
        from ..training import distributed
        from ..training.train import train

        distributed.init_from_env()  # torchrun: join the other ranks (a no-op in one process)
        main = distributed.is_main()  # rank 0 alone writes and prints; all ranks train
        runs, first = [], None
        for k in range(args.seeds):
            cfg = replace(config, seed=config.seed + k)
            try:
                meta = {'command': 'hybrid-fusion train', 'data': 'simulated (core/simulation.py)'}
                result = train(cfg, progress=main, metadata=meta)
            except ValueError as exc:
                raise SystemExit(f'error: {exc}')
            if first is None:
                first = result
                path = result.checkpoint.save(args.output) if main else args.output
            runs.append(
                {
                    'seed': cfg.seed,
                    'val_accuracy': result.val_report['accuracy'],
                    'val_macro_f1': result.val_report['macro_f1'],
                    'epochs_run': len(result.history),
                    'heads': result.checkpoint.metadata.get('extra_val', {}),
                    'confusion_matrix': result.val_report['confusion_matrix'],
                }
            )
        summary = {
            'checkpoint': str(path),
            'data': 'simulated (core/simulation.py)',
            'seeds': [r['seed'] for r in runs],
            'val_accuracy': mean_std([r['val_accuracy'] for r in runs]),
            'val_macro_f1': mean_std([r['val_macro_f1'] for r in runs]),
            'heads': {
                s: {'val_macro_f1': mean_std([r['heads'][s]['macro_f1'] for r in runs])}
                for s in runs[0]['heads']
            },
            'runs': runs,
        }
        if args.report and main:
            import numpy as np

            from ..common.machine import machine
            from ..common.plots import plot_confusion

            args.report.mkdir(parents=True, exist_ok=True)
            summary['machine'] = machine()
            summary['train_config'] = first.checkpoint.metadata['train_config']
            (args.report / 'metrics.json').write_text(json.dumps(summary, indent=2))
            total = np.sum([np.asarray(r['confusion_matrix']) for r in runs], axis=0)
            f1 = summary['val_macro_f1']
            plot_confusion(
                total,
                first.checkpoint.classes,
                args.report / 'confusion.png',
                f"validation, {len(runs)} seed(s) summed: macro-F1 {f1['mean']:.3f} ±"
                f" {f1['std']:.3f}",
            )
        if not main:
            return 0
        f1, acc = summary['val_macro_f1'], summary['val_accuracy']
        print(
            json.dumps(
                {k: v for k, v in summary.items() if k not in ('runs', 'train_config')}, indent=2
            )
        )
        print(
            f"validation macro-F1 {f1['mean']:.3f} ± {f1['std']:.3f}, accuracy {acc['mean']:.3f} ±"
            f" {acc['std']:.3f} over {len(runs)} seed(s) (simulated data)"
        )
        print(describe_calibration(first.checkpoint.calibration))
        return 0

    def _add_heads(self, args: argparse.Namespace) -> int:
        from hybrid_fusion_ros.core.checkpoint import Checkpoint
        from hybrid_fusion_ros.core.checkpoint import CheckpointError
        from ..training.train import add_heads

        if args.from_checkpoint is None:
            raise SystemExit('error: --add-heads needs --from CHECKPOINT')
        try:
            ckpt = Checkpoint.load(args.from_checkpoint)
        except CheckpointError as exc:
            raise SystemExit(f'error: {exc}')
        out = add_heads(ckpt, args.add_heads)
        path = out.save(args.output)
        print(
            json.dumps(
                {
                    'checkpoint': str(path),
                    'fusion_models': out.fusion_strategies,
                    'heads_val': {s: out.metadata['extra_val'][s] for s in args.add_heads},
                },
                indent=2,
            )
        )
        return 0
