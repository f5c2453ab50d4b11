"""Encoder plugins, found through the ``hybrid_fusion_ros.encoders`` entry-point group.

Another pip package adds an encoder by declaring, in its own metadata::

    [project.entry-points."hybrid_fusion_ros.encoders"]
    my_encoder = "my_pkg.module:MyEncoder"

and the encoder node loads it with the parameter ``encoder: my_encoder``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Type

from ..plugins import PluginRegistry
from .base import Encoder, InputSpec

ENTRY_POINT_GROUP = 'hybrid_fusion_ros.encoders'

encoder_registry: PluginRegistry[Type[Encoder]] = PluginRegistry(ENTRY_POINT_GROUP, 'encoder')


def available_encoders() -> List[str]:
    """Names of every installed encoder plugin."""
    return encoder_registry.names()


def create_encoder(name: str, config: Optional[Mapping[str, Any]] = None) -> Encoder:
    """Build the encoder plugin ``name``; an unknown name raises with the available ones."""
    cls = encoder_registry.load(name)
    if not (isinstance(cls, type) and issubclass(cls, Encoder)):
        raise TypeError(f"encoder plugin '{name}' ({cls!r}) is not a subclass of "
                        'hybrid_fusion_ros.core.encoders.Encoder')
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


__all__ = ['Encoder', 'InputSpec', 'ENTRY_POINT_GROUP', 'available_encoders', 'create_encoder',
           'encoder_modalities', 'encoder_registry']
