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

"""ONNX Runtime inference backend: encoders and fusion steps in a process without torch.

This module imports numpy, the standard library and (when a session is opened) onnxruntime;
never torch. With it, a node runs a checkpoint from its *ONNX bundle*: a folder of ONNX files
and a ``manifest.json`` that ``hybrid-fusion export --bundle`` writes in a process that has
torch. The manifest carries everything the node needs from the checkpoint, so the checkpoint
itself is never unpickled here; it is only hashed, to make sure the bundle was made from it.

Where a bundle is looked for (:meth:`OnnxBundle.find`), first match wins:

1. ``onnx_dir`` when given;
2. ``<checkpoint>.onnx/`` next to the checkpoint (``robot.pt`` -> ``robot.pt.onnx/``): copy it
   to the robot with the checkpoint;
3. ``$XDG_CACHE_HOME/hybrid_fusion_ros/onnx/<sha256 of the checkpoint>/`` (default
   ``~/.cache/...``), where ``hybrid-fusion export --bundle`` writes unless told otherwise,
   and where ``export_if_missing=True`` has it written on first use (in a child process,
   which needs torch installed; this process still never imports it).

Bundle layout::

    manifest.json
    encoder_<input>.onnx      window (B, *input_shape) -> feature (B, feature_dim)
    fusion_<strategy>.onnx    (mask, h, c, feature_<input>...) -> (logits, h_out, c_out[, weights])
    decide_late.onnx          (mask, h) -> (log_probs, weights); only with a late model

``manifest.json`` (``format`` 1)::

    {"format": 1, "opset": 17, "exported_with": {"torch": ..., "hybrid_fusion_ros": ...},
     "checkpoint": {"file": "default.pt", "sha256": "...", "bytes": 2912345},
     "model_id": "3f2a9c1b07de",          # the checkpoint's (core/checkpoint.py)
     "runtime": {...}, "calibration": {...},   # the checkpoint's sections of those names
     "classes": [...], "window": {"length": 1.0, "hop": 0.5, "min_fill": 0.5},
     "inputs": [{"name", "sensor_type", "encoder", "topic", "rate_hz"}, ...],  # fusion order
     "encoders": {"<input>": {"plugin": "camera_cnn", "preprocessor": "camera" | null,
                              "config": {... the encoder config, norm_mean/norm_std included},
                              "input_shape": [4, 48, 64], "feature_dim": 64,
                              "file": "encoder_<input>.onnx", "sha256": "...",
                              "max_abs_diff": 1e-6}},
     "fusion": {"primary": "early",
                "models": {"<strategy>": {"config": {... FusionConfig}, "state_dim": 96,
                                          "file": ..., "sha256": ..., "inputs": [...],
                                          "outputs": [...], "max_abs_diff": ...,
                                          "decide": {...same keys...} (late only)}}}}

``max_abs_diff`` is the export's check against eager PyTorch on inputs it was not traced with.
The normalization statistics (``norm_mean``, ``norm_std``) are constants inside each encoder
graph, as they are inside ``Encoder.forward``; the manifest keeps them in ``config`` for
reference. Preprocessing is ``core.preprocessing``, the very code the torch encoders run.

The fusion step interface is core/fusion_runtime.py's ``FusionStepper`` (and
``LateFusionStepper`` for the late model), the one core/fusion_backend.py implements with
torch::

    classes, steppers = load_onnx_steppers(checkpoint, threads=1, providers=None)
    fusion = steppers['early']            # an OnnxFusion; the primary model comes first
    scores, weights, state = fusion.step(features, mask, state)      # a StepResult
    state = fusion.late_update(features, mask, state)   # late model only
    log_probs, weights = fusion.decide(state, mask)     # late model only

``features`` is one float32 vector per input in ``fusion.modalities`` order, ``(D_i,)``
(``None`` for an absent input: zeros); ``mask`` ``(M,)``, 1.0 where the input is present;
``state`` is what the previous call returned, ``None`` for a fresh one (here an ``(h, c)``
tuple of ``(1, state_dim)`` float32 arrays: the LSTM state, carried between ONNX calls).
``scores`` are the logits ``(num_classes,)``, whose softmax the node publishes; ``weights``
``(M,)`` are the inputs' contributions for attention, gmu and late, ``None`` for early.

Every problem with the backend raises a subclass of :class:`OnnxBackendError` whose message
is one line naming the cause and the fix. Falling back to a provider after the first one
asked for is not an error: it is logged as a warning and listed in ``warnings`` of the
encoder or fusion object (for /diagnostics).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from pathlib import Path
import re
import subprocess
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .fusion_runtime import StepResult
from .inputs import ModelInput
from .model_info import ModelDescription
from .paths import default_checkpoint_path
from .paths import onnx_cache_root
from .preprocessing import create_preprocessor
from .preprocessing import InputSpec
from .preprocessing import Preprocessor
from .windows import SensorWindow
from .windows import WindowSpec

MANIFEST_NAME = 'manifest.json'
BUNDLE_FORMAT = 1
DEFAULT_PROVIDERS = ('CPUExecutionProvider',)

FusionState = Tuple[np.ndarray, np.ndarray]
Provider = Union[str, Tuple[str, Dict[str, Any]]]

log = logging.getLogger(__name__)


class OnnxBackendError(RuntimeError):
    """The ONNX Runtime backend cannot run; the message names the cause and the fix."""


class OnnxRuntimeMissingError(OnnxBackendError):
    """onnxruntime is not installed in this Python."""


class OnnxBundleNotFoundError(OnnxBackendError):
    """No ONNX bundle for the checkpoint where one is looked for."""


class OnnxBundleMismatchError(OnnxBackendError):
    """An ONNX bundle that does not belong to the checkpoint, or files that do not match their
    manifest."""


class OnnxOpsetError(OnnxBackendError):
    """ONNX files of an opset (or IR version) this onnxruntime cannot run."""


class OnnxProviderError(OnnxBackendError):
    """None of the execution providers asked for is available, or one is misspelled."""


# --- where bundles live ---------------------------------------------------------------------


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def bundle_dir_next_to(checkpoint: Path | str) -> Path:
    """``robot.pt`` -> ``robot.pt.onnx``: the bundle that travels with its checkpoint."""
    return Path(f'{checkpoint}.onnx')


def cached_bundle_dir(checkpoint_sha256: str, root: Optional[Path] = None) -> Path:
    return Path(root or onnx_cache_root()) / checkpoint_sha256


def export_command(checkpoint: Path, out: Optional[Path] = None) -> str:
    """The command that writes a bundle for ``checkpoint`` (where torch is installed)."""
    return f'hybrid-fusion export --bundle --checkpoint {checkpoint}' + (
        f' --out {out}' if out is not None else ''
    )


# --- onnxruntime, sessions and providers -----------------------------------------------------


def import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise OnnxRuntimeMissingError(
            f'onnxruntime is not installed in this Python ({sys.executable}): '
            "`pip install onnxruntime` (on a Jetson, NVIDIA's onnxruntime-gpu wheel for your "
            'JetPack; see requirements/edge-onnx.txt), or set inference_backend to torch'
        ) from exc
    return onnxruntime


def _provider_name(provider: Provider) -> str:
    return provider if isinstance(provider, str) else provider[0]


def resolve_providers(
    requested: Optional[Sequence[Provider]], available: Optional[Sequence[str]] = None
) -> Tuple[List[Provider], Optional[str]]:
    """The providers of ``requested`` (names, or ``(name, options)`` pairs) that this
    onnxruntime has, in the order asked, and a warning when the first one asked for is not
    among them. ``None`` or empty asks for the CPU.

    A name onnxruntime does not know at all is an error (a typo must not fall back silently);
    so is a list of which nothing is available."""
    ort = import_onnxruntime()
    requested = list(requested or DEFAULT_PROVIDERS)
    available = list(available if available is not None else ort.get_available_providers())
    known = set(ort.get_all_providers())
    names = [_provider_name(p) for p in requested]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise OnnxProviderError(
            f"unknown ONNX Runtime execution provider(s) {', '.join(unknown)}: check the "
            f"spelling in onnx_providers; this onnxruntime has {', '.join(available)}"
        )
    usable = [p for p, n in zip(requested, names) if n in available]
    if not usable:
        raise OnnxProviderError(
            f"no execution provider of [{', '.join(names)}] is available in onnxruntime "
            f"{ort.__version__} (available: {', '.join(available)}): install the onnxruntime "
            'build that has it (onnxruntime-gpu for CUDA/TensorRT) or add '
            'CPUExecutionProvider to onnx_providers'
        )
    warning = None
    if _provider_name(usable[0]) != names[0]:
        warning = (
            f'{names[0]} is not available in onnxruntime {ort.__version__} (available: '
            f"{', '.join(available)}); running on {_provider_name(usable[0])}, which may "
            'be slower'
        )
    return usable, warning


def _open_session(
    path: Path, providers: Sequence[Provider], threads: int, opset: int
) -> Tuple[Any, List[str]]:
    """An InferenceSession on ``path`` and the warnings about providers it fell back from."""
    ort = import_onnxruntime()
    usable, warning = resolve_providers(providers)
    warnings = [warning] if warning else []
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=usable)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own pybind types
        text = str(exc)
        newest = re.search(r'till opset (\d+)', text)
        ir = re.search(r'max supported IR version: (\d+)', text)
        if newest or ir or re.search(r'opset', text, re.IGNORECASE):
            stamped = re.search(r'Opset (\d+) is', text)  # the file's own, when it is named
            opset = int(stamped.group(1)) if stamped else opset
            supported = (
                f' (it supports opset {newest.group(1)})'
                if newest
                else f' (it supports IR version {ir.group(1)})' if ir else ''
            )
            raise OnnxOpsetError(
                f'{path}: exported with opset {opset}, which onnxruntime {ort.__version__} cannot '
                f'run{supported}: upgrade onnxruntime, or re-export with a lower --opset '
                '(`hybrid-fusion export --bundle --opset N` where torch is installed)'
            ) from exc
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        raise OnnxBundleMismatchError(
            f'{path}: onnxruntime cannot load it ({first}); re-export the bundle'
        ) from exc
    used = session.get_providers()
    if used and used[0] != _provider_name(usable[0]):
        warnings.append(
            f'onnxruntime fell back from {_provider_name(usable[0])} to {used[0]} '
            f'for {path.name} (its libraries did not load; see the onnxruntime log)'
        )
    for w in warnings:
        log.warning(w)
    return session, warnings


# --- the bundle ------------------------------------------------------------------------------


class OnnxBundle:
    """A checked ONNX bundle: its folder and manifest. Build with :meth:`find` or
    :meth:`load`; nothing in it needs torch."""

    def __init__(self, directory: Path, manifest: Dict[str, Any]) -> None:
        self.directory = Path(directory)
        self.manifest = manifest

    @classmethod
    def load(
        cls, directory: Path | str, checkpoint: Path | str | None = None, verify_files: bool = True
    ) -> 'OnnxBundle':
        """Read ``directory``'s manifest; with ``checkpoint``, check that the bundle was
        exported from that very file (sha256). ``verify_files`` checks each ONNX file's
        sha256 against the manifest."""
        directory = Path(directory)
        path = directory / MANIFEST_NAME
        if not path.is_file():
            hint = export_command(Path('CKPT'), directory)
            raise OnnxBundleNotFoundError(
                f'{directory}: no {MANIFEST_NAME}, not an ONNX bundle: write one with `{hint}`'
            )
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise OnnxBundleMismatchError(
                f'{path}: unreadable ({exc}); re-export the bundle'
            ) from exc
        if not isinstance(manifest, dict) or manifest.get('format') != BUNDLE_FORMAT:
            found = (
                manifest.get('format') if isinstance(manifest, dict) else type(manifest).__name__
            )
            raise OnnxBundleMismatchError(
                f'{path}: bundle format {found!r}, this version reads format {BUNDLE_FORMAT}: '
                're-export it with this version of hybrid-fusion'
            )
        bundle = cls(directory, manifest)
        if checkpoint is not None:
            bundle.check_checkpoint(checkpoint)
        if verify_files:
            for name, entry in bundle._files():
                bundle._check_file(name, entry)
        return bundle

    @classmethod
    def find(
        cls,
        checkpoint: Path | str | None = None,
        onnx_dir: Path | str | None = None,
        cache_dir: Path | str | None = None,
        export_if_missing: bool = False,
    ) -> 'OnnxBundle':
        """The bundle of ``checkpoint`` (``None`` or ``''``: the packaged one), looked for in
        ``onnx_dir``, next to the checkpoint, then in the cache (see the module docstring).
        ``export_if_missing`` writes it into the cache in a child process when none is found
        and torch is installed."""
        checkpoint = Path(checkpoint) if checkpoint else default_checkpoint_path()
        if not checkpoint.is_file():
            raise OnnxBundleNotFoundError(f'checkpoint {checkpoint}: no such file')
        if onnx_dir:
            return cls.load(onnx_dir, checkpoint)
        sha = file_sha256(checkpoint)
        root = Path(cache_dir) if cache_dir else None
        candidates = [bundle_dir_next_to(checkpoint), cached_bundle_dir(sha, root)]
        for candidate in candidates:
            if (candidate / MANIFEST_NAME).is_file():
                return cls.load(candidate, checkpoint)
        if export_if_missing:
            return cls.load(_export_in_child(checkpoint, candidates[1]), checkpoint)
        looked = ', '.join(str(c) for c in candidates)
        raise OnnxBundleNotFoundError(
            f'no ONNX bundle for checkpoint {checkpoint} (looked in {looked}): run '
            f'`{export_command(checkpoint)}` where torch is installed and copy the folder '
            'it prints to one of those places'
        )

    # -- checks --

    def check_checkpoint(self, checkpoint: Path | str) -> None:
        recorded = self.manifest.get('checkpoint', {})
        sha = file_sha256(checkpoint)
        if recorded.get('sha256') != sha:
            raise OnnxBundleMismatchError(
                f"ONNX bundle {self.directory} was exported from {recorded.get('file', '?')} "
                f"(sha256 {str(recorded.get('sha256'))[:12]}...), not from {checkpoint} "
                f'(sha256 {sha[:12]}...): re-export it with '
                f'`{export_command(Path(checkpoint))}`'
            )

    def _files(self) -> List[Tuple[str, Mapping[str, Any]]]:
        out = [(f'encoder {name}', e) for name, e in self.manifest['encoders'].items()]
        for strategy, entry in self.manifest['fusion']['models'].items():
            out.append((f'fusion {strategy}', entry))
            if 'decide' in entry:
                out.append((f'fusion {strategy} decide', entry['decide']))
        return out

    def _check_file(self, what: str, entry: Mapping[str, Any]) -> Path:
        path = self.directory / entry['file']
        if not path.is_file():
            raise OnnxBundleMismatchError(
                f'ONNX bundle {self.directory}: {entry["file"]} '
                f'({what}) is missing: re-export the bundle'
            )
        if file_sha256(path) != entry['sha256']:
            raise OnnxBundleMismatchError(
                f'ONNX bundle {self.directory}: {entry["file"]} ({what}) is not the file this '
                'manifest was written with (sha256 differs): re-export the bundle rather than '
                'mixing files of two exports'
            )
        return path

    # -- what the checkpoint said --

    @property
    def classes(self) -> List[str]:
        return list(self.manifest['classes'])

    @property
    def window(self) -> WindowSpec:
        return WindowSpec(**self.manifest['window'])

    @property
    def inputs(self) -> List[ModelInput]:
        """Every input of the model, in the fusion model's order."""
        return [ModelInput.from_dict(d) for d in self.manifest['inputs']]

    @property
    def modalities(self) -> List[str]:
        return [d['name'] for d in self.manifest['inputs']]

    def input(self, name: str) -> ModelInput:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise OnnxBundleMismatchError(
            f"ONNX bundle {self.directory}: no input '{name}' (it has {self.modalities})"
        )

    @property
    def primary(self) -> str:
        return str(self.manifest['fusion']['primary'])

    @property
    def fusion_strategies(self) -> List[str]:
        """Strategies of the fusion models held, the primary first (as the checkpoint's)."""
        models = list(self.manifest['fusion']['models'])
        return [self.primary, *[s for s in models if s != self.primary]]

    @property
    def opset(self) -> int:
        return int(self.manifest['opset'])

    @property
    def model_id(self) -> str:
        """The checkpoint's model id; '' for a bundle exported before checkpoints had one."""
        return str(self.manifest.get('model_id') or '')

    def describe(self, checkpoint: Path | str | None = None) -> ModelDescription:
        """The model as the graph sees it: the same as the torch backend's description of
        the checkpoint (core/fusion_backend.py), the state contract (``runtime``) and the
        calibration empty for a bundle exported before they existed."""
        return ModelDescription.of(
            self.model_id,
            self.classes,
            self.window,
            self.inputs,
            checkpoint or default_checkpoint_path(),
            self.manifest.get('runtime') or {},
            self.manifest.get('calibration') or {},
        )

    def open(
        self, entry: Mapping[str, Any], providers: Optional[Sequence[Provider]], threads: int
    ) -> Tuple[Any, List[str]]:
        return _open_session(
            self.directory / entry['file'], providers or DEFAULT_PROVIDERS, threads, self.opset
        )


def _export_in_child(checkpoint: Path, out: Path) -> Path:
    """Write the bundle of ``checkpoint`` into ``out`` with ``hybrid-fusion export`` in a
    child process, so that only the child imports torch."""
    if importlib.util.find_spec('torch') is None:
        raise OnnxBundleNotFoundError(
            f'no ONNX bundle for checkpoint {checkpoint}, and torch is not installed here to '
            f'export one: run `{export_command(checkpoint)}` on a machine with torch and copy '
            f'the folder to {bundle_dir_next_to(checkpoint)} or {out}'
        )
    log.warning(
        'exporting the ONNX bundle of %s into %s (first use; needs torch, once)', checkpoint, out
    )
    cmd = [
        sys.executable,
        '-m',
        'hybrid_fusion_ros.cli',
        'export',
        '--bundle',
        '--checkpoint',
        str(checkpoint),
        '--out',
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()
        last = tail[-1] if tail else 'no output'
        raise OnnxBundleNotFoundError(
            f'exporting the ONNX bundle of {checkpoint} failed ({last}): run '
            f'`{export_command(checkpoint)}` yourself to see why'
        )
    return out


# --- encoders and fusion ---------------------------------------------------------------------


def _check_io(session: Any, path: str, inputs: Sequence[str], what: str) -> None:
    names = [i.name for i in session.get_inputs()]
    if names != list(inputs):
        raise OnnxBundleMismatchError(
            f'{path} ({what}) takes inputs {names}, its manifest says '
            f'{list(inputs)}: re-export the bundle'
        )


class OnnxEncoder:
    """One input's encoder on ONNX Runtime: a window in, a feature vector out, numpy only.
    What the encoder node reads of a torch encoder is here too: ``modality``,
    ``input_spec``, ``config`` (the preprocessing config dataclass), ``output_dim``,
    ``preprocess`` and ``encode``.

    Parameters
    ----------
    bundle:
        The checked bundle (:meth:`OnnxBundle.find`).
    input_name:
        The checkpoint's input this encoder serves (e.g. ``wrist_imu``).
    providers:
        Execution providers in order of preference, e.g. ``['TensorrtExecutionProvider',
        'CUDAExecutionProvider', 'CPUExecutionProvider']``; ``None``: the CPU.
    threads:
        Intra-op threads (the nodes' torch backend uses 1).
    """

    def __init__(
        self,
        bundle: OnnxBundle,
        input_name: str,
        providers: Optional[Sequence[Provider]] = None,
        threads: int = 1,
    ) -> None:
        self.bundle = bundle
        self.input = bundle.input(input_name)
        entry = bundle.manifest['encoders'][input_name]
        self.plugin = str(entry['plugin'])
        self.config_dict: Dict[str, Any] = dict(entry['config'])  # as the checkpoint has it
        if not entry.get('preprocessor'):
            raise OnnxBackendError(
                f"encoder '{self.plugin}' of input '{input_name}' has no numpy preprocessing "
                '(its plugin sets no core.preprocessing preprocessor), so it runs only with '
                'inference_backend torch'
            )
        self.preprocessor: Preprocessor = create_preprocessor(
            entry['preprocessor'], self.config_dict
        )
        self.config = self.preprocessor.config
        self.modality = self.preprocessor.name
        self.input_shape = tuple(int(v) for v in entry['input_shape'])
        if tuple(self.preprocessor.input_shape) != self.input_shape:
            raise OnnxBundleMismatchError(
                f"ONNX bundle {bundle.directory}: input '{input_name}' preprocesses to "
                f'{self.preprocessor.input_shape}, the manifest says {self.input_shape}: '
                're-export the bundle'
            )
        self.output_dim = int(entry['feature_dim'])
        self.session, self.warnings = bundle.open(entry, providers, threads)
        _check_io(self.session, entry['file'], ['window'], f"encoder of '{input_name}'")
        shape = self.session.get_inputs()[0].shape[1:]
        if list(shape) != list(self.input_shape):
            raise OnnxBundleMismatchError(
                f"{entry['file']} takes windows of shape {shape}, the manifest says "
                f'{list(self.input_shape)}: re-export the bundle'
            )
        self.providers: List[str] = self.session.get_providers()

    @property
    def input_spec(self) -> InputSpec:
        return self.preprocessor.input_spec

    def preprocess(self, window: SensorWindow) -> np.ndarray:
        """One window -> the network's float32 input (the torch encoder's ``preprocess``)."""
        return self.preprocessor(window)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """``(B, *input_shape)`` preprocessed windows -> ``(B, feature_dim)`` features."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        return self.session.run(None, {'window': batch})[0]

    def encode(self, window: SensorWindow) -> np.ndarray:
        """Preprocess and run the network on one window: ``(feature_dim,)`` float32."""
        return self.forward(self.preprocess(window)[None])[0]


class OnnxFusion:
    """A fusion model of the bundle on ONNX Runtime, stepped with explicit LSTM state: a
    ``FusionStepper`` of core/fusion_runtime.py, and a ``LateFusionStepper`` for the late
    model (see the module docstring). ``strategy`` ``None`` is the primary model."""

    def __init__(
        self,
        bundle: OnnxBundle,
        strategy: Optional[str] = None,
        providers: Optional[Sequence[Provider]] = None,
        threads: int = 1,
    ) -> None:
        self.bundle = bundle
        self.strategy = strategy or bundle.primary
        models = bundle.manifest['fusion']['models']
        if self.strategy not in models:
            raise OnnxBundleMismatchError(
                f"ONNX bundle {bundle.directory}: no '{self.strategy}' fusion model (it has "
                f'{bundle.fusion_strategies}); the checkpoint has none either, or the bundle '
                'is older than it: re-export the bundle'
            )
        entry = models[self.strategy]
        self.config: Dict[str, Any] = dict(entry['config'])
        self.modalities: List[str] = list(self.config['modalities'])
        self.feature_dims: List[int] = [int(d) for d in self.config['feature_dims']]
        self.classes = bundle.classes
        self.state_dim = int(entry['state_dim'])
        self._outputs: List[str] = list(entry['outputs'])
        self.has_weights = 'weights' in self._outputs
        self.session, self.warnings = bundle.open(entry, providers, threads)
        _check_io(self.session, entry['file'], entry['inputs'], f'fusion {self.strategy}')
        if entry['inputs'][3:] != [f'feature_{m}' for m in self.modalities]:
            raise OnnxBundleMismatchError(
                f"{entry['file']}: its feature inputs {entry['inputs'][3:]} are not the model's "
                f'inputs {self.modalities}: re-export the bundle'
            )
        self._decide = None
        if 'decide' in entry:
            self._decide, more = bundle.open(entry['decide'], providers, threads)
            _check_io(
                self._decide,
                entry['decide']['file'],
                entry['decide']['inputs'],
                f'fusion {self.strategy} decide',
            )
            self.warnings += [w for w in more if w not in self.warnings]
        self.providers: List[str] = self.session.get_providers()

    def initial_state(self) -> FusionState:
        zeros = np.zeros((1, self.state_dim), dtype=np.float32)
        return zeros, zeros.copy()

    def _feeds(
        self,
        features: Sequence[Optional[np.ndarray]],
        mask: np.ndarray,
        state: Optional[FusionState],
    ) -> Dict[str, np.ndarray]:
        if len(features) != len(self.modalities):
            raise ValueError(
                f'expected {len(self.modalities)} features ({self.modalities}), '
                f'got {len(features)}'
            )
        h, c = state if state is not None else self.initial_state()
        feeds = {
            'mask': np.asarray(mask, dtype=np.float32).reshape(1, -1),
            'h': np.asarray(h, dtype=np.float32).reshape(1, -1),
            'c': np.asarray(c, dtype=np.float32).reshape(1, -1),
        }
        if feeds['mask'].shape[1] != len(self.modalities):
            raise ValueError(
                f"mask has {feeds['mask'].shape[1]} entries, the model "
                f'{len(self.modalities)} inputs ({self.modalities})'
            )
        for name, f, dim in zip(self.modalities, features, self.feature_dims):
            feeds[f'feature_{name}'] = (
                np.zeros((1, dim), dtype=np.float32)
                if f is None
                else np.asarray(f, dtype=np.float32).reshape(1, dim)
            )
        return feeds

    def step(
        self,
        features: Sequence[Optional[np.ndarray]],
        mask: np.ndarray,
        state: Optional[FusionState] = None,
    ) -> StepResult:
        """One window: logits ``(C,)``, per-input weights ``(M,)`` or None, new state."""
        out = dict(zip(self._outputs, self.session.run(None, self._feeds(features, mask, state))))
        weights = out['weights'][0] if self.has_weights else None
        return StepResult(out['logits'][0], weights, (out['h_out'], out['c_out']))

    def _need_late(self, what: str) -> None:
        if self._decide is None:
            raise ValueError(
                f"{what}() needs the late fusion model; this one is '{self.strategy}'"
            )

    def late_update(
        self,
        features: Sequence[Optional[np.ndarray]],
        mask: np.ndarray,
        state: Optional[FusionState] = None,
    ) -> FusionState:
        """Late model: advance the LSTMs of the inputs present in ``mask`` (the others keep
        their state); no decision."""
        self._need_late('late_update')
        out = dict(zip(self._outputs, self.session.run(None, self._feeds(features, mask, state))))
        return out['h_out'], out['c_out']

    def decide(
        self, state: Optional[FusionState], mask: np.ndarray
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Late model: log-probabilities ``(C,)`` and per-input weights ``(M,)`` from the
        current states of the inputs present in ``mask``, without stepping."""
        self._need_late('decide')
        assert self._decide is not None
        h = (state if state is not None else self.initial_state())[0]
        feeds = {
            'mask': np.asarray(mask, dtype=np.float32).reshape(1, -1),
            'h': np.asarray(h, dtype=np.float32).reshape(1, -1),
        }
        log_probs, weights = self._decide.run(None, feeds)
        return log_probs[0], weights[0]


def load_onnx_steppers(
    checkpoint: Optional[str] = None,
    threads: int = 1,
    providers: Optional[Sequence[Provider]] = None,
    onnx_dir: Optional[str] = None,
    export_if_missing: bool = False,
) -> Tuple[List[str], Dict[str, OnnxFusion]]:
    """A checkpoint's class names and one stepper per fusion model of its bundle, the primary
    first (``None`` or '': the packaged checkpoint), as core/fusion_backend.py's
    ``load_torch_steppers``. Raises an :class:`OnnxBackendError`."""
    return load_onnx_fusion(checkpoint, threads, providers, onnx_dir, export_if_missing)[:2]


def load_onnx_fusion(
    checkpoint: Optional[str] = None,
    threads: int = 1,
    providers: Optional[Sequence[Provider]] = None,
    onnx_dir: Optional[str] = None,
    export_if_missing: bool = False,
) -> Tuple[List[str], Dict[str, OnnxFusion], ModelDescription]:
    """:func:`load_onnx_steppers` and the model's description (:meth:`OnnxBundle.describe`)."""
    bundle = OnnxBundle.find(checkpoint, onnx_dir, export_if_missing=export_if_missing)
    steppers = {s: OnnxFusion(bundle, s, providers, threads) for s in bundle.fusion_strategies}
    return bundle.classes, steppers, bundle.describe(checkpoint)


def load_onnx_encoder(
    checkpoint: Optional[str],
    input_name: str,
    threads: int = 1,
    providers: Optional[Sequence[Provider]] = None,
    onnx_dir: Optional[str] = None,
    export_if_missing: bool = False,
) -> OnnxEncoder:
    """The encoder of ``input_name`` from the bundle of ``checkpoint``. Raises an
    :class:`OnnxBackendError`."""
    bundle = OnnxBundle.find(checkpoint, onnx_dir, export_if_missing=export_if_missing)
    return OnnxEncoder(bundle, input_name, providers, threads)
