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

"""``hybrid-fusion export``: encoders and fusion steps to ONNX and TorchScript, each checked
against eager PyTorch; optionally dynamic INT8 quantization with its accuracy change.

``--bundle`` writes instead the ONNX bundle that the ONNX Runtime backend runs without torch
(``core/onnx_backend.py``): into the cache by default, next to the checkpoint with
``--next-to-checkpoint``, or into ``--out``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hybrid_fusion_ros.cli import Command


class ExportCommand(Command):
    help = 'export encoders and fusion steps to ONNX/TorchScript (parity-checked), optionally INT8'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--checkpoint', type=Path, help='default: the packaged checkpoint')
        parser.add_argument(
            '--out',
            type=Path,
            help=(
                "default: 'export', or with --bundle the cache "
                '(~/.cache/hybrid_fusion_ros/onnx/<checkpoint sha256>)'
            ),
        )
        parser.add_argument(
            '--bundle',
            action='store_true',
            help=(
                'write the ONNX bundle (ONNX files + manifest.json) the '
                'onnxruntime backend loads without torch'
            ),
        )
        parser.add_argument(
            '--next-to-checkpoint',
            action='store_true',
            help=(
                'with --bundle: write it as <checkpoint>.onnx/, to copy along with the checkpoint'
            ),
        )
        parser.add_argument('--opset', type=int, default=17, help='ONNX opset (default 17)')
        parser.add_argument(
            '--format', nargs='+', choices=['onnx', 'torchscript'], default=['onnx', 'torchscript']
        )
        parser.add_argument(
            '--tolerance', type=float, default=1e-4, help='max |eager - exported| allowed'
        )
        parser.add_argument(
            '--quantize',
            action='store_true',
            help=(
                'also write dynamic INT8 TorchScript models and report the accuracy change '
                'on simulated episodes'
            ),
        )
        parser.add_argument(
            '--episodes', type=int, default=6, help='simulated episodes for --quantize'
        )

    def run(self, args: argparse.Namespace) -> int:
        from hybrid_fusion_ros.core.checkpoint import Checkpoint
        from ..training.export import export_all

        if args.bundle:
            return self._bundle(args)
        if args.next_to_checkpoint:
            print('error: --next-to-checkpoint goes with --bundle')
            return 2
        args.out = args.out or Path('export')
        ckpt = Checkpoint.load(args.checkpoint)
        encoders = {m: ckpt.build_encoder(m)[0] for m in ckpt.modalities}
        fusion = {s: ckpt.build_fusion(s) for s in ckpt.fusion_strategies}
        results = export_all(encoders, fusion, args.out, args.format, args.opset)
        worst = 0.0
        for r in results:
            worst = max(worst, r.max_abs_diff)
            ok = 'ok' if r.max_abs_diff <= args.tolerance else 'MISMATCH'
            print(f'{r.path}  ({r.format}, max |eager - exported| {r.max_abs_diff:.2e}) {ok}')
        summary = {
            'files': [
                {
                    'name': r.name,
                    'format': r.format,
                    'path': str(r.path),
                    'max_abs_diff': r.max_abs_diff,
                }
                for r in results
            ]
        }
        if args.quantize:
            summary['quantization'] = self._quantize(ckpt, encoders, fusion, args)
        (args.out / 'export.json').write_text(json.dumps(summary, indent=2))
        if worst > args.tolerance:
            print(
                f'error: an export differs from eager PyTorch by {worst:.2e} >'
                f' {args.tolerance:.0e}'
            )
            return 1
        return 0

    @staticmethod
    def _bundle(args: argparse.Namespace) -> int:
        from hybrid_fusion_ros.core.checkpoint import CheckpointError
        from hybrid_fusion_ros.core.checkpoint import default_checkpoint_path
        from ..training.export import BundleExportError
        from ..training.export import export_bundle
        from hybrid_fusion_ros.core.onnx_backend import bundle_dir_next_to
        from hybrid_fusion_ros.core.onnx_backend import cached_bundle_dir
        from hybrid_fusion_ros.core.onnx_backend import file_sha256

        checkpoint = args.checkpoint or default_checkpoint_path()
        if not checkpoint.is_file():
            print(f'error: checkpoint {checkpoint}: no such file')
            return 2
        if args.out and args.next_to_checkpoint:
            print('error: give --out or --next-to-checkpoint, not both')
            return 2
        out = args.out or (
            bundle_dir_next_to(checkpoint)
            if args.next_to_checkpoint
            else cached_bundle_dir(file_sha256(checkpoint))
        )
        try:
            done = export_bundle(checkpoint, out, args.opset, args.tolerance)
        except (BundleExportError, CheckpointError) as exc:
            print(f'error: {exc}')
            return 1
        for f in done.files:
            print(f'{f.path}  (max |eager - onnx| {f.max_abs_diff:.2e})')
        print(f'ONNX bundle of {checkpoint} (opset {args.opset}): {done.directory}')
        return 0

    @staticmethod
    def _quantize(ckpt, encoders, fusion, args) -> dict:
        import numpy as np
        import torch

        from ..data.dataset import simulated_sequences
        from ..training.export import encoder_example
        from ..training.export import export_torchscript
        from ..training.export import fusion_example
        from ..training.export import FusionStep
        from ..training.export import quantize_dynamic
        from hybrid_fusion_ros.core.metrics import classification_report
        from ..training.train import ActivityModel
        from ..training.train import predict

        primary = ckpt.fusion_strategies[0]
        seqs = simulated_sequences(
            range(900_000, 900_000 + args.episodes), 40.0, ckpt.window, encoders, progress=True
        )
        labels = np.concatenate([s.labels for s in seqs])
        float_model = ActivityModel(encoders, fusion[primary])
        int8_model = quantize_dynamic(float_model)
        out = {}
        for name, model in (('float32', float_model), ('int8_dynamic', int8_model)):
            report = classification_report(labels, predict(model, seqs), ckpt.classes)
            out[name] = {'accuracy': report['accuracy'], 'macro_f1': report['macro_f1']}
        out['windows'] = int(len(labels))
        out['data'] = f'simulated, {args.episodes} episodes of 40 s (seeds 900000+)'
        for m, enc in int8_model.encoders.items():
            export_torchscript(enc, (encoder_example(enc),), args.out / f'encoder_{m}_int8.pt')
        with torch.no_grad():
            export_torchscript(
                FusionStep(int8_model.fusion),
                fusion_example(int8_model.fusion),
                args.out / f'fusion_{primary}_int8.pt',
            )
        print(
            f"dynamic INT8 ({out['windows']} simulated windows): accuracy"
            f" {out['float32']['accuracy']:.4f} -> {out['int8_dynamic']['accuracy']:.4f}, macro-F1"
            f" {out['float32']['macro_f1']:.4f} -> {out['int8_dynamic']['macro_f1']:.4f}"
        )
        return out
