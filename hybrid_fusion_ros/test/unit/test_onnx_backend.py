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

"""The ONNX Runtime backend: a process that never imports torch gives the torch backend's
features, probabilities and labels (1e-4) over whole simulated sequences, LSTM state carried,
in every fusion strategy and with every input mask; each bad input raises its own error."""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from hybrid_fusion_ros.core import onnx_backend as ob
from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.windows import window_ends_between
from hybrid_fusion_tools.data.dataset import cut_windows
from hybrid_fusion_tools.data.simulation import Episode
from hybrid_fusion_tools.data.simulation import episode_streams
from hybrid_fusion_tools.training.export import export_bundle

SECONDS, SEED = 24.0, 31

# Runs in a child process: numpy + onnxruntime only. It writes what it computed to an .npz
# and fails if torch was imported on the way.
TORCH_FREE_RUN = """
import itertools, sys
import numpy as np
from hybrid_fusion_ros.core.onnx_backend import OnnxBundle, load_onnx_encoder, load_onnx_steppers
from hybrid_fusion_tools.data.simulation import Episode, episode_streams
from hybrid_fusion_ros.core.windows import SensorWindow, window_ends_between

checkpoint, seconds, seed, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
bundle = OnnxBundle.find(checkpoint)
spec = bundle.window
ends = window_ends_between(spec, spec.length + 0.1, seconds - 0.5)
results = {}
for name, (stamps, samples) in episode_streams(Episode(seconds, seed=seed, t0=0.0)).items():
    encoder = load_onnx_encoder(checkpoint, name)
    lo = np.searchsorted(stamps, ends - spec.length)
    hi = np.searchsorted(stamps, ends)
    rate = 16000.0 if name == 'audio' else None
    windows = [SensorWindow(name, float(e - spec.length), float(e), stamps[a:b], samples[a:b],
                            rate) for e, a, b in zip(ends, lo, hi)]
    results[f'pre_{name}'] = np.stack([encoder.preprocess(w) for w in windows])
    results[f'feat_{name}'] = np.stack([encoder.encode(w) for w in windows])
feats = [results[f'feat_{m}'] for m in bundle.modalities]
masks = list(itertools.product((0.0, 1.0), repeat=len(feats)))


def softmax(scores):
    e = np.exp(scores - scores.max())
    return e / e.sum()


classes, steppers = load_onnx_steppers(checkpoint)
assert classes == bundle.classes and list(steppers) == bundle.fusion_strategies
for strategy, fusion in steppers.items():
    for k, mask in enumerate(masks):
        state, probs, weights = None, [], []
        for t in range(len(ends)):
            scores, w, state = fusion.step([f[t] for f in feats], np.array(mask), state)
            probs.append(softmax(scores))
            weights.append(w if w is not None else np.zeros(0))
        results[f'{strategy}_{k}_probs'] = np.stack(probs)
        results[f'{strategy}_{k}_weights'] = np.stack(weights)
    if strategy == 'late':   # the fusion node's late mode: one input at a time, then decide
        for k, mask in enumerate(masks):
            state, probs = fusion.initial_state(), []
            for t in range(len(ends)):
                for i in np.flatnonzero(mask):
                    alone = [f[t] if j == i else None for j, f in enumerate(feats)]
                    state = fusion.late_update(alone, np.eye(len(feats))[i], state)
                probs.append(softmax(fusion.decide(state, np.array(mask))[0]))
            results[f'late_timer_{k}_probs'] = np.stack(probs)
np.savez(out, **results)
loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))
assert not loaded, f'the ONNX Runtime path imported {loaded[:5]}'
print('torch-free run ok:', len(ends), 'windows')
"""


@pytest.fixture(scope='module')
def packaged(tmp_path_factory):
    """A copy of the packaged checkpoint with its bundle exported next to it."""
    from hybrid_fusion_ros.core.checkpoint import default_checkpoint_path

    path = tmp_path_factory.mktemp('packaged') / 'default.pt'
    shutil.copyfile(default_checkpoint_path(), path)
    export_bundle(path, ob.bundle_dir_next_to(path))
    return path


@pytest.fixture(scope='module')
def normalized(tmp_path_factory, default_checkpoint):
    """The packaged checkpoint with per-channel normalization statistics on every encoder
    (measured on simulated windows, as training does), bundle next to it."""
    ckpt = default_checkpoint
    encoders = {m: ckpt.build_encoder(m)[0] for m in ckpt.modalities}
    windows = _windows(ckpt, 12.0, 5)
    for m, enc in encoders.items():
        x = np.stack([enc.preprocess(w) for w in windows[m]])
        axes = (0, *range(2, x.ndim))
        enc.set_normalization(x.mean(axis=axes) + 0.1, x.std(axis=axes) * 1.5)
    fusion = {s: ckpt.build_fusion(s) for s in ckpt.fusion_strategies}
    primary = ckpt.fusion_strategies[0]
    made = Checkpoint.from_models(
        ckpt.classes,
        ckpt.window,
        encoders,
        {m: ckpt.encoders[m]['name'] for m in encoders},
        fusion[primary],
        {'note': 'normalized for the ONNX test'},
        {s: f for s, f in fusion.items() if s != primary},
        {i.name: i for i in ckpt.inputs},
    )
    path = made.save(tmp_path_factory.mktemp('normalized') / 'normalized.pt')
    export_bundle(path, ob.bundle_dir_next_to(path))
    return path


def _windows(ckpt, seconds: float, seed: int):
    spec = ckpt.window
    ends = window_ends_between(spec, spec.length + 0.1, seconds - 0.5)
    return cut_windows(
        episode_streams(Episode(seconds, seed=seed, t0=0.0)), spec, ends, {'audio': 16000.0}
    )


def _torch_free_run(checkpoint: Path, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, '-c', TORCH_FREE_RUN, str(checkpoint), str(SECONDS), str(SEED), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'torch-free run ok' in done.stdout
    return dict(np.load(out))


def _torch_features(ckpt):
    windows = _windows(ckpt, SECONDS, SEED)
    encoders = {m: ckpt.build_encoder(m)[0] for m in ckpt.modalities}
    pre = {m: np.stack([enc.preprocess(w) for w in windows[m]]) for m, enc in encoders.items()}
    feats = {m: np.stack([enc.encode(w) for w in windows[m]]) for m, enc in encoders.items()}
    return pre, feats


def _assert_same_decisions(expected: np.ndarray, got: np.ndarray, what: str) -> None:
    np.testing.assert_allclose(got, expected, atol=1e-4, err_msg=what)
    top2 = np.sort(expected, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2e-4  # a label is compared where it is not a tie
    if np.ptp(expected) > 0:  # late with no input present is uniform: all ties, by design
        assert clear.mean() > 0.95, what
    assert np.array_equal(expected.argmax(1)[clear], got.argmax(1)[clear]), what


@torch.no_grad()
def test_torch_free_process_matches_torch_over_a_sequence_in_every_mode_and_mask(
    packaged, tmp_path
):
    got = _torch_free_run(packaged, tmp_path / 'onnx.npz')
    ckpt = Checkpoint.load(packaged)
    pre, feats = _torch_features(ckpt)
    for m in ckpt.modalities:  # the shared numpy preprocessing: bit-identical
        assert np.array_equal(got[f'pre_{m}'], pre[m]), m
        np.testing.assert_allclose(got[f'feat_{m}'], feats[m], atol=1e-4, err_msg=m)
    steps = len(feats['camera'])
    assert steps >= 40
    masks = list(itertools.product((0.0, 1.0), repeat=len(ckpt.modalities)))
    seen_weights = 0
    for strategy in ckpt.fusion_strategies:
        model = ckpt.build_fusion(strategy)
        for k, mask in enumerate(masks):
            # Features come from the ONNX run, so the fusion comparison is of fusion alone.
            xs = [torch.from_numpy(got[f'feat_{m}']) for m in ckpt.modalities]
            mask_t = torch.tensor([mask])
            state, probs, weights = None, [], []
            for t in range(steps):
                out = model.step([x[t : t + 1] for x in xs], mask_t, state)
                state = out.state
                probs.append(torch.softmax(out.logits[0], 0).numpy())
                if out.modality_weights is not None:
                    weights.append(out.modality_weights[0].numpy())
            what = f'{strategy}, mask {mask}'
            _assert_same_decisions(np.stack(probs), got[f'{strategy}_{k}_probs'], what)
            if weights:
                np.testing.assert_allclose(
                    got[f'{strategy}_{k}_weights'], np.stack(weights), atol=1e-4, err_msg=what
                )
                seen_weights += 1
            else:
                assert got[f'{strategy}_{k}_weights'].size == 0, what
    assert seen_weights == 3 * len(masks)  # attention, gmu and late give weights
    late = ckpt.build_fusion('late')
    xs = [torch.from_numpy(got[f'feat_{m}']) for m in ckpt.modalities]
    eye = torch.eye(len(xs))
    for k, mask in enumerate(masks):
        state, probs = late.initial_state(1), []
        for t in range(steps):
            for i in np.flatnonzero(mask):
                alone = [
                    x[t : t + 1] if j == i else torch.zeros_like(x[t : t + 1])
                    for j, x in enumerate(xs)
                ]
                state = late.step(alone, eye[i : i + 1], state).state
            probs.append(torch.softmax(late.decide(state, torch.tensor([mask]))[0][0], 0).numpy())
        _assert_same_decisions(np.stack(probs), got[f'late_timer_{k}_probs'], f'late timer {mask}')
    # The early model, all inputs present, recognises the simulated activities: the sequence
    # compared is a meaningful one, not noise.
    truth = Episode(SECONDS, seed=SEED, t0=0.0).labels(
        window_ends_between(ckpt.window, ckpt.window.length + 0.1, SECONDS - 0.5)
        - ckpt.window.length / 2
    )
    assert (got['early_7_probs'].argmax(1) == truth).mean() > 0.8


@torch.no_grad()
def test_normalization_statistics_and_encoder_description_travel_with_the_bundle(
    normalized, default_checkpoint
):
    bundle = ob.OnnxBundle.find(normalized)
    ckpt = Checkpoint.load(normalized)
    windows = _windows(ckpt, 8.0, 3)
    for m in ckpt.modalities:
        config = bundle.manifest['encoders'][m]['config']
        assert config['norm_mean'] == ckpt.encoders[m]['config']['norm_mean'] is not None
        torch_enc, onnx_enc = ckpt.build_encoder(m)[0], ob.OnnxEncoder(bundle, m)
        # What the encoder node reads of an encoder, alike in both backends.
        assert onnx_enc.input_spec == torch_enc.input_spec
        assert onnx_enc.modality == torch_enc.modality
        assert onnx_enc.output_dim == torch_enc.output_dim
        assert getattr(onnx_enc.config, 'depth', None) == getattr(torch_enc.config, 'depth', None)
        plain = default_checkpoint.build_encoder(m)[0]
        for w in windows[m][:6]:
            got = onnx_enc.encode(w)
            np.testing.assert_allclose(got, torch_enc.encode(w), atol=1e-4, err_msg=m)
            assert np.abs(got - plain.encode(w)).max() > 1e-2  # the statistics act


def test_onnx_steppers_are_interchangeable_with_the_torch_steppers(packaged):
    """Both backends behind core/fusion_runtime.py's stepper interface, call for call."""
    from hybrid_fusion_ros.core.fusion_backend import load_torch_steppers
    from hybrid_fusion_ros.core.fusion_runtime import StepResult

    torch_classes, torch_steppers = load_torch_steppers(str(packaged))
    classes, steppers = ob.load_onnx_steppers(str(packaged))
    assert classes == torch_classes and list(steppers) == list(torch_steppers)
    rng = np.random.default_rng(4)
    for strategy, stepper in steppers.items():
        reference = torch_steppers[strategy]
        assert stepper.modalities == reference.modalities
        assert stepper.feature_dims == reference.feature_dims
        state = expected_state = None
        for _ in range(30):
            feats = [rng.standard_normal(d).astype(np.float32) for d in stepper.feature_dims]
            mask = rng.integers(0, 2, len(feats)).astype(np.float32)
            got, expected = stepper.step(feats, mask, state), reference.step(
                feats, mask, expected_state
            )
            assert isinstance(got, StepResult)
            np.testing.assert_allclose(got.scores, expected.scores, atol=1e-4)
            assert (got.weights is None) == (expected.weights is None)
            if got.weights is not None:
                np.testing.assert_allclose(got.weights, expected.weights, atol=1e-4)
            state, expected_state = got.state, expected.state
        if strategy == 'late':
            alone = np.array([0.0, 1.0, 0.0], dtype=np.float32)
            state = stepper.late_update(feats, alone, state)
            expected_state = reference.late_update(feats, alone, expected_state)
            for mask in (np.ones(3, np.float32), np.array([1, 0, 1], np.float32)):
                for a, b in zip(
                    stepper.decide(state, mask), reference.decide(expected_state, mask)
                ):
                    np.testing.assert_allclose(a, b, atol=1e-4)


def test_bundle_found_next_to_the_checkpoint_then_in_the_cache(packaged, tmp_path):
    assert ob.OnnxBundle.find(packaged).directory == ob.bundle_dir_next_to(packaged)
    lone = tmp_path / 'lone.pt'
    shutil.copyfile(packaged, lone)
    with pytest.raises(ob.OnnxBundleNotFoundError, match='hybrid-fusion export --bundle'):
        ob.OnnxBundle.find(lone, cache_dir=tmp_path / 'cache')
    # Exported on first use, by a child process, into the cache under the checkpoint's hash.
    bundle = ob.OnnxBundle.find(lone, cache_dir=tmp_path / 'cache', export_if_missing=True)
    assert bundle.directory == tmp_path / 'cache' / ob.file_sha256(lone)
    assert ob.OnnxBundle.find(lone, cache_dir=tmp_path / 'cache').directory == bundle.directory
    assert bundle.classes == Checkpoint.load(lone).classes
    assert [i.name for i in bundle.inputs] == ['camera', 'imu', 'audio']


def _doctored(packaged: Path, tmp_path: Path, edit) -> Path:
    """A copy of the packaged bundle changed by ``edit(directory, manifest)``."""
    directory = tmp_path / 'doctored'
    shutil.copytree(ob.bundle_dir_next_to(packaged), directory)
    manifest = json.loads((directory / ob.MANIFEST_NAME).read_text())
    edit(directory, manifest)
    (directory / ob.MANIFEST_NAME).write_text(json.dumps(manifest))
    return directory


def _rehash(directory: Path, entry: dict) -> None:
    entry['sha256'] = ob.file_sha256(directory / entry['file'])


def test_a_bundle_of_another_checkpoint_is_refused(packaged, normalized):
    with pytest.raises(
        ob.OnnxBundleMismatchError,
        match=r'exported from default\.pt .* not from .*normalized\.pt.*'
        r're-export it with `hybrid-fusion export --bundle',
    ):
        ob.OnnxBundle.find(normalized, onnx_dir=ob.bundle_dir_next_to(packaged))


def test_files_that_do_not_match_the_manifest_are_refused(packaged, tmp_path):
    def swap(directory, manifest):  # another export's file under the same name
        shutil.copyfile(directory / 'fusion_gmu.onnx', directory / 'fusion_early.onnx')

    with pytest.raises(
        ob.OnnxBundleMismatchError, match=r'fusion_early.onnx .*\(sha256 differs\)'
    ):
        ob.OnnxBundle.load(_doctored(packaged, tmp_path / 'a', swap), packaged)

    def other_input(directory, manifest):  # the IMU's file now takes audio windows
        shutil.copyfile(directory / 'encoder_audio.onnx', directory / 'encoder_imu.onnx')
        _rehash(directory, manifest['encoders']['imu'])

    bundle = ob.OnnxBundle.load(_doctored(packaged, tmp_path / 'b', other_input), packaged)
    with pytest.raises(ob.OnnxBundleMismatchError, match=r'takes windows of shape \[1, 40, 61\]'):
        ob.OnnxEncoder(bundle, 'imu')

    def other_inputs(directory, manifest):  # a fusion model over other inputs
        entry = manifest['fusion']['models']['early']
        entry['inputs'] = [
            *entry['inputs'][:3],
            'feature_front_depth',
            'feature_wrist_imu',
            'feature_audio',
        ]

    bundle = ob.OnnxBundle.load(_doctored(packaged, tmp_path / 'c', other_inputs), packaged)
    with pytest.raises(ob.OnnxBundleMismatchError, match='takes inputs .*feature_camera'):
        ob.OnnxFusion(bundle, 'early')
    with pytest.raises(ob.OnnxBundleMismatchError, match="no input 'wrist_imu'"):
        ob.OnnxEncoder(ob.OnnxBundle.find(packaged), 'wrist_imu')


def test_an_opset_this_onnxruntime_lacks_is_named(packaged, tmp_path):
    import onnx

    def newer(directory, manifest):
        path = directory / 'encoder_imu.onnx'
        model = onnx.load(str(path))
        model.opset_import[0].version = 40
        onnx.save(model, str(path))
        _rehash(directory, manifest['encoders']['imu'])
        manifest['opset'] = 40

    bundle = ob.OnnxBundle.load(_doctored(packaged, tmp_path, newer), packaged)
    with pytest.raises(
        ob.OnnxOpsetError,
        match=r'opset 40, which onnxruntime \S+ cannot run ' r'\(it supports opset \d+\).*--opset',
    ):
        ob.OnnxEncoder(bundle, 'imu')


def test_onnxruntime_missing_is_named_with_the_install(packaged, monkeypatch):
    bundle = ob.OnnxBundle.find(packaged)
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)  # `import onnxruntime` now fails
    with pytest.raises(ob.OnnxRuntimeMissingError, match='pip install onnxruntime.*edge-onnx'):
        ob.OnnxEncoder(bundle, 'imu')


def test_providers_used_in_the_order_asked_with_a_warning_on_fallback(packaged, caplog):
    import onnxruntime as ort

    available = ort.get_available_providers()
    bundle = ob.OnnxBundle.find(packaged)
    jetson = ['TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider']
    missing = [p for p in jetson if p not in available]
    if not missing:
        pytest.skip('this onnxruntime has TensorRT and CUDA: no fallback to see')
    with caplog.at_level(logging.WARNING, logger=ob.__name__):
        fusion = ob.OnnxFusion(bundle, 'attention', providers=jetson)
    first = [p for p in jetson if p in available][0]
    assert fusion.providers[0] == first
    assert len(fusion.warnings) == 1
    assert fusion.warnings[0].startswith(f'{jetson[0]} is not available')
    assert f'running on {first}' in fusion.warnings[0]
    assert fusion.warnings[0] in caplog.text
    assert ob.OnnxFusion(bundle, 'attention').warnings == []  # CPU asked, CPU used
    only = missing[-1]
    with pytest.raises(
        ob.OnnxProviderError,
        match=rf'no execution provider of \[{only}\] is available .*'
        rf'available: .*CPUExecutionProvider',
    ):
        ob.OnnxEncoder(bundle, 'camera', providers=[only])
    with pytest.raises(
        ob.OnnxProviderError, match='unknown .* CPUExecutionProvder: check the spelling'
    ):
        ob.OnnxEncoder(bundle, 'camera', providers=['CPUExecutionProvder'])


def test_other_refusals(packaged, tmp_path):
    bundle = ob.OnnxBundle.find(packaged)
    with pytest.raises(ob.OnnxBundleMismatchError, match="no 'nope' fusion model"):
        ob.OnnxFusion(bundle, 'nope')
    with pytest.raises(ValueError, match='decide\\(\\) needs the late fusion model'):
        ob.OnnxFusion(bundle, 'early').decide(None, np.ones(3))
    with pytest.raises(ob.OnnxBundleNotFoundError, match='no manifest.json'):
        ob.OnnxBundle.load(tmp_path)

    def torch_only(directory, manifest):
        manifest['encoders']['audio']['preprocessor'] = None

    doctored = ob.OnnxBundle.load(_doctored(packaged, tmp_path / 'p', torch_only), packaged)
    with pytest.raises(ob.OnnxBackendError, match='runs only with inference_backend torch'):
        ob.OnnxEncoder(doctored, 'audio')

    def old_format(directory, manifest):
        manifest['format'] = 0

    with pytest.raises(ob.OnnxBundleMismatchError, match='format 0, this version reads format 1'):
        ob.OnnxBundle.load(_doctored(packaged, tmp_path / 'f', old_format))


def test_both_backends_describe_the_checkpoint_alike_model_id_included(packaged):
    """An encoder on onnxruntime and a fusion node on torch (or the reverse) agree on the model
    id, so a graph may mix backends; the bundle carries the calibration too."""
    from hybrid_fusion_ros.core.encoder_runtime import EncoderConfig
    from hybrid_fusion_ros.core.encoder_runtime import load_encoder
    from hybrid_fusion_ros.core.fusion_runtime import load_fusion

    torch_desc = load_fusion('torch', str(packaged))[2]
    onnx_desc = load_fusion('onnxruntime', str(packaged))[2]
    assert torch_desc.model_id == onnx_desc.model_id == Checkpoint.load(packaged).model_id
    assert (torch_desc.classes, torch_desc.inputs) == (onnx_desc.classes, onnx_desc.inputs)
    assert torch_desc.calibration == onnx_desc.calibration
    for backend in ('torch', 'onnxruntime'):
        loaded = load_encoder(
            EncoderConfig(input='imu', checkpoint=str(packaged), inference_backend=backend)
        )
        assert loaded.model_id == torch_desc.model_id, backend
