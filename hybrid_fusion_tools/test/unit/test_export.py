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

"""Export to TorchScript and ONNX (run by onnxruntime) matches eager PyTorch to 1e-4."""

import numpy as np
import pytest
import torch

from hybrid_fusion_tools.training.export import export_all
from hybrid_fusion_tools.training.export import fusion_example
from hybrid_fusion_tools.training.export import FusionStep
from hybrid_fusion_tools.training.export import quantize_dynamic


@pytest.fixture(scope='module')
def exported(tmp_path_factory, default_checkpoint):
    ckpt = default_checkpoint
    encoders = {m: ckpt.build_encoder(m)[0] for m in ckpt.modalities}
    fusion = {s: ckpt.build_fusion(s) for s in ckpt.fusion_strategies}
    out = tmp_path_factory.mktemp('export')
    return ckpt, encoders, fusion, out, export_all(encoders, fusion, out)


def test_every_model_exports_in_both_formats_within_tolerance(exported):
    ckpt, encoders, fusion, _, results = exported
    names = {(r.name, r.format) for r in results}
    expected = {(f'encoder_{m}', f) for m in encoders for f in ('onnx', 'torchscript')}
    expected |= {(f'fusion_{s}', f) for s in fusion for f in ('onnx', 'torchscript')}
    expected |= {('decide_late', f) for f in ('onnx', 'torchscript')}  # late mode's timer
    assert names == expected
    for r in results:
        assert r.path.is_file()
        assert r.max_abs_diff <= 1e-4, (r.name, r.format, r.max_abs_diff)


@pytest.mark.parametrize('strategy', ['attention', 'gmu', 'late'])
def test_onnx_fusion_step_with_a_masked_modality(exported, strategy):
    import onnxruntime as ort

    _, _, fusion, out, _ = exported
    model = fusion[strategy]
    mask, h, c, *feats = fusion_example(model, batch=2, seed=5)
    mask[0, 1] = 0.0
    mask[1, 2] = 0.0
    with torch.no_grad():
        expected = FusionStep(model)(mask, h, c, *feats)
    session = ort.InferenceSession(
        str(out / f'fusion_{strategy}.onnx'), providers=['CPUExecutionProvider']
    )
    names = [i.name for i in session.get_inputs()]
    got = session.run(None, dict(zip(names, [t.numpy() for t in (mask, h, c, *feats)])))
    assert len(expected) == len(got) == 4  # logits, h, c and the modality weights
    for a, b in zip(expected, got):
        np.testing.assert_allclose(a.numpy(), b, atol=1e-4)
    assert float(got[3][0, 1]) == 0.0 and float(got[3][1, 2]) == 0.0  # absent: no weight


def test_torchscript_encoder_runs_without_the_python_class(exported, default_checkpoint):
    _, encoders, _, out, _ = exported
    scripted = torch.jit.load(str(out / 'encoder_imu.pt'))
    x = torch.randn(4, *encoders['imu'].input_spec.shape)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), encoders['imu'](x))


def test_dynamic_int8_quantization_stays_close(exported, tmp_path):
    _, _, fusion, _, _ = exported
    model = fusion['early']
    q = quantize_dynamic(FusionStep(model))
    example = fusion_example(model, batch=8, seed=3)
    with torch.no_grad():
        ref = torch.softmax(FusionStep(model)(*example)[0], -1)
        got = torch.softmax(q(*example)[0], -1)
    assert torch.isfinite(got).all()
    assert float((ref - got).abs().max()) < 0.1
    assert (ref.argmax(-1) == got.argmax(-1)).float().mean() >= 0.75
