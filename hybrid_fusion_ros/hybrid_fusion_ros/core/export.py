"""Export of the encoders and the fusion step to TorchScript and ONNX, for edge runtimes
(TensorRT on Jetson takes ONNX), with parity checks against eager PyTorch.

What is exported is the network part only: ``Encoder.forward`` on a preprocessed window
(preprocessing is numpy and stays in Python) and one fusion step
``(mask, h, c, *features) -> (logits, h, c)``, so the LSTM state stays with the caller as in
the fusion node.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .encoders import Encoder
from .fusion import FusionModel


class FusionStep(nn.Module):
    """One streaming step of a fusion model with explicit state, for export."""

    def __init__(self, model: FusionModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, mask: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                *features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        out = self.model.step(list(features), mask, (h, c))
        return out.logits, out.state[0], out.state[1]


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


def _input_names(model: FusionModel) -> List[str]:
    return ['mask', 'h', 'c', *[f'feature_{m}' for m in model.modalities]]


def export_torchscript(module: nn.Module, example: Tuple[torch.Tensor, ...], path: Path) -> Path:
    traced = torch.jit.trace(module.eval(), example, check_trace=False)
    traced.save(str(path))
    return path


def export_onnx(module: nn.Module, example: Tuple[torch.Tensor, ...], path: Path,
                input_names: Sequence[str], output_names: Sequence[str]) -> Path:
    dynamic = {name: {0: 'batch'} for name in (*input_names, *output_names)}
    torch.onnx.export(module.eval(), example, str(path), input_names=list(input_names),
                      output_names=list(output_names), dynamic_axes=dynamic, opset_version=17, dynamo=False)
    return path


@dataclass
class ExportedFile:
    name: str          # e.g. "encoder_camera", "fusion_early"
    format: str        # "onnx" or "torchscript"
    path: Path
    max_abs_diff: float


def _run_onnx(path: Path, feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
    import onnxruntime as ort
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return session.run(None, feeds)


def export_all(encoders: Dict[str, Encoder], fusion_models: Dict[str, FusionModel], out_dir: Path,
               formats: Sequence[str] = ('onnx', 'torchscript')) -> List[ExportedFile]:
    """Export every encoder and fusion model; each file is checked against eager PyTorch on
    an input it was not traced with (batch of 3, another seed)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    jobs = [(f'encoder_{m}', enc, (encoder_example(enc),), encoder_example(enc, 3, seed=1), ['window'], ['feature'])
            for m, enc in encoders.items()]
    jobs += [(f'fusion_{s}', FusionStep(model), fusion_example(model), fusion_example(model, 3, seed=1),
              _input_names(model), ['logits', 'h_out', 'c_out'])
             for s, model in fusion_models.items()]
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
            path = export_onnx(module, example, out_dir / f'{name}.onnx', in_names, out_names)
            got = _run_onnx(path, {n: t.numpy() for n, t in zip(in_names, check)})
            diff = max(float(np.abs(a.numpy() - b).max()) for a, b in zip(expected, got))
            results.append(ExportedFile(name, 'onnx', path, diff))
    return results


def quantize_dynamic(model: nn.Module) -> nn.Module:
    """Dynamic INT8 quantization of the Linear and LSTM layers (weights int8, activations
    quantized on the fly), as CPUs without a GPU run it."""
    return torch.ao.quantization.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear, nn.LSTMCell},
                                                  dtype=torch.qint8)
