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

"""Where hybrid_fusion keeps its files, defined once for the runtime and the tools.

The cache follows the XDG base directory convention (``$XDG_CACHE_HOME``, else ``~/.cache``):
``hybrid_fusion_ros/onnx/<checkpoint sha256>`` holds exported ONNX bundles,
``hybrid_fusion_ros/datasets`` the window caches training builds, and the tools keep their
generated and downloaded recordings beside them. Nothing here imports torch or rclpy."""

from __future__ import annotations

from importlib import resources
import os
from pathlib import Path


def cache_root() -> Path:
    """The project's cache folder (``$XDG_CACHE_HOME/hybrid_fusion_ros``)."""
    base = os.environ.get('XDG_CACHE_HOME') or str(Path.home() / '.cache')
    return Path(base) / 'hybrid_fusion_ros'


def onnx_cache_root() -> Path:
    """Exported ONNX bundles, one folder per checkpoint sha256."""
    return cache_root() / 'onnx'


def dataset_cache_root() -> Path:
    """Window caches built by training, one folder per recording and window configuration."""
    return cache_root() / 'datasets'


def default_checkpoint_path() -> Path:
    """The checkpoint shipped inside the package (made by ``hybrid-fusion train``)."""
    return Path(str(resources.files('hybrid_fusion_ros') / 'models' / 'default.pt'))
