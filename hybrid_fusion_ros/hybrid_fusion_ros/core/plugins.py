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

"""Entry-point plugin loading, as ros2cli does it: one group per extension point, the
entry-point name is the plugin's name, and unknown names fail with the list of known ones."""

from __future__ import annotations

from importlib.metadata import entry_points
from importlib.metadata import EntryPoint
from typing import Dict, Generic, List, TypeVar

T = TypeVar('T')


class PluginError(LookupError):
    """A plugin name that is not installed, or one that fails to load."""


class PluginRegistry(Generic[T]):
    """Loads the objects registered under one entry-point group.

    Entry points are looked up on every call, so a distribution added to ``sys.path`` at run
    time (another pip package, a test's temporary ``dist-info``) is found without a restart.
    """

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind

    def _entry_points(self) -> Dict[str, EntryPoint]:
        found: Dict[str, EntryPoint] = {}
        for ep in entry_points(group=self.group):
            # The first distribution on sys.path wins, as importlib does for modules.
            found.setdefault(ep.name, ep)
        return found

    def names(self) -> List[str]:
        return sorted(self._entry_points())

    def load(self, name: str) -> T:
        eps = self._entry_points()
        if name not in eps:
            known = ', '.join(sorted(eps)) or 'none installed'
            raise PluginError(
                f"unknown {self.kind} '{name}' (entry-point group '{self.group}'); "
                f'available: {known}'
            )
        try:
            return eps[name].load()
        except Exception as exc:  # noqa: BLE001 - any import error is the plugin's fault
            raise PluginError(
                f"{self.kind} '{name}' ({eps[name].value}) failed to load: "
                f'{type(exc).__name__}: {exc}'
            ) from exc
