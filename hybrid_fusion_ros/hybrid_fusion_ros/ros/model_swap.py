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

"""A graph's model swap, as the fusion node's ``~/load_model`` service drives it.

One call swaps every node of the graph, in two phases, so that nothing changes unless
everything can:

1. *prepare*: the fusion node loads the new checkpoint beside its running model and checks it
   against the graph (core/model_info.py: the same inputs, sensor types and windows); it finds
   the encoder of each input (the publishers of its feature topic) and asks each, through its
   own ``~/load_model`` (``PREPARE``), to load and check its part. Any refusal, timeout or an
   input without an encoder: every prepared node is told to ``ABORT`` and the call is refused
   with the reasons; the running model is untouched;
2. *commit*: a window boundary in sensor time is chosen a little ahead of the newest feature
   (:func:`~..core.model_info.next_boundary`), every encoder is told to encode windows ending
   there or later with the new model (``COMMIT``), and the fusion node switches when the first
   feature of that window reaches it: windows before the boundary are still labelled by the
   old model, those from it on by the new one, with a fresh state.

The awaits here run as a task of the node's executor (rclpy runs a coroutine callback that
way), so a single-threaded executor keeps serving features and labels while a swap is under
way; loading a checkpoint runs on a worker thread for the same reason.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, List, Optional, Tuple

from hybrid_fusion_msgs.srv import LoadModel
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from rclpy.task import Future

# Seconds an encoder may take to load a checkpoint (an ONNX export in a child process
# included), and to answer a commit or an abort.
PREPARE_TIMEOUT = 120.0
COMMIT_TIMEOUT = 5.0
SERVICE_WAIT = 2.0


def in_thread(node: Node, fn: Callable[[], Any]) -> Future:
    """``fn()`` on a worker thread; the future gets its result (or its exception)."""
    future = Future(executor=node.executor)

    def run() -> None:
        try:
            future.set_result(fn())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting task
            future.set_exception(exc)

    threading.Thread(target=run, name='load_model', daemon=True).start()
    return future


async def with_timeout(node: Node, future: Future, timeout: float) -> Optional[Any]:
    """Await ``future``; None when it is not done within ``timeout`` seconds."""
    timer = None

    def expire() -> None:
        future.cancel()
        timer.cancel()

    timer = node.create_timer(timeout, expire, callback_group=ReentrantCallbackGroup())
    try:
        return await future
    finally:
        timer.cancel()
        node.destroy_timer(timer)


class EncoderPeer:
    """An encoder node of the graph, reached through its ``~/load_model`` service."""

    def __init__(self, node: Node, input_name: str, service: str) -> None:
        self.node = node
        self.input_name = input_name
        self.service = service
        self.client = node.create_client(
            LoadModel, service, callback_group=ReentrantCallbackGroup()
        )

    async def call(
        self, action: int, checkpoint: str = '', switch_at: Any = None, timeout: float = 5.0
    ) -> Tuple[bool, str, str]:
        """``(success, message, model_id)`` of one request; a timeout is a failure."""
        request = LoadModel.Request(action=action, checkpoint=checkpoint)
        if switch_at is not None:
            request.switch_at = switch_at
        response = await with_timeout(self.node, self.client.call_async(request), timeout)
        if response is None:
            return False, f'{self.service} did not answer within {timeout:g} s', ''
        return bool(response.success), response.message, response.model_id

    def close(self) -> None:
        self.node.destroy_client(self.client)


async def find_encoders(
    node: Node, topics: List[Tuple[str, str]]
) -> Tuple[List[EncoderPeer], List[str]]:
    """The encoder of each ``(input, resolved feature topic)``, and why inputs have none
    (no publisher on the topic, or a publisher without a ``~/load_model`` service)."""
    peers, problems = [], []
    refused = set()  # services found missing already: one wait each
    for input_name, topic in topics:
        infos = node.get_publishers_info_by_topic(topic)
        if not infos:
            problems.append(f"no node publishes {topic} (input '{input_name}'): start its encoder")
            continue
        for info in infos:
            namespace = info.node_namespace.rstrip('/')
            service = f'{namespace}/{info.node_name}/load_model'
            if service in refused:
                continue
            peer = EncoderPeer(node, input_name, service)
            ready = peer.client.service_is_ready()
            if not ready:
                await with_timeout(node, in_thread(node, lambda p=peer: _wait(p)), SERVICE_WAIT)
                ready = peer.client.service_is_ready()
            if not ready:
                peer.close()
                refused.add(service)
                problems.append(
                    f'{namespace}/{info.node_name} publishes {topic} but offers no '
                    f'{service} service (not an encoder node of this version?)'
                )
                continue
            peers.append(peer)
    return peers, problems


def _wait(peer: EncoderPeer) -> bool:
    try:
        return peer.client.wait_for_service(timeout_sec=SERVICE_WAIT)
    except Exception:  # noqa: BLE001 - a client destroyed meanwhile: not ready
        return False


__all__ = ['COMMIT_TIMEOUT', 'EncoderPeer', 'PREPARE_TIMEOUT', 'find_encoders', 'in_thread']
