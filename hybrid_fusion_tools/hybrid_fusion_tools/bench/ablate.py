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

"""``hybrid-fusion bench ablate``: single modalities, pairs, fusion strategies, with and without
the CNN front end, and robustness to a removed modality, on SIMULATED data, mean ± std over
seeds, as one markdown table (core/ablation.py)."""

from __future__ import annotations

import argparse
from dataclasses import fields
import json
from pathlib import Path

from hybrid_fusion_ros.cli import Command


class AblateCommand(Command):
    help = (
        'ablation table on simulated data (modalities, strategies, CNN front end), mean ± std over'
        ' seeds'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from ..training.ablation import AblationConfig

        for f in fields(AblationConfig):
            if isinstance(f.default, bool):
                parser.add_argument(
                    '--' + f.name.replace('_', '-'),
                    action='store_true',
                    help='only the all-modality models (early, heads), each one input removed',
                )
                continue
            parser.add_argument(
                '--' + f.name.replace('_', '-'),
                type=type(f.default),
                default=f.default,
                help=f'(default {f.default})',
            )
        parser.add_argument(
            '--out',
            type=Path,
            default=Path('ablation'),
            help='directory for ablation.md and ablation.json',
        )

    def run(self, args: argparse.Namespace) -> int:
        from tqdm import tqdm

        from ..training.ablation import AblationConfig
        from ..training.ablation import markdown
        from ..training.ablation import run
        from ..common.machine import machine_line

        try:
            cfg = AblationConfig(**{f.name: getattr(args, f.name) for f in fields(AblationConfig)})
        except ValueError as exc:
            raise SystemExit(f'error: {exc}')
        steps = cfg.seeds * (
            3 if cfg.full_only else 10
        )  # data, 3 singles, 3 pairs, all, heads, linear
        with tqdm(total=steps, desc='ablation', unit='step') as bar:

            def progress(what: str) -> None:
                bar.set_postfix_str(what)
                bar.update(1)

            summary = run(cfg, progress)
        summary['machine'] = machine_line()
        args.out.mkdir(parents=True, exist_ok=True)
        table = markdown(summary)
        (args.out / 'ablation.md').write_text(
            f'# Ablation (simulated data)\n\nMachine: {summary["machine"]}\n\n{table}'
        )
        (args.out / 'ablation.json').write_text(json.dumps(summary, indent=2))
        print(table)
        print(f'written to {args.out}/ablation.md')
        return 0
