"""Reading and writing rosbags with ``rosbags`` (no rosbag2_py needed).

Messages are serialized and deserialized by rclpy's own type support
(``rclpy.serialization``), so the bytes in a bag are exactly what a publisher sends, and the
replayer can publish them untouched. rosbags only needs the message *definitions* (for the
MCAP schema and the rosbag2 metadata): the standard ones from its typestore, ours from the
installed ``.msg`` files of hybrid_fusion_msgs.
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, NamedTuple, Tuple

from ament_index_python.packages import get_package_share_directory
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

MSG_PACKAGE = 'hybrid_fusion_msgs'


class BagError(RuntimeError):
    """A bag that cannot be used: missing, empty, corrupt, or without the needed topics."""


@lru_cache(maxsize=1)
def typestore():
    """rosbags typestore with the standard ROS 2 types plus hybrid_fusion_msgs."""
    store = get_typestore(Stores.ROS2_JAZZY)
    share = Path(get_package_share_directory(MSG_PACKAGE)) / 'msg'
    types = {}
    for path in sorted(share.glob('*.msg')):
        types.update(get_types_from_msg(path.read_text(), f'{MSG_PACKAGE}/msg/{path.stem}'))
    store.register(types)
    return store


def message_class(msgtype: str) -> type:
    """``'sensor_msgs/msg/Imu'`` -> the rclpy message class."""
    pkg, kind, name = msgtype.split('/')
    try:
        return getattr(importlib.import_module(f'{pkg}.{kind}'), name)
    except (ImportError, AttributeError) as exc:
        raise BagError(f"message type '{msgtype}' is not available in this ROS environment") from exc


class BagWriter:
    """Writes rclpy messages to a rosbag2 bag (a directory) in MCAP or SQLite3 storage."""

    def __init__(self, path: Path | str, storage: str = 'mcap') -> None:
        plugins = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
        if storage not in plugins:
            raise ValueError(f"storage must be one of {list(plugins)}, got '{storage}'")
        self.path = Path(path)
        self._writer = Writer(self.path, version=9, storage_plugin=plugins[storage])
        self._connections: Dict[str, Any] = {}

    def __enter__(self) -> 'BagWriter':
        self._writer.open()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._writer.close()

    def write(self, topic: str, msg: Any, log_time_ns: int) -> None:
        conn = self._connections.get(topic)
        if conn is None:
            module = type(msg).__module__.split('.')  # e.g. sensor_msgs.msg._imu
            msgtype = f'{module[0]}/msg/{type(msg).__name__}'
            conn = self._writer.add_connection(topic, msgtype, typestore=typestore())
            self._connections[topic] = conn
        self._writer.write(conn, log_time_ns, serialize_message(msg))


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
    try:
        reader = AnyReader([path], default_typestore=typestore())
        reader.open()
    except Exception as exc:  # noqa: BLE001 - rosbags raises several types for bad bags
        raise BagError(f'bag {path}: cannot be opened ({type(exc).__name__}: {exc})') from exc
    if reader.message_count == 0:
        reader.close()
        raise BagError(f'bag {path}: contains no messages')
    return reader


def read_messages(reader, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
    wanted = set(topics) if topics is not None else None
    conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
    for conn, log_time, data in reader.messages(connections=conns):
        yield BagMessage(conn.topic, conn.msgtype, log_time, bytes(data))


def topics_and_types(reader) -> Dict[str, Tuple[str, int]]:
    """``topic -> (msgtype, message count)``."""
    out: Dict[str, Tuple[str, int]] = {}
    for conn in reader.connections:
        prev = out.get(conn.topic, (conn.msgtype, 0))[1]
        out[conn.topic] = (conn.msgtype, prev + conn.msgcount)
    return out


def decode(msg: BagMessage) -> Any:
    return deserialize_message(msg.data, message_class(msg.msgtype))
