"""``hybrid-fusion train``: train encoders + fusion and write a checkpoint."""
from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

import yaml

from . import Command


class TrainCommand(Command):
    help = 'train the encoders and fusion model on simulated multimodal data and write a checkpoint'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--config', type=Path, help='YAML file of TrainConfig fields')
        parser.add_argument('--output', '-o', type=Path, default=Path('checkpoint.pt'))
        parser.add_argument('--seed', type=int)
        parser.add_argument('--epochs', type=int)
        parser.add_argument('--strategy', choices=['early', 'attention'])
        parser.add_argument('--train-episodes', type=int)
        parser.add_argument('--val-episodes', type=int)
        parser.add_argument('--episode-seconds', type=float)

    def run(self, args: argparse.Namespace) -> int:
        from ..core.train import TrainConfig, train
        values = {}
        if args.config:
            values.update(yaml.safe_load(args.config.read_text()) or {})
        for f in fields(TrainConfig):
            v = getattr(args, f.name, None)
            if v is not None:
                values[f.name] = v
        known = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SystemExit(f'error: unknown training option(s) {unknown}; known: {sorted(known)}')
        config = TrainConfig(**values)
        result = train(config, metadata={'command': 'hybrid-fusion train', 'data': 'simulated (core/simulation.py)'})
        path = result.checkpoint.save(args.output)
        print(json.dumps({'checkpoint': str(path), 'val_accuracy': round(result.val_report['accuracy'], 4),
                          'val_macro_f1': round(result.val_report['macro_f1'], 4),
                          'epochs_run': len(result.history),
                          'extra_fusion_models': result.checkpoint.metadata.get('extra_val', {})}, indent=2))
        return 0
