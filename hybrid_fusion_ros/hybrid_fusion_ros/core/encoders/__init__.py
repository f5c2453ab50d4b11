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

"""Encoder plugins, found through the ``hybrid_fusion_ros.encoders`` entry-point group.

Another pip package adds an encoder by declaring, in its own metadata::

    [project.entry-points."hybrid_fusion_ros.encoders"]
    my_encoder = "my_pkg.module:MyEncoder"

and the encoder node loads it with the parameter ``encoder: my_encoder``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Type

from .base import Encoder
from .base import InputSpec
from ..plugins import PluginRegistry

ENTRY_POINT_GROUP = 'hybrid_fusion_ros.encoders'

encoder_registry: PluginRegistry[Type[Encoder]] = PluginRegistry(ENTRY_POINT_GROUP, 'encoder')


def available_encoders() -> List[str]:
    """Names of every installed encoder plugin."""
    return encoder_registry.names()


def create_encoder(name: str, config: Optional[Mapping[str, Any]] = None) -> Encoder:
    """Build the encoder plugin ``name``; an unknown name raises with the available ones."""
    cls = encoder_registry.load(name)
    if not (isinstance(cls, type) and issubclass(cls, Encoder)):
        raise TypeError(
            f"encoder plugin '{name}' ({cls!r}) is not a subclass of "
            'hybrid_fusion_ros.core.encoders.Encoder'
        )
    return cls.from_config(config)


def encoder_modalities() -> Dict[str, str]:
    """Map of encoder name -> modality, for listing (plugins that fail to load are skipped)."""
    out = {}
    for name in available_encoders():
        try:
            out[name] = encoder_registry.load(name).modality
        except Exception:  # noqa: BLE001 - a broken plugin nobody asked for is only listed
            continue
    return out


__all__ = [
    'Encoder',
    'InputSpec',
    'ENTRY_POINT_GROUP',
    'available_encoders',
    'create_encoder',
    'encoder_modalities',
    'encoder_registry',
]
