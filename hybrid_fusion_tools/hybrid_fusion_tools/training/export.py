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

"""Export of the encoders and the fusion step to TorchScript and ONNX, for edge runtimes
(TensorRT on Jetson takes ONNX), with parity checks against eager PyTorch.

What is exported is the network part only: ``Encoder.forward`` on a preprocessed window
(preprocessing is numpy, ``core/preprocessing.py``, and stays in Python) and one fusion step
``(mask, h, c, *features) -> (logits, h, c[, weights])``, so the LSTM state stays with the
caller as in the fusion node. A late model also gets its decision without a step,
``(mask, h) -> (log_probs, weights)``, for the fusion node's timer.

:func:`export_bundle` writes all of them for a checkpoint with the manifest that
``core/onnx_backend.py`` reads in a process without torch (format described there).
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from dataclasses import dataclass
import json
import os
from pathlib import Path
import shutil
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.encoders import Encoder
from hybrid_fusion_ros.core.fusion import FusionModel
from hybrid_fusion_ros.core.onnx_backend import BUNDLE_FORMAT
from hybrid_fusion_ros.core.onnx_backend import file_sha256
from hybrid_fusion_ros.core.onnx_backend import MANIFEST_NAME

DEFAULT_OPSET = 17


class FusionStep(nn.Module):
    """One streaming step of a fusion model with explicit state, for export: returns logits,
    h and c, and the per-modality weights for the strategies that give them (all but early)."""

    def __init__(self, model: FusionModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, mask: torch.Tensor, h: torch.Tensor, c: torch.Tensor, *features: torch.Tensor
    ) -> Tuple[torch.Tensor, ...]:
        out = self.model.step(list(features), mask, (h, c))
        if out.modality_weights is None:
            return out.logits, out.state[0], out.state[1]
        return out.logits, out.state[0], out.state[1], out.modality_weights


class LateDecide(nn.Module):
    """A late model's decision from its current states, without a step, for export."""

    def __init__(self, model: FusionModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, mask: torch.Tensor, h: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.model.decide((h, h), mask)  # decide reads h only


def fusion_output_names(model: FusionModel) -> List[str]:
    names = ['logits', 'h_out', 'c_out']
    return names if model.config.strategy == 'early' else [*names, 'weights']


def encoder_example(encoder: Encoder, batch: int = 1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn((batch, *encoder.input_spec.shape), generator=g)


def fusion_example(model: FusionModel, batch: int = 1, seed: int = 0) -> Tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    h, c = model.initial_state(batch)
    h = torch.randn(h.shape, generator=g) * 0.1
    c = torch.randn(c.shape, generator=g) * 0.1
    mask = torch.ones(batch, len(model.modalities))
    feats = [torch.randn(batch, d, generator=g) for d in model.config.feature_dims]
    return (mask, h, c, *feats)


def fusion_input_names(model: FusionModel) -> List[str]:
    return ['mask', 'h', 'c', *[f'feature_{m}' for m in model.modalities]]


def decide_example(model: FusionModel, batch: int = 1, seed: int = 0) -> Tuple[torch.Tensor, ...]:
    mask, h, _c, *_ = fusion_example(model, batch, seed)
    if batch > 1:
        mask[0, 0] = 0.0  # an absent modality's weight is 0
    return mask, h


def export_torchscript(module: nn.Module, example: Tuple[torch.Tensor, ...], path: Path) -> Path:
    traced = torch.jit.trace(module.eval(), example, check_trace=False)
    traced.save(str(path))
    return path


def export_onnx(
    module: nn.Module,
    example: Tuple[torch.Tensor, ...],
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    opset: int = DEFAULT_OPSET,
) -> Path:
    dynamic = {name: {0: 'batch'} for name in (*input_names, *output_names)}
    torch.onnx.export(
        module.eval(),
        example,
        str(path),
        input_names=list(input_names),
        output_names=list(output_names),
        dynamic_axes=dynamic,
        opset_version=opset,
        dynamo=False,
    )
    return path


@dataclass
class ExportedFile:
    name: str  # e.g. "encoder_camera", "fusion_early", "decide_late"
    format: str  # "onnx" or "torchscript"
    path: Path
    max_abs_diff: float


def _run_onnx(path: Path, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return session.run(None, feeds)


def export_all(
    encoders: Dict[str, Encoder],
    fusion_models: Dict[str, FusionModel],
    out_dir: Path,
    formats: Sequence[str] = ('onnx', 'torchscript'),
    opset: int = DEFAULT_OPSET,
) -> List[ExportedFile]:
    """Export every encoder and fusion model (and a late model's decision); each file is
    checked against eager PyTorch on an input it was not traced with (batch of 3, another
    seed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    jobs = [
        (
            f'encoder_{m}',
            enc,
            (encoder_example(enc),),
            encoder_example(enc, 3, seed=1),
            ['window'],
            ['feature'],
        )
        for m, enc in encoders.items()
    ]
    jobs += [
        (
            f'fusion_{s}',
            FusionStep(model),
            fusion_example(model),
            fusion_example(model, 3, seed=1),
            fusion_input_names(model),
            fusion_output_names(model),
        )
        for s, model in fusion_models.items()
    ]
    jobs += [
        (
            f'decide_{s}',
            LateDecide(model),
            decide_example(model),
            decide_example(model, 3, seed=1),
            ['mask', 'h'],
            ['log_probs', 'weights'],
        )
        for s, model in fusion_models.items()
        if model.config.strategy == 'late'
    ]
    for name, module, example, check, in_names, out_names in jobs:
        module = copy.deepcopy(module).eval()
        check = check if isinstance(check, tuple) else (check,)
        with torch.no_grad():
            expected = module(*check)
        expected = expected if isinstance(expected, tuple) else (expected,)
        if 'torchscript' in formats:
            path = export_torchscript(module, example, out_dir / f'{name}.pt')
            with torch.no_grad():
                got = torch.jit.load(str(path))(*check)
            got = got if isinstance(got, tuple) else (got,)
            diff = max(float((a - b).abs().max()) for a, b in zip(expected, got))
            results.append(ExportedFile(name, 'torchscript', path, diff))
        if 'onnx' in formats:
            path = export_onnx(
                module, example, out_dir / f'{name}.onnx', in_names, out_names, opset
            )
            got = _run_onnx(path, {n: t.numpy() for n, t in zip(in_names, check)})
            diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(expected, got))
            results.append(ExportedFile(name, 'onnx', path, diff))
    return results


def quantize_dynamic(model: nn.Module) -> nn.Module:
    """Dynamic INT8 quantization of the Linear and LSTM layers (weights int8, activations
    quantized on the fly), as CPUs without a GPU run it."""
    return torch.ao.quantization.quantize_dynamic(
        copy.deepcopy(model).eval(), {nn.Linear, nn.LSTMCell}, dtype=torch.qint8
    )


class BundleExportError(RuntimeError):
    """An ONNX file that does not reproduce eager PyTorch within the tolerance."""


@dataclass
class BundleExport:
    directory: Path
    files: List[ExportedFile]
    manifest: Dict[str, Any]


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    try:
        return version('hybrid_fusion_ros')
    except PackageNotFoundError:
        return 'unknown'


def bundle_manifest(
    ckpt: Checkpoint,
    encoders: Dict[str, Encoder],
    fusion_models: Dict[str, FusionModel],
    files: Sequence[ExportedFile],
    opset: int,
) -> Dict[str, Any]:
    """The manifest of a bundle (format in ``core/onnx_backend.py``): everything a process
    without torch needs from the checkpoint, and each ONNX file with its sha256."""
    from hybrid_fusion_ros.core.preprocessing import PREPROCESSORS

    assert ckpt.path is not None, 'a bundle is made from a checkpoint file'
    onnx = {f.name: f for f in files if f.format == 'onnx'}

    def file_entry(name: str) -> Dict[str, Any]:
        f = onnx[name]
        return {'file': f.path.name, 'sha256': file_sha256(f.path), 'max_abs_diff': f.max_abs_diff}

    def preprocessor_name(encoder: Encoder) -> Optional[str]:
        pre = encoder.preprocessor
        return pre.name if pre is not None and PREPROCESSORS.get(pre.name) is type(pre) else None

    encoder_entries = {
        m: {
            'plugin': ckpt.encoders[m]['name'],
            'preprocessor': preprocessor_name(enc),
            'config': enc.config_dict(),
            'input_shape': list(enc.input_spec.shape),
            'feature_dim': enc.output_dim,
            **file_entry(f'encoder_{m}'),
        }
        for m, enc in encoders.items()
    }
    models = {}
    for strategy, model in fusion_models.items():
        entry = {
            'config': model.config.to_dict(),
            'state_dim': int(model.initial_state(1)[0].shape[1]),
            'inputs': fusion_input_names(model),
            'outputs': fusion_output_names(model),
            **file_entry(f'fusion_{strategy}'),
        }
        if f'decide_{strategy}' in onnx:
            entry['decide'] = {
                'inputs': ['mask', 'h'],
                'outputs': ['log_probs', 'weights'],
                **file_entry(f'decide_{strategy}'),
            }
        models[strategy] = entry
    return {
        'format': BUNDLE_FORMAT,
        'opset': int(opset),
        'exported_with': {'torch': torch.__version__, 'hybrid_fusion_ros': _package_version()},
        'checkpoint': {
            'file': ckpt.path.name,
            'sha256': file_sha256(ckpt.path),
            'bytes': ckpt.path.stat().st_size,
        },
        'classes': list(ckpt.classes),
        'window': asdict(ckpt.window),
        'inputs': [spec.to_dict() for spec in ckpt.inputs],
        'encoders': encoder_entries,
        'fusion': {'primary': ckpt.fusion_strategies[0], 'models': models},
        'runtime': dict(ckpt.runtime),
        'calibration': dict(ckpt.calibration),
        'model_id': ckpt.model_id,
    }


def export_bundle(
    checkpoint: Path | str | None,
    out_dir: Path | str,
    opset: int = DEFAULT_OPSET,
    tolerance: float = 1e-4,
) -> BundleExport:
    """Export every encoder and fusion model of ``checkpoint`` (``None``: the packaged one) to
    ONNX in ``out_dir`` with its manifest, for ``core/onnx_backend.py``. Every file is checked
    against eager PyTorch first. The folder is written aside and renamed into place, so a
    reader never sees half a bundle, and an existing bundle there is replaced."""
    ckpt = Checkpoint.load(checkpoint)
    encoders = {m: ckpt.build_encoder(m)[0] for m in ckpt.modalities}
    fusion = {s: ckpt.build_fusion(s) for s in ckpt.fusion_strategies}
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.with_name(f'.{out_dir.name}.partial-{os.getpid()}')
    retired = out_dir.with_name(f'.{out_dir.name}.old-{os.getpid()}')
    shutil.rmtree(partial, ignore_errors=True)
    try:
        files = export_all(encoders, fusion, partial, ('onnx',), opset)
        worst = max(files, key=lambda f: f.max_abs_diff)
        if worst.max_abs_diff > tolerance:
            raise BundleExportError(
                f'{worst.name}.onnx differs from eager PyTorch by '
                f'{worst.max_abs_diff:.2e} > {tolerance:.0e}; no bundle '
                'written'
            )
        manifest = bundle_manifest(ckpt, encoders, fusion, files, opset)
        (partial / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + '\n')
        if out_dir.exists():
            out_dir.rename(retired)
        partial.rename(out_dir)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
    moved = [ExportedFile(f.name, f.format, out_dir / f.path.name, f.max_abs_diff) for f in files]
    return BundleExport(out_dir, moved, manifest)
