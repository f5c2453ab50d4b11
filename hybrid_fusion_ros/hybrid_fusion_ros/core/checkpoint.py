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

"""Checkpoints: everything a node needs to reproduce the trained model.

A checkpoint is a plain dict of tensors, strings and numbers (loadable with
``torch.load(..., weights_only=True)``, so opening a file runs no pickled code):

- ``format``: the checkpoint format version;
- ``classes``: class names, in output order;
- ``window``: window length, hop and min fill (seconds), which the encoder nodes must use;
- ``encoders``: per input (a named sensor, see ``core.inputs``), the encoder plugin name, its
  config (preprocessing and the normalization statistics learned in training included), its
  weights, and the input's sensor ``type``, training ``topic`` and measured ``rate_hz``
  (checkpoints written before inputs had names lack the last three: the type is then the
  encoder plugin's modality);
- ``fusion``: the primary fusion model's config and weights;
- ``extra_fusion``: further fusion models over the same encoders, by strategy name (e.g. a
  ``late`` model for the fusion node's late mode);
- ``metadata``: how it was made (command, data, seed, validation figures);
- ``runtime``: how the fusion node carries and resets the LSTM state, decided in training
  from the data (``core.contract``); absent in older checkpoints (the runtime's defaults);
- ``calibration``: the temperature and the rejection threshold fitted on the validation
  windows (``core.calibration``); absent or empty: probabilities as the model gives them and
  no ``unknown``.

Every checkpoint has a *model id* (:meth:`Checkpoint.model_id`): a hash of everything above
but ``metadata`` (weights, configurations, classes, window, state contract, calibration), so
two files holding the same model share it and a retrained model never does. Encoders stamp it
on their features; the fusion node fuses only features of its own model.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch

from .encoders import create_encoder
from .encoders import Encoder
from .fusion import FusionConfig
from .fusion import FusionModel
from .inputs import ModelInput
from .paths import default_checkpoint_path
from .windows import WindowSpec

FORMAT_VERSION = 1
MODEL_ID_LENGTH = 12  # hex digits of the sha256 kept: 48 bits, no collision among a fleet's models


class CheckpointError(RuntimeError):
    """A checkpoint that is missing, unreadable or not of this format."""


def fusion_entry(model: FusionModel) -> Dict[str, Any]:
    """A fusion model as a checkpoint stores it: config and a detached copy of its weights."""
    return {
        'config': model.config.to_dict(),
        'state_dict': {k: v.detach().clone() for k, v in model.state_dict().items()},
    }


def _digest(h: 'hashlib._Hash', value: Any) -> None:
    """Feed ``value`` into ``h`` in one canonical order: dict keys sorted, tensors and arrays
    as dtype, shape and bytes, everything else as its JSON text."""
    if isinstance(value, dict):
        h.update(b'{')
        for key in sorted(value, key=str):
            h.update(json.dumps(str(key)).encode())
            _digest(h, value[key])
        h.update(b'}')
    elif isinstance(value, (list, tuple)):
        h.update(b'[')
        for item in value:
            _digest(h, item)
        h.update(b']')
    elif isinstance(value, torch.Tensor):
        array = value.detach().cpu().contiguous().numpy()
        h.update(f'T{array.dtype.str}{array.shape}'.encode())
        h.update(array.tobytes())
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        h.update(f'T{array.dtype.str}{array.shape}'.encode())
        h.update(array.tobytes())
    elif isinstance(value, (np.generic,)):
        _digest(h, value.item())
    else:
        h.update(json.dumps(value, sort_keys=True, default=str).encode())


def model_id_of(content: Dict[str, Any]) -> str:
    """The model id of a checkpoint's content: the first :data:`MODEL_ID_LENGTH` hex digits
    of a sha256 over its weights and configuration, canonically ordered."""
    h = hashlib.sha256()
    _digest(h, content)
    return h.hexdigest()[:MODEL_ID_LENGTH]


@dataclass
class Checkpoint:
    classes: List[str]
    window: WindowSpec
    encoders: Dict[str, Dict[str, Any]]
    fusion: Dict[str, Any]
    metadata: Dict[str, Any] = field(default_factory=dict)
    extra_fusion: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    path: Optional[Path] = None
    # How the fusion node carries and resets the state (core/contract.py); empty: the
    # runtime's defaults, as for checkpoints written before training decided it.
    runtime: Dict[str, Any] = field(default_factory=dict)
    # Temperature and rejection threshold (core/calibration.py); empty: none fitted.
    calibration: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_models(
        cls,
        classes: List[str],
        window: WindowSpec,
        encoders: Dict[str, Encoder],
        encoder_names: Dict[str, str],
        fusion: FusionModel,
        metadata: Optional[Dict[str, Any]] = None,
        extra_fusion: Optional[Dict[str, FusionModel]] = None,
        inputs: Optional[Dict[str, ModelInput]] = None,
        runtime: Optional[Dict[str, Any]] = None,
        calibration: Optional[Dict[str, Any]] = None,
    ) -> 'Checkpoint':
        """``encoders`` and ``encoder_names`` are keyed by input name; ``inputs`` (optional)
        gives each input's type, training topic and measured rate."""

        def entry(name: str, enc: Encoder) -> Dict[str, Any]:
            spec = (inputs or {}).get(name)
            return {
                'name': encoder_names[name],
                'config': enc.config_dict(),
                'state_dict': {k: v.detach().clone() for k, v in enc.state_dict().items()},
                'type': spec.sensor_type if spec else enc.modality,
                'topic': spec.topic if spec else '',
                'rate_hz': float(spec.rate_hz) if spec else 0.0,
            }

        return cls(
            classes=list(classes),
            window=window,
            encoders={m: entry(m, enc) for m, enc in encoders.items()},
            fusion=fusion_entry(fusion),
            metadata=dict(metadata or {}),
            extra_fusion={k: fusion_entry(m) for k, m in (extra_fusion or {}).items()},
            runtime=dict(runtime or {}),
            calibration=dict(calibration or {}),
        )

    def model_content(self) -> Dict[str, Any]:
        """What the model id is a hash of: every section but ``metadata``."""
        return {
            'classes': self.classes,
            'window': asdict(self.window),
            'encoders': self.encoders,
            'fusion': self.fusion,
            'extra_fusion': self.extra_fusion,
            'runtime': self.runtime,
            'calibration': self.calibration,
        }

    @property
    def model_id(self) -> str:
        """The model's identity: :func:`model_id_of` its :meth:`model_content`."""
        return model_id_of(self.model_content())

    def save(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                'format': FORMAT_VERSION,
                'classes': self.classes,
                'window': asdict(self.window),
                'encoders': self.encoders,
                'fusion': self.fusion,
                'extra_fusion': self.extra_fusion,
                'metadata': self.metadata,
                'runtime': self.runtime,
                'calibration': self.calibration,
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: Path | str | None = None) -> 'Checkpoint':
        """Load and validate; ``None`` or ``''`` means the packaged default."""
        path = Path(path) if path else default_checkpoint_path()
        if not path.is_file():
            raise CheckpointError(f'checkpoint {path}: no such file')
        try:
            raw = torch.load(path, map_location='cpu', weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
            raise CheckpointError(
                f'checkpoint {path}: cannot be read ({type(exc).__name__}: '
                f'{str(exc).splitlines()[0] if str(exc) else "corrupt file"})'
            ) from exc
        if not isinstance(raw, dict) or raw.get('format') != FORMAT_VERSION:
            found = raw.get('format') if isinstance(raw, dict) else type(raw).__name__
            raise CheckpointError(
                f'checkpoint {path}: not a hybrid_fusion_ros checkpoint of format '
                f'{FORMAT_VERSION} (found {found!r})'
            )
        missing = [k for k in ('classes', 'window', 'encoders', 'fusion') if k not in raw]
        if missing:
            raise CheckpointError(f'checkpoint {path}: missing section(s) {missing}')
        return cls(
            classes=list(raw['classes']),
            window=WindowSpec(**raw['window']),
            encoders=dict(raw['encoders']),
            fusion=dict(raw['fusion']),
            metadata=dict(raw.get('metadata', {})),
            extra_fusion=dict(raw.get('extra_fusion', {})),
            path=path,
            runtime=dict(raw.get('runtime', {})),
            calibration=dict(raw.get('calibration') or {}),
        )

    @property
    def modalities(self) -> List[str]:
        """The fusion model's input names, in its order."""
        return list(self.fusion['config']['modalities'])

    def input(self, name: str) -> ModelInput:
        """The description of input ``name``."""
        entry = self.encoders.get(name)
        if entry is None:
            raise CheckpointError(
                f"checkpoint {self.path}: no input '{name}' (it has {self.modalities})"
            )
        sensor_type = entry.get('type')
        if not sensor_type:  # written before inputs had names: the plugin knows its modality
            from .encoders import encoder_registry

            try:
                sensor_type = encoder_registry.load(entry['name']).modality
            except Exception:  # noqa: BLE001 - a missing plugin is reported when it is built
                sensor_type = name
        return ModelInput(
            name,
            sensor_type,
            entry['name'],
            entry.get('topic', ''),
            float(entry.get('rate_hz', 0.0)),
        )

    @property
    def inputs(self) -> List[ModelInput]:
        """Every input of the model, in the fusion model's order."""
        return [self.input(name) for name in self.modalities]

    def build_encoder(self, input_name: str, name: Optional[str] = None) -> tuple[Encoder, bool]:
        """The encoder of input ``input_name``, in eval mode; returns ``(encoder, has_weights)``.

        ``name`` picks a plugin other than the checkpoint's: it then starts from its own
        initialization unless the checkpoint holds weights for that same plugin.
        """
        entry = self.encoders.get(input_name)
        if entry is not None and (name is None or name == entry['name']):
            encoder = create_encoder(entry['name'], entry['config'])
            try:
                encoder.load_state_dict(entry['state_dict'])
            except RuntimeError as exc:
                raise CheckpointError(
                    f"checkpoint {self.path}: weights for encoder '{entry['name']}' "
                    f'do not fit it: {str(exc).splitlines()[0]}'
                ) from exc
            return encoder.eval(), True
        if name is None:
            raise CheckpointError(
                f"checkpoint {self.path}: no input '{input_name}' (it has {sorted(self.encoders)})"
            )
        return create_encoder(name).eval(), False

    @property
    def fusion_strategies(self) -> List[str]:
        """Strategies of the fusion models held: the primary first."""
        return [
            self.fusion['config']['strategy'],
            *[k for k in self.extra_fusion if k != self.fusion['config']['strategy']],
        ]

    def build_fusion(self, strategy: Optional[str] = None) -> FusionModel:
        """The primary fusion model, or the one of ``strategy``, in eval mode."""
        entry = self.fusion
        if strategy is not None and strategy != self.fusion['config']['strategy']:
            if strategy not in self.extra_fusion:
                raise CheckpointError(
                    f"checkpoint {self.path}: no '{strategy}' fusion model "
                    f'(it has {self.fusion_strategies})'
                )
            entry = self.extra_fusion[strategy]
        model = FusionModel(FusionConfig.from_dict(entry['config']))
        try:
            model.load_state_dict(entry['state_dict'])
        except RuntimeError as exc:
            raise CheckpointError(
                f'checkpoint {self.path}: fusion weights do not fit its config: '
                f'{str(exc).splitlines()[0]}'
            ) from exc
        return model.eval()
