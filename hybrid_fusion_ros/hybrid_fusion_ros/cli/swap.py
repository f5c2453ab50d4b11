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

"""``hybrid-fusion swap CHECKPOINT``: load another model into the running graph.

Calls the fusion node's ``~/load_model`` (ros/model_swap.py has the protocol), then, unless
``--no-wait``, watches the label topic until the first label of the new model and says how many
windows went unlabelled across the switch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import threading
import time

from . import Command


class SwapCommand(Command):
    help = (
        'load another checkpoint into the running graph without a restart (the fusion node '
        'and every encoder switch at one window boundary)'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            'checkpoint', help="the checkpoint to run ('' or 'default': the packaged one)"
        )
        parser.add_argument(
            '--node', default='/fusion_node', help='the fusion node (default: %(default)s)'
        )
        parser.add_argument(
            '--label-topic', default='/activity', help='its label topic (default: %(default)s)'
        )
        parser.add_argument(
            '--timeout', type=float, default=180.0, help='seconds to wait for the swap'
        )
        parser.add_argument(
            '--no-wait', action='store_true', help='return once the graph accepted the swap'
        )
        parser.add_argument(
            '--service-timeout',
            type=float,
            default=10.0,
            help='seconds to wait for the service to appear (default: %(default)s)',
        )

    def run(self, args: argparse.Namespace) -> int:
        from ..ros.node_common import BackgroundSpin

        checkpoint = '' if args.checkpoint in ('', 'default') else args.checkpoint
        if checkpoint:
            path = Path(checkpoint)
            if not path.is_file():
                print(f'error: {checkpoint}: no such file', flush=True)
                return 2
            checkpoint = str(path.resolve())
        with BackgroundSpin('hybrid_fusion_swap') as spin:
            return swap_graph(
                spin.node,
                checkpoint,
                args.node,
                args.label_topic,
                args.timeout,
                not args.no_wait,
                args.service_timeout,
            )


def swap_graph(
    node,
    checkpoint: str,
    fusion_node: str = '/fusion_node',
    label_topic: str = '/activity',
    timeout: float = 180.0,
    wait: bool = True,
    service_timeout: float = 10.0,
) -> int:
    """Ask ``fusion_node``'s ``~/load_model`` to swap the graph to ``checkpoint`` ('' : the
    packaged one) from ``node`` (spun elsewhere); with ``wait``, watch ``label_topic`` for the
    first label of the new model. Prints what happened; returns the exit code."""
    from hybrid_fusion_msgs.msg import ActivityLabel
    from hybrid_fusion_msgs.srv import LoadModel

    from ..ros.qos import RESULT_QOS

    service = f'{fusion_node.rstrip("/")}/load_model'
    labels = []
    seen = threading.Event()
    client = node.create_client(LoadModel, service)
    if not client.wait_for_service(timeout_sec=service_timeout):
        print(f'error: no {service} service: is the graph running?', flush=True)
        return 1

    def on_label(msg: ActivityLabel) -> None:
        labels.append((msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec, msg.model_id))
        seen.set()

    subscription = node.create_subscription(ActivityLabel, label_topic, on_label, RESULT_QOS)
    try:
        start = time.monotonic()
        future = client.call_async(
            LoadModel.Request(action=LoadModel.Request.SWAP, checkpoint=checkpoint)
        )
        while not future.done() and time.monotonic() - start < timeout:
            time.sleep(0.05)
        if not future.done():
            print(f'error: {service} did not answer within {timeout:g} s', flush=True)
            return 1
        response = future.result()
        print(response.message, flush=True)
        if not response.success:
            return 1
        if not wait or not response.model_id:
            return 0
        return _wait_for_switch(labels, seen, response, start, timeout)
    finally:
        node.destroy_subscription(subscription)
        node.destroy_client(client)


def _wait_for_switch(labels, seen, response, start, timeout) -> int:
    """Wait for the first label of the new model; print what the switch cost."""
    switch_at = response.switch_at.sec * 10**9 + response.switch_at.nanosec
    while time.monotonic() - start < timeout:
        first = next((stamp for stamp, model in labels if model == response.model_id), None)
        if first is not None:
            before = [s for s, model in labels if model == response.previous_model_id]
            last_old = max(before) if before else None
            gap = (first - last_old) / 1e9 if last_old is not None else float('nan')
            print(
                f'first label of model {response.model_id} for the window ending '
                f'{first / 1e9:.3f} (the last of {response.previous_model_id}: '
                f'{"none seen" if last_old is None else f"{last_old / 1e9:.3f}"}; '
                f'{gap:.3f} s apart)',
                flush=True,
            )
            return 0
        seen.wait(0.2)
        seen.clear()
    print(
        f'the graph accepted the swap, but no label of model {response.model_id} came within '
        f'{timeout:g} s (switch at {switch_at / 1e9:.3f}, sensor time: is data flowing?)',
        flush=True,
    )
    return 1
