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

"""Reading and writing rosbags with ``rosbags`` (no rosbag2_py needed).

Messages are serialized and deserialized by rclpy's own type support
(``rclpy.serialization``), so the bytes in a bag are exactly what a publisher sends, and the
replayer can publish them untouched. rosbags only needs the message *definitions* (for the
MCAP schema and the rosbag2 metadata): the standard ones from its typestore, ours from the
installed ``.msg`` files of hybrid_fusion_msgs.

ROS 1 ``.bag`` files are read and written too: their messages are converted byte-wise to and
from CDR by rosbags (the ROS 1 header's ``seq`` is dropped on the way in and written as 0 on
the way out), so everything past this module sees ROS 2 CDR only.

rosbag2 bags are written in metadata version 8 by default (:data:`METADATA_VERSION`), which
``ros2 bag`` on Humble and every later distro opens; Humble reads the ``mcap`` storage only
with the ``ros-humble-rosbag2-storage-mcap`` plugin installed, so give Humble users
``storage='sqlite3'`` bags when that plugin may be missing.
"""

from __future__ import annotations

from functools import lru_cache
import importlib
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, NamedTuple, Optional, Tuple

from ament_index_python.packages import get_package_share_directory
from rclpy.serialization import deserialize_message
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer
from rosbags.typesys import get_types_from_msg
from rosbags.typesys import get_typestore
from rosbags.typesys import Stores

MSG_PACKAGE = 'hybrid_fusion_msgs'


class BagError(RuntimeError):
    """A bag that cannot be used: missing, empty, corrupt, or without the needed topics."""


@lru_cache(maxsize=1)
def typestore():
    """rosbags typestore with the standard ROS 2 types plus hybrid_fusion_msgs."""
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(_our_types())
    return store


def message_class(msgtype: str) -> type:
    """``'sensor_msgs/msg/Imu'`` -> the rclpy message class."""
    pkg, kind, name = msgtype.split('/')
    try:
        return getattr(importlib.import_module(f'{pkg}.{kind}'), name)
    except (ImportError, AttributeError) as exc:
        raise BagError(
            f"message type '{msgtype}' is not available in this ROS environment"
        ) from exc


def _our_types() -> Dict[str, Any]:
    share = Path(get_package_share_directory(MSG_PACKAGE)) / 'msg'
    types: Dict[str, Any] = {}
    for path in sorted(share.glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'{MSG_PACKAGE}/msg/{path.stem}'))
    return types


@lru_cache(maxsize=1)
def ros1_typestore():
    """The ROS 1 (Noetic) definitions plus ours, for the connection records of a .bag."""
    store = get_typestore(Stores.ROS1_NOETIC)
    store.register(_our_types())
    return store


STORAGES = ('mcap', 'sqlite3', 'ros1')
# rosbag2 metadata.yaml version. rosbags writes 8 or 9. Version 9 stores each topic's
# offered_qos_profiles as a YAML list, which Humble's rosbag2 (metadata format 5, decoded with
# ``as<std::string>()`` in rosbag2_storage/src/rosbag2_storage/metadata_io.cpp, humble branch)
# cannot read; version 8 stores it as a YAML string in the layout Humble's rosbag2_transport
# parses, and Humble's reader takes any version number and ignores the keys it does not know.
METADATA_VERSION = 8
METADATA_VERSIONS = (8, 9)
DATA_NOTE_KEY = 'hybrid_fusion_ros.data'


def data_note(path: Path | str) -> Optional[str]:
    """What the bag's writer said its data is (rosbag2 metadata.yaml custom_data), if anything."""
    meta = Path(path) / 'metadata.yaml'
    if not meta.is_file():
        return None
    try:
        import yaml

        info = (yaml.safe_load(meta.read_text()) or {}).get('rosbag2_bagfile_information', {})
    except Exception:  # noqa: BLE001 - an unreadable note is no note
        return None
    return ((info or {}).get('custom_data') or {}).get(DATA_NOTE_KEY)


def bag_format(path: Path | str) -> str:
    path = Path(path)
    if path.is_file():
        return 'ROS 1 .bag' if path.suffix == '.bag' else path.suffix
    kinds = sorted({p.suffix for p in path.iterdir() if p.suffix in ('.mcap', '.db3')})
    return 'rosbag2 ' + '/'.join(kinds) if kinds else 'rosbag2'


class BagWriter:
    """Writes rclpy messages (or CDR bytes) to a rosbag2 bag (a directory) in MCAP or SQLite3
    storage, or to a ROS 1 ``.bag`` file (``storage='ros1'``)."""

    def __init__(
        self,
        path: Path | str,
        storage: str = 'mcap',
        data_note: Optional[str] = None,
        metadata_version: int = METADATA_VERSION,
    ) -> None:
        """``data_note`` says what the data is (simulated, real, ...); rosbag2 keeps it in
        metadata.yaml's custom_data, where ``hybrid-fusion eval`` reads it back.
        ``metadata_version`` is the rosbag2 metadata.yaml version: 8 (the default) opens in
        ``ros2 bag`` from Humble on, 9 only from Jazzy on. Humble's rosbag2 reads sqlite3
        storage out of the box but MCAP only with the rosbag2_storage_mcap plugin installed."""
        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {list(STORAGES)}, got '{storage}'")
        if metadata_version not in METADATA_VERSIONS:
            raise ValueError(
                f'metadata_version must be one of {list(METADATA_VERSIONS)}, '
                f'got {metadata_version}'
            )
        self.path = Path(path)
        self.storage = storage
        if storage == 'ros1':
            from rosbags.rosbag1 import Writer as Ros1Writer

            self._writer = Ros1Writer(self.path)
        else:
            plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
            self._writer = Writer(
                self.path, version=metadata_version, storage_plugin=plugins[storage]
            )
            if data_note:
                self._writer.set_custom_data(DATA_NOTE_KEY, data_note)
        self._connections: Dict[str, Any] = {}

    def __enter__(self) -> 'BagWriter':
        self._writer.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._writer.close()

    def write(self, topic: str, msg: Any, log_time_ns: int) -> None:
        module = type(msg).__module__.split('.')  # e.g. sensor_msgs.msg._imu
        self.write_cdr(
            topic, f'{module[0]}/msg/{type(msg).__name__}', serialize_message(msg), log_time_ns
        )

    def write_cdr(self, topic: str, msgtype: str, data: bytes, log_time_ns: int) -> None:
        """Write one message given as CDR bytes (as rclpy serializes it)."""
        conn = self._connections.get(topic)
        if conn is None:
            store = ros1_typestore() if self.storage == 'ros1' else typestore()
            conn = self._writer.add_connection(topic, msgtype, typestore=store)
            self._connections[topic] = conn
        if self.storage == 'ros1':
            data = bytes(typestore().cdr_to_ros1(data, msgtype))
        self._writer.write(conn, log_time_ns, data)


class BagMessage(NamedTuple):
    topic: str
    msgtype: str
    log_time_ns: int
    data: bytes


def open_reader(path: Path | str):
    """An opened rosbags ``AnyReader`` for a rosbag2 directory (.db3/.mcap) or a ROS 1 .bag."""
    from rosbags.highlevel import AnyReader

    path = Path(path)
    if not path.exists():
        raise BagError(f'bag {path}: no such file or directory')
    ros1 = path.is_file() and path.suffix == '.bag'
    try:
        reader = AnyReader([path], default_typestore=ros1_typestore() if ros1 else typestore())
        reader.open()
    except Exception as exc:  # noqa: BLE001 - rosbags raises several types for bad bags
        raise BagError(f'bag {path}: cannot be opened ({type(exc).__name__}: {exc})') from exc
    if reader.message_count == 0:
        reader.close()
        raise BagError(f'bag {path}: contains no messages')
    return reader


def read_messages(reader, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
    """The bag's messages in log-time order, as ROS 2 CDR bytes (ROS 1 data is converted)."""
    wanted = set(topics) if topics is not None else None
    conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
    if reader.is2:
        try:
            for conn, log_time, data in reader.messages(connections=conns):
                yield BagMessage(conn.topic, conn.msgtype, log_time, bytes(data))
        except Exception as exc:  # noqa: BLE001 - truncated or corrupt storage, in any plugin
            raise BagError(
                f'bag {reader.paths[0]}: reading stopped: {type(exc).__name__}: {exc} '
                '(truncated or corrupt?)'
            ) from exc
        return
    store = typestore()
    for conn in conns:
        if conn.msgtype not in store.fielddefs:
            raise BagError(
                f"topic {conn.topic}: ROS 1 type '{conn.msgtype}' has no ROS 2 counterpart here"
            )
    for conn, log_time, data in reader.messages(connections=conns):
        try:
            cdr = bytes(store.ros1_to_cdr(data, conn.msgtype))
        except Exception as exc:  # noqa: BLE001 - rosbags' SerdeError and struct errors
            raise BagError(
                f'topic {conn.topic}: a {conn.msgtype} message at {log_time} ns cannot be '
                f'converted from ROS 1 ({exc})'
            ) from exc
        yield BagMessage(conn.topic, conn.msgtype, log_time, cdr)


def topics_and_types(reader) -> Dict[str, Tuple[str, int]]:
    """``topic -> (msgtype, message count)``."""
    out: Dict[str, Tuple[str, int]] = {}
    for conn in reader.connections:
        prev = out.get(conn.topic, (conn.msgtype, 0))[1]
        out[conn.topic] = (conn.msgtype, prev + conn.msgcount)
    return out


def decode(msg: BagMessage) -> Any:
    return deserialize_message(msg.data, message_class(msg.msgtype))
