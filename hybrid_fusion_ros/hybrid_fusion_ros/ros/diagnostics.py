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

"""Building ``diagnostic_msgs/DiagnosticArray`` messages the way diagnostic_updater names
them: one status per task, named ``<node>: <task>``, values as key/value strings."""

from __future__ import annotations

from typing import Dict, Iterable, Mapping

from diagnostic_msgs.msg import DiagnosticArray
from diagnostic_msgs.msg import DiagnosticStatus
from diagnostic_msgs.msg import KeyValue


def level_of(st: DiagnosticStatus) -> int:
    return st.level[0] if isinstance(st.level, (bytes, bytearray)) else int(st.level)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return 'inf' if value == float('inf') else f'{value:.3f}'
    return str(value)


def status(
    name: str, hardware_id: str, level: int, message: str, values: Mapping[str, object]
) -> DiagnosticStatus:
    st = DiagnosticStatus()
    st.name = name
    st.hardware_id = hardware_id
    st.level = bytes([level])
    st.message = message
    st.values = [KeyValue(key=k, value=_fmt(v)) for k, v in values.items()]
    return st


def array_msg(stamp, statuses: Iterable[DiagnosticStatus]) -> DiagnosticArray:
    msg = DiagnosticArray()
    msg.header.stamp = stamp
    msg.status = list(statuses)
    return msg


class DiagnosticsCollector:
    """Keeps the latest status of every diagnostic task seen on /diagnostics."""

    def __init__(self, node, topic: str = '/diagnostics') -> None:
        from .qos import DIAGNOSTICS_QOS

        self.latest: Dict[str, DiagnosticStatus] = {}
        node.create_subscription(DiagnosticArray, topic, self._on_array, DIAGNOSTICS_QOS)

    def _on_array(self, msg: DiagnosticArray) -> None:
        for st in msg.status:
            self.latest[st.name] = st

    def values(self, name_suffix: str) -> Dict[str, str]:
        """Key/values of the first task whose name ends with ``name_suffix``."""
        for name, st in self.latest.items():
            if name.endswith(name_suffix):
                return {kv.key: kv.value for kv in st.values}
        return {}

    def drops(self) -> Dict[str, Dict[str, str]]:
        """``task name -> {key: value}`` of every non-zero 'Dropped ...' value."""
        out: Dict[str, Dict[str, str]] = {}
        for name, st in sorted(self.latest.items()):
            bad = {
                kv.key: kv.value
                for kv in st.values
                if kv.key.startswith('Dropped') and kv.value not in ('0', '0.000')
            }
            if bad:
                out[name] = bad
        return out
