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

"""``hybrid-fusion bench watch``: the IMU CNN-LSTM against a classical baseline on real
smartwatch recordings (seglearn's watch dataset), with subject-wise folds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import platform

from hybrid_fusion_ros.cli import Command
from ..training.baseline_choice import add_baseline_argument
from ..training.baseline_choice import BASELINE_RESULTS
from ..training.baseline_choice import baselines_or_exit

# The models of a run, the network first: JSON key -> printed label.
MODELS = {'cnn_lstm': 'IMU CNN-LSTM ({encoder} + LSTM)', **dict(BASELINE_RESULTS.values())}


class WatchBenchmarkCommand(Command):
    help = (
        'IMU CNN-LSTM vs engineered features + random forest on real smartwatch data, subject-wise'
        ' folds'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            '--folds', type=int, default=5, help='subject-wise folds (2 test subjects each for 5)'
        )
        parser.add_argument('--epochs', type=int, default=25)
        parser.add_argument('--window', type=float, default=2.0, help='window length (s)')
        parser.add_argument('--hop', type=float, default=0.5, help='window hop (s)')
        parser.add_argument('--trees', type=int, default=300, help='random forest size')
        parser.add_argument(
            '--rotation-deg', type=float, default=10.0, help='IMU rotation augmentation (0: off)'
        )
        parser.add_argument(
            '--scale-jitter', type=float, default=0.1, help='IMU scale augmentation (0: off)'
        )
        parser.add_argument('--weight-decay', type=float, default=5e-2)
        parser.add_argument('--label-smoothing', type=float, default=0.0)
        parser.add_argument(
            '--keep', choices=('best', 'last'), default='last',
            help='weights kept: the best epoch on the validation subject, or the last (annealed)',
        )
        parser.add_argument(
            '--encoder', default='imu_hybrid', help='IMU encoder plugin of the network'
        )
        parser.add_argument(
            '--encoder-config',
            type=json.loads,
            default={},
            help="the encoder's config as JSON, e.g. '{\"dropout\": 0.3}'",
        )
        add_baseline_argument(parser)
        parser.add_argument('--json', type=Path, help='write the per-fold results here')

    def run(self, args: argparse.Namespace) -> int:
        import numpy as np
        from sklearn.ensemble import RandomForestClassifier
        from tqdm import tqdm

        from ..training.baseline import fit_predict
        from hybrid_fusion_ros.core.encoders import create_encoder
        from hybrid_fusion_ros.core.metrics import classification_report
        from ..training.train import ActivityModel
        from ..training.train import predict
        from ..training.train import train
        from ..training.train import TrainConfig
        from ..data.watch import load_watch
        from ..data.watch import recording_features
        from ..data.watch import recording_sequence
        from ..data.watch import subject_folds
        from hybrid_fusion_ros.core.windows import WindowSpec

        baselines = baselines_or_exit(args.baseline)
        recordings, classes = load_watch()
        spec = WindowSpec(args.window, args.hop)
        encoder_config = {'imu': {'acc_scale': 1.0, **args.encoder_config}}  # acceleration is in g
        preprocess = create_encoder(args.encoder, encoder_config['imu'])
        seqs = [recording_sequence(r, spec, preprocess) for r in recordings]
        feats = [recording_features(r, spec) for r in recordings]
        subjects = [r.subject for r in recordings]
        folds = subject_folds(subjects, args.folds)
        rows = []
        for k in tqdm(range(args.folds), desc='subject-wise folds', unit='fold'):
            test_subjects = set(folds[k])
            val_subject = folds[(k + 1) % args.folds][0]
            train_idx = [
                i for i, s in enumerate(subjects) if s not in test_subjects and s != val_subject
            ]
            val_idx = [i for i, s in enumerate(subjects) if s == val_subject]
            test_idx = [i for i, s in enumerate(subjects) if s in test_subjects]
            config = TrainConfig(
                encoders={'imu': args.encoder},
                encoder_configs=encoder_config,
                strategy='early',
                extra_strategies=[],
                window_length=args.window,
                window_hop=args.hop,
                seed=k,
                epochs=args.epochs,
                seq_len=16,
                batch_size=16,
                patience=8,
                imu_rotation_deg=args.rotation_deg,
                imu_scale_jitter=args.scale_jitter,
                weight_decay=args.weight_decay,
                label_smoothing=args.label_smoothing,
                keep=args.keep,
            )
            result = train(
                config,
                [seqs[i] for i in train_idx],
                [seqs[i] for i in val_idx],
                classes,
                progress=False,
                metadata={'data': 'seglearn watch'},
            )
            ckpt = result.checkpoint
            model = ActivityModel({'imu': ckpt.build_encoder('imu')[0]}, ckpt.build_fusion())
            y_test = np.concatenate([seqs[i].labels for i in test_idx])
            cnn = classification_report(
                y_test, predict(model, [seqs[i] for i in test_idx]), classes
            )
            fit_idx = train_idx + val_idx
            y_fit = np.concatenate([seqs[i].labels for i in fit_idx])
            row = {
                'fold': k,
                'test_subjects': sorted(test_subjects),
                'val_subject': val_subject,
                'test_windows': int(len(y_test)),
                'cnn_lstm': {'macro_f1': cnn['macro_f1'], 'accuracy': cnn['accuracy']},
            }
            for kind in baselines:
                if kind == 'forest':
                    # Features of the raw samples of the network's windows (docs/results.md §1).
                    forest = RandomForestClassifier(
                        n_estimators=args.trees, random_state=k, n_jobs=-1
                    )
                    forest.fit(np.concatenate([feats[i] for i in fit_idx]), y_fit)
                    pred = forest.predict(np.concatenate([feats[i] for i in test_idx]))
                else:
                    pred = fit_predict(
                        kind,
                        [seqs[i].inputs for i in fit_idx],
                        y_fit,
                        [seqs[i].inputs for i in test_idx],
                        {'imu': 'imu'},
                        args.window,
                        ['imu'],
                        k,
                    )
                base = classification_report(y_test, pred, classes)
                row[BASELINE_RESULTS[kind][0]] = {
                    'macro_f1': base['macro_f1'],
                    'accuracy': base['accuracy'],
                }
            rows.append(row)
            tqdm.write(
                f'fold {k} (test subjects {sorted(test_subjects)}): macro-F1 '
                + ', '.join(f"{m} {row[m]['macro_f1']:.3f}" for m in MODELS if m in row)
            )

        def stat(model, key):
            v = np.array([r[model][key] for r in rows])
            return float(v.mean()), float(v.std())

        summary = {
            m: {k: stat(m, k) for k in ('macro_f1', 'accuracy')} for m in MODELS if m in rows[0]
        }
        print(
            f'\nseglearn watch (real recordings, 50 Hz, 7 classes), {args.folds} subject-wise'
            f' folds, windows {args.window} s / hop {args.hop} s, window-level scores, mean ± std'
            ' over folds:'
        )
        for name, label in MODELS.items():
            if name not in summary:
                continue
            label = label.format(encoder=args.encoder)
            f1, acc = summary[name]['macro_f1'], summary[name]['accuracy']
            print(
                f'  {label:<34} macro-F1 {f1[0]:.3f} ± {f1[1]:.3f}   accuracy {acc[0]:.3f} ±'
                f' {acc[1]:.3f}'
            )
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(
                    {
                        'folds': rows,
                        'summary': summary,
                        'args': vars(args) | {'json': str(args.json)},
                        'machine': platform.platform(),
                    },
                    indent=2,
                )
            )
        return 0
