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

"""``hybrid-fusion bench basicmotions``: the sanity check on BasicMotions (UEA; smartwatch
accelerometer + gyroscope at 10 Hz, 4 classes, the archive's own 40/40 train/test split).
Most methods reach about 100% here, so a low score means a broken pipeline, not a hard task.
Fetch the data with scripts/fetch_basicmotions.sh."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hybrid_fusion_ros.cli import Command
from hybrid_fusion_ros.core.paths import cache_root
from ..training.baseline_choice import add_baseline_argument
from ..training.baseline_choice import BASELINE_RESULTS
from ..training.baseline_choice import baselines_or_exit


class BasicMotionsCommand(Command):
    help = (
        'sanity check: IMU CNN-LSTM and a feature + random forest baseline on BasicMotions (real'
        ' data)'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            '--data',
            type=Path,
            default=cache_root() / 'basicmotions',
            help='directory with BasicMotions_TRAIN.ts and BasicMotions_TEST.ts',
        )
        parser.add_argument('--seeds', type=int, default=3)
        parser.add_argument('--epochs', type=int, default=30)
        parser.add_argument('--window', type=float, default=2.0)
        parser.add_argument('--hop', type=float, default=0.5)
        parser.add_argument('--encoder', default='imu_hybrid', help='IMU encoder plugin')
        parser.add_argument(
            '--keep',
            choices=('best', 'last'),
            default='last',
            help='weights kept: the best epoch on the validation recordings, or the last',
        )
        add_baseline_argument(parser)
        parser.add_argument('--json', type=Path)

    def run(self, args: argparse.Namespace) -> int:
        import numpy as np
        from sklearn.ensemble import RandomForestClassifier
        from tqdm import tqdm

        from ..training.baseline import fit_predict
        from hybrid_fusion_ros.core.encoders import create_encoder
        from ..common.machine import machine_line
        from hybrid_fusion_ros.core.metrics import classification_report
        from ..training.train import ActivityModel
        from ..training.train import predict
        from ..training.train import train
        from ..training.train import TrainConfig
        from ..data.watch import BASICMOTIONS_RATE_HZ as RATE
        from ..data.watch import load_ts
        from ..data.watch import recording_features
        from ..data.watch import recording_sequence
        from hybrid_fusion_ros.core.windows import WindowSpec

        baselines = baselines_or_exit(args.baseline)
        try:
            train_recs, classes = load_ts(args.data / 'BasicMotions_TRAIN.ts')
            test_recs, test_classes = load_ts(args.data / 'BasicMotions_TEST.ts')
        except (FileNotFoundError, ValueError) as exc:
            raise SystemExit(f'error: {exc}')
        if test_classes != classes:
            raise SystemExit(
                f'error: train classes {classes} differ from test classes {test_classes}'
            )
        spec = WindowSpec(args.window, args.hop)
        encoder = create_encoder(args.encoder)
        train_seqs = [recording_sequence(r, spec, encoder, RATE) for r in train_recs]
        test_seqs = [recording_sequence(r, spec, encoder, RATE) for r in test_recs]
        # Validation for early stopping: the last 2 training recordings of each class.
        val_idx = [
            i
            for c in range(len(classes))
            for i in [j for j, r in enumerate(train_recs) if r.label == c][-2:]
        ]
        fit_idx = [i for i in range(len(train_recs)) if i not in val_idx]
        y_test = np.concatenate([s.labels for s in test_seqs])
        rec_truth = np.array([r.label for r in test_recs])

        def votes(pred: np.ndarray) -> np.ndarray:
            out, k = [], 0
            for s in test_seqs:
                out.append(np.bincount(pred[k : k + len(s)], minlength=len(classes)).argmax())
                k += len(s)
            return np.array(out)

        feats_train = [recording_features(r, spec, RATE) for r in train_recs]
        feats_test = np.concatenate([recording_features(r, spec, RATE) for r in test_recs])
        rows = []
        for seed in tqdm(range(args.seeds), desc='seeds', unit='seed'):
            config = TrainConfig(
                encoders={'imu': args.encoder},
                strategy='early',
                extra_strategies=[],
                window_length=args.window,
                window_hop=args.hop,
                seed=seed,
                epochs=args.epochs,
                seq_len=8,
                batch_size=8,
                patience=10,
                keep=args.keep,
            )
            result = train(
                config,
                [train_seqs[i] for i in fit_idx],
                [train_seqs[i] for i in val_idx],
                classes,
                progress=False,
                metadata={'data': 'BasicMotions'},
            )
            ckpt = result.checkpoint
            model = ActivityModel({'imu': ckpt.build_encoder('imu')[0]}, ckpt.build_fusion())
            pred = predict(model, test_seqs)
            cnn = classification_report(y_test, pred, classes)
            row = {
                'seed': seed,
                'cnn_lstm': {
                    'window_macro_f1': cnn['macro_f1'],
                    'recording_accuracy': float((votes(pred) == rec_truth).mean()),
                },
            }
            y_train = np.concatenate([s.labels for s in train_seqs])
            for kind in baselines:
                if kind == 'forest':
                    forest = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=-1)
                    forest.fit(np.concatenate(feats_train), y_train)
                    base_pred = forest.predict(feats_test)
                else:
                    base_pred = fit_predict(
                        kind,
                        [s.inputs for s in train_seqs],
                        y_train,
                        [s.inputs for s in test_seqs],
                        {'imu': 'imu'},
                        args.window,
                        ['imu'],
                        seed,
                    )
                row[BASELINE_RESULTS[kind][0]] = {
                    'window_macro_f1': classification_report(y_test, base_pred, classes)[
                        'macro_f1'
                    ],
                    'recording_accuracy': float((votes(base_pred) == rec_truth).mean()),
                }
            rows.append(row)
        summary = {}
        print(
            '\nBasicMotions (real, UEA archive; 40 train / 40 test recordings of 10 s at 10 Hz),'
            f' windows {args.window:g} s / hop {args.hop:g} s, mean ± std over {args.seeds}'
            f' seed(s); {machine_line()}:'
        )
        for name, label in (('cnn_lstm', 'IMU CNN-LSTM'), *BASELINE_RESULTS.values()):
            if name not in rows[0]:
                continue
            summary[name] = {}
            for key in ('window_macro_f1', 'recording_accuracy'):
                v = np.array([r[name][key] for r in rows])
                summary[name][key] = (float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0)
            f1, acc = summary[name]['window_macro_f1'], summary[name]['recording_accuracy']
            print(
                f'  {label:<26} window macro-F1 {f1[0]:.3f} ± {f1[1]:.3f}   recording accuracy '
                f'(majority of windows) {acc[0]:.3f} ± {acc[1]:.3f}'
            )
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(
                    {
                        'runs': rows,
                        'summary': summary,
                        'machine': machine_line(),
                        'args': {k: str(v) for k, v in vars(args).items()},
                    },
                    indent=2,
                )
            )
        return 0
