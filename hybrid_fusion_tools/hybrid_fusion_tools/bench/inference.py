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

"""``hybrid-fusion bench``: per-window inference time of each encoder (preprocessing and
network) and of one fusion step, on this machine's CPU. Prints figures; asserts nothing.
``--backend torch onnxruntime`` times both backends on the same windows (the ONNX bundle is
exported into the cache first if there is none)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import time

from hybrid_fusion_ros.cli import Command
from ..common.machine import cpu_name as _cpu_name


def _as_trained(windows, encoder_config):
    """Simulated windows in the form the encoder was trained on: a depth camera's frames as
    metres (the colour frames' brightness mapped onto 0-4 m), everything else unchanged."""
    from dataclasses import replace

    import numpy as np

    if not encoder_config.get('depth'):
        return windows
    return [
        replace(w, samples=(w.samples.mean(axis=-1) * (4.0 / 255.0)).astype(np.float32))
        for w in windows
    ]


class BenchCommand(Command):
    help = 'time each encoder and fusion step per window on this CPU (figures, not a test)'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--checkpoint', type=Path)
        parser.add_argument('--windows', type=int, default=200, help='windows timed per encoder')
        parser.add_argument(
            '--threads', type=int, default=1, help='torch intra-op threads (the nodes use 1)'
        )
        parser.add_argument(
            '--backend',
            nargs='+',
            choices=['torch', 'onnxruntime'],
            default=['torch'],
            help='inference backend(s) to time',
        )
        parser.add_argument('--json', type=Path)

    def run(self, args: argparse.Namespace) -> int:
        import numpy as np
        import torch

        from hybrid_fusion_ros.core.checkpoint import Checkpoint
        from ..data.dataset import cut_windows
        from hybrid_fusion_ros.core.metrics import percentiles
        from ..data.simulation import Episode
        from ..data.simulation import episode_streams
        from hybrid_fusion_ros.core.windows import window_ends_between

        torch.set_num_threads(args.threads)
        ckpt = Checkpoint.load(args.checkpoint)
        seconds = args.windows * ckpt.window.hop + ckpt.window.length + 1.0
        ep = Episode(seconds, seed=4242, t0=0.0)
        ends = window_ends_between(ckpt.window, ckpt.window.length + 0.1, seconds - 0.5)[
            : args.windows
        ]
        simulated = cut_windows(episode_streams(ep), ckpt.window, ends, {'audio': 16000.0})
        # A model trained on a robot's own sensors (inputs 'thigh', 'front_depth', ...) is timed
        # on the simulated stream of each input's sensor type.
        windows = {
            m: _as_trained(simulated[ckpt.input(m).sensor_type], ckpt.encoders[m]['config'])
            for m in ckpt.modalities
        }
        rows = {}
        both = len(args.backend) > 1
        for backend in args.backend:
            tag = f' [{backend}]' if both else ''
            encoders, steppers = self._models(ckpt, backend, args.threads)
            for m in ckpt.modalities:
                preprocess, network = encoders[m]
                pre, net = [], []
                with torch.no_grad():
                    for i, w in enumerate(windows[m]):
                        t0 = time.perf_counter()
                        x = preprocess(w)[None]
                        t1 = time.perf_counter()
                        network(x)
                        t2 = time.perf_counter()
                        if i >= 10:  # warm-up excluded
                            pre.append((t1 - t0) * 1e3)
                            net.append((t2 - t1) * 1e3)
                rows[f'encoder {m} ({ckpt.encoders[m]["name"]}){tag}'] = {
                    'preprocess': percentiles(pre, (50, 95)),
                    'network': percentiles(net, (50, 95)),
                    'total': percentiles(np.add(pre, net), (50, 95)),
                }
            for strategy, step in steppers.items():
                dims = ckpt.build_fusion(strategy).config.feature_dims
                rng = np.random.default_rng(0)
                feats = [rng.standard_normal(d).astype(np.float32) for d in dims]
                mask = np.ones(len(feats), dtype=np.float32)
                state, times = None, []
                with torch.no_grad():
                    for i in range(args.windows):
                        t0 = time.perf_counter()
                        state = step(feats, mask, state)
                        if i >= 10:
                            times.append((time.perf_counter() - t0) * 1e3)
                rows[f'fusion step ({strategy}){tag}'] = {'total': percentiles(times, (50, 95))}
        machine = {
            'cpu': _cpu_name(),
            'logical_cpus': os.cpu_count(),
            'torch': torch.__version__,
            'torch_threads': args.threads,
            'python': platform.python_version(),
        }
        if 'onnxruntime' in args.backend:
            import onnxruntime

            machine['onnxruntime'] = onnxruntime.__version__
        print(
            f"{machine['cpu']}, {machine['logical_cpus']} logical CPUs, torch {machine['torch']},"
            f' {args.threads} thread(s); {args.windows - 10} windows each (simulated data), ms per'
            ' window'
        )
        print(
            f"{'stage':<52} {'preprocess p50':>15} {'network p50':>12} {'total p50':>10} "
            f"{'total p95':>10}"
        )
        for name, r in rows.items():
            pre = f"{r['preprocess']['p50']:.3f}" if 'preprocess' in r else '-'
            net = f"{r['network']['p50']:.3f}" if 'network' in r else '-'
            print(
                f"{name:<52} {pre:>15} {net:>12} {r['total']['p50']:>10.3f} "
                f"{r['total']['p95']:>10.3f}"
            )
        if args.json:
            args.json.write_text(json.dumps({'machine': machine, 'ms_per_window': rows}, indent=2))
        return 0

    @staticmethod
    def _models(ckpt, backend: str, threads: int):
        """Per input ``(preprocess, network)``, and per fusion strategy a step function
        ``(features, mask, state) -> state``, of one backend; both take numpy."""
        import torch

        if backend == 'onnxruntime':
            from hybrid_fusion_ros.core.onnx_backend import OnnxBundle
            from hybrid_fusion_ros.core.onnx_backend import OnnxEncoder
            from hybrid_fusion_ros.core.onnx_backend import OnnxFusion

            bundle = OnnxBundle.find(ckpt.path, export_if_missing=True)
            encoders = {m: OnnxEncoder(bundle, m, threads=threads) for m in ckpt.modalities}
            fusion = {s: OnnxFusion(bundle, s, threads=threads) for s in ckpt.fusion_strategies}
            return (
                {m: (e.preprocess, e.forward) for m, e in encoders.items()},
                {s: lambda f, m, st, fu=fu: fu.step(f, m, st).state for s, fu in fusion.items()},
            )
        encoders = {m: ckpt.build_encoder(m)[0] for m in ckpt.modalities}
        models = {s: ckpt.build_fusion(s) for s in ckpt.fusion_strategies}

        def torch_step(model):
            def step(features, mask, state):
                feats = [torch.from_numpy(f).reshape(1, -1) for f in features]
                return model.step(feats, torch.from_numpy(mask).reshape(1, -1), state).state

            return step

        return (
            {
                m: (e.preprocess, lambda x, e=e: e(torch.from_numpy(x)))
                for m, e in encoders.items()
            },
            {s: torch_step(model) for s, model in models.items()},
        )
