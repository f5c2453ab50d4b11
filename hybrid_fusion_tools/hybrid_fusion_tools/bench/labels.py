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

"""``hybrid-fusion bench labels``: what calibration, the 'unknown' threshold and activity events
add to a fusion step, measured in one run.

The same features (random, of the packaged checkpoint's sizes) go window by window through two
fusion runtimes on the chosen backend: one with the identity calibration and the label stream
left as it is (the floor), one with a temperature, a threshold and the event tracker fed each
label, as the fusion node does. Prints p50/p99 of each and of the difference per window.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import time

from hybrid_fusion_ros.cli import Command


class BenchLabelsCommand(Command):
    help = (
        'cost per window of calibration, unknown and activity events on top of the fusion step '
        '(against the bare step, in one run)'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--windows', type=int, default=3000, help='windows per pass')
        parser.add_argument('--repeats', type=int, default=3, help='passes of each, interleaved')
        parser.add_argument('--backend', choices=('torch', 'onnxruntime'), default='torch')
        parser.add_argument('--checkpoint', default='', help='default: the packaged one')
        parser.add_argument('--json', type=Path, help='also write the figures here')

    def run(self, args: argparse.Namespace) -> int:
        import numpy as np

        from hybrid_fusion_ros.core.calibration import Calibration
        from hybrid_fusion_ros.core.fusion_runtime import Feature
        from hybrid_fusion_ros.core.fusion_runtime import FusionRuntime
        from hybrid_fusion_ros.core.fusion_runtime import load_fusion
        from hybrid_fusion_ros.core.metrics import percentiles
        from ..common.machine import machine_line

        classes, steppers, description = load_fusion(args.backend, args.checkpoint)
        modalities = list(steppers[next(iter(steppers))].modalities)
        dims = list(steppers[next(iter(steppers))].feature_dims)
        rng = np.random.default_rng(0)
        feats = [rng.normal(size=(args.windows, d)).astype(np.float32) for d in dims]

        def one_pass(with_labels: bool) -> list:
            calibration = Calibration(1.7, 0.6) if with_labels else Calibration()
            rt = FusionRuntime(steppers, classes, calibration=calibration)
            times = []
            for k in range(args.windows):
                stamp = (k + 1) * 500_000_000
                start = time.perf_counter()
                for i, m in enumerate(modalities):
                    for label in rt.on_feature(m, Feature(feats[i][k], stamp, stamp, m), stamp):
                        if with_labels:
                            name = classes[label.class_id] if label.class_id >= 0 else 'unknown'
                            rt.events.update(
                                stamp - 1_000_000_000,
                                stamp,
                                name,
                                label.class_id,
                                label.confidence,
                            )
                times.append((time.perf_counter() - start) * 1e3)
            return times

        bare, full = [], []
        for _ in range(args.repeats):
            bare += one_pass(False)
            full += one_pass(True)
        qs = (50, 99)
        b, f = percentiles(bare, qs), percentiles(full, qs)
        result = {
            'machine': machine_line(),
            'backend': args.backend,
            'model_id': description.model_id,
            'windows': len(bare),
            'bare_ms': b,
            'with_calibration_unknown_events_ms': f,
            'added_ms': {k: f[k] - b[k] for k in b},
        }
        print(f"machine: {result['machine']}; {args.backend}; {len(bare)} windows each")
        print(f"  fusion step alone:              p50 {b['p50']:.3f} ms  p99 {b['p99']:.3f} ms")
        print(f"  + calibration, unknown, events: p50 {f['p50']:.3f} ms  p99 {f['p99']:.3f} ms")
        print(
            f"  added:                          p50 {f['p50'] - b['p50']:+.3f} ms  "
            f"p99 {f['p99'] - b['p99']:+.3f} ms (target: <= 0.2 ms at p99)"
        )
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return 0
