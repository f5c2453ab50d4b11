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

"""Recording live sensor topics into labelled bags, one bag per take (``hybrid-fusion teach``).

Messages are taken serialized (``raw`` subscriptions: nothing is decoded on the way) and written
with their receive time as the log time. A take keeps what was recorded even when it stops early
(Ctrl-C, a full disk): the bag is closed, and the result gives the time it covers (for its labels
file, which the caller writes) and says why it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
import importlib
from pathlib import Path
import threading
import time
from typing import Callable, Dict, Mapping, Optional

from .bag import BagWriter


@dataclass
class Take:
    """One recorded take: its bag, the wall-clock span it covers, messages per topic and what
    went wrong."""

    bag: Path
    start: float  # s, wall clock (the sensors' stamps of a live take)
    end: float
    first_log_time: Optional[float]  # s: the bag's first message, where its labels count from
    counts: Dict[str, int] = field(default_factory=dict)
    error: str = ''  # why it stopped early ('' : it ran its time)

    @property
    def seconds(self) -> float:
        return self.end - self.start

    @property
    def silent(self) -> list:
        """Topics of which no message came."""
        return sorted(t for t, n in self.counts.items() if n == 0)


def message_class(msgtype: str) -> type:
    """The rclpy class of ``pkg/msg/Type``."""
    package, _, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), name)


class TakeRecorder:
    """Subscribes to ``topics`` (name -> ``pkg/msg/Type``) on ``node`` and records takes."""

    def __init__(self, node, topics: Mapping[str, str], qos) -> None:
        self.node = node
        self.topics = dict(topics)
        self._lock = threading.Lock()
        self._writer: Optional[BagWriter] = None
        self._counts: Dict[str, int] = {}
        self._error = ''
        self._subscriptions = [
            node.create_subscription(
                message_class(msgtype),
                topic,
                lambda data, topic=topic, msgtype=msgtype: self._on_message(topic, msgtype, data),
                qos,
                raw=True,
            )
            for topic, msgtype in self.topics.items()
        ]

    def publishers(self) -> Dict[str, int]:
        """How many publishers each topic has now."""
        return {t: self.node.count_publishers(t) for t in self.topics}

    def _on_message(self, topic: str, msgtype: str, data: bytes) -> None:
        with self._lock:
            if self._writer is None or self._error:
                return
            try:
                self._writer.write_cdr(topic, msgtype, bytes(data), time.time_ns())
            except OSError as exc:  # a full disk, a vanished folder: stop this take, keep it
                self._error = f'writing {self._writer.path} failed: {exc}'
                return
            self._counts[topic] += 1

    def record(
        self,
        bag: Path,
        seconds: float,
        note: str,
        tick: Optional[Callable[[float], bool]] = None,
    ) -> Take:
        """Record ``seconds`` into ``bag``; ``tick(elapsed)`` is called about ten times a second
        (a progress bar) and may return False to stop early."""
        writer = BagWriter(bag, data_note=note)
        writer.__enter__()
        with self._lock:
            self._writer, self._error = writer, ''
            self._counts = dict.fromkeys(self.topics, 0)
        start = time.time()
        stopped = ''
        try:
            while time.time() - start < seconds:
                time.sleep(0.1)
                if self._error:
                    break
                if tick is not None and tick(time.time() - start) is False:
                    stopped = 'stopped by the operator'
                    break
        except KeyboardInterrupt:
            stopped = 'interrupted (Ctrl-C)'
        finally:
            end = time.time()
            with self._lock:
                self._writer = None
                counts, error = dict(self._counts), self._error or stopped
            try:
                writer.__exit__(None, None, None)
            except OSError as exc:
                error = error or f'closing {bag} failed: {exc}'
        first = None
        if any(counts.values()):
            from .bag import BagError
            from .bag import open_reader

            try:
                reader = open_reader(bag)
            except (BagError, OSError) as exc:  # the write that failed left it unreadable
                error = f'{error}; the bag cannot be read back ({exc})'.lstrip('; ')
            else:
                try:
                    first = reader.start_time * 1e-9
                finally:
                    reader.close()
        return Take(bag, start, end, first, counts, error)

    def close(self) -> None:
        for subscription in self._subscriptions:
            self.node.destroy_subscription(subscription)


__all__ = ['Take', 'TakeRecorder']
