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

"""``hybrid-fusion demo``: the newcomer's first run.

Generates the SIMULATED demo bag (once, cached), starts the classifier graph as separate
node processes (or all nodes in one process, ``--single-process``) from
config/classifier.yaml, replays the bag in real time with stamps shifted to now (as live
sensors would stamp them), prints each label beside the ground truth, and
ends with accuracy, label coverage and latency percentiles.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import threading
import time

from hybrid_fusion_ros.cli import Command
from hybrid_fusion_ros.core.paths import cache_root

SENSOR_TOPICS = ('/camera/image_raw', '/imu/data', '/audio/chunk')


class DemoCommand(Command):
    help = 'replay the simulated demo bag through the running node graph and score the labels'
    assignments = 'params'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--bag', type=Path, help='bag to replay (default: generated demo bag)')
        parser.add_argument(
            '--seconds', type=float, default=60.0, help='length of the generated bag'
        )
        parser.add_argument('--seed', type=int, default=7, help='seed of the generated bag')
        parser.add_argument(
            '--config', type=Path, help='YAML parameter file (default: the packaged one)'
        )
        parser.add_argument(
            '--fusion-mode',
            choices=['early', 'late', 'async'],
            help="the fusion node's fusion_mode (default: the YAML's)",
        )
        parser.add_argument(
            '--backend',
            choices=('torch', 'onnxruntime'),
            help="every node's inference_backend (default: the YAML's)",
        )
        parser.add_argument(
            'params',
            nargs='*',
            metavar='NAME:=VALUE',
            help=(
                'node parameters, as on a ros2 launch line, anywhere on the line: '
                'fusion_mode:=late max_age:=0.8; each goes to the nodes that declare it '
                '(inference_backend to every node, fusion_mode to the fusion node)'
            ),
        )
        parser.add_argument(
            '--verbose-nodes', action='store_true', help="show the nodes' own log output"
        )
        parser.add_argument(
            '--single-process',
            action='store_true',
            help='run every node in one process on one executor (graph_container)',
        )
        parser.add_argument('--json', type=Path, help='also write the summary as JSON here')
        parser.add_argument(
            '--swap-to',
            type=Path,
            metavar='CHECKPOINT',
            help=(
                'swap the running graph to this checkpoint while the bag plays (the fusion '
                "node's ~/load_model, as `hybrid-fusion swap` calls it) and report how many "
                'windows went unlabelled across the switch'
            ),
        )
        parser.add_argument(
            '--swap-after',
            type=float,
            default=4.0,
            help='seconds into the replay to ask for the swap (default: %(default)s)',
        )

    def run(self, args: argparse.Namespace) -> int:

        from hybrid_fusion_ros.core.checkpoint import Checkpoint
        from ..data.demo_data import generate_bag
        from hybrid_fusion_ros.ros.diagnostics import DiagnosticsCollector
        from ..evaluation.evaluator import LabelEvaluator
        from hybrid_fusion_ros.ros.graph import config_backend
        from hybrid_fusion_ros.ros.graph import config_checkpoint
        from hybrid_fusion_ros.ros.graph import default_config_path
        from hybrid_fusion_ros.ros.graph import FUSION_NODE
        from hybrid_fusion_ros.ros.graph import load_config
        from hybrid_fusion_ros.ros.graph import graph_for_checkpoint
        from hybrid_fusion_ros.ros.graph import node_parameters
        from hybrid_fusion_ros.ros.graph import route_parameters
        from hybrid_fusion_ros.ros.launcher import GraphProcess
        from hybrid_fusion_ros.ros.launcher import GraphStartError
        from hybrid_fusion_ros.ros.node_common import BackgroundSpin
        from hybrid_fusion_ros.ros.qos import use_sensor_profile
        from ..bags.replay import BagReplayer

        bag = args.bag
        if bag is None:
            # _v2: audio chunks logged when their last sample is in (bags cached before differ).
            bag = cache_root() / f'demo_{args.seconds:g}s_seed{args.seed}_v2'
            if not bag.exists():
                print(f'generating the simulated demo bag {bag} ...', flush=True)
                tmp = bag.with_name(bag.name + '.partial')
                if tmp.exists():
                    import shutil

                    shutil.rmtree(tmp)
                generate_bag(tmp, args.seconds, args.seed)
                tmp.rename(bag)
        config = args.config or default_config_path()
        fusion_params = node_parameters(load_config(config), FUSION_NODE)
        window = Checkpoint.load(fusion_params.get('checkpoint') or None).window

        from hybrid_fusion_ros.cli import parse_map

        requested = parse_map(args.params)
        if args.fusion_mode:
            requested['fusion_mode'] = args.fusion_mode
        if args.backend:
            requested['inference_backend'] = args.backend
        backend = requested.get('inference_backend') or config_backend(config)
        nodes = graph_for_checkpoint(config_checkpoint(config), backend)
        try:
            node_overrides = route_parameters(requested, nodes)
        except ValueError as exc:
            raise SystemExit(f'error: {exc}')
        graph = GraphProcess(
            config,
            quiet=not args.verbose_nodes,
            node_overrides=node_overrides,
            graph=nodes,
            single_process=args.single_process,
        )
        # This process publishes the camera frames: the writer's transport is the one that counts.
        use_sensor_profile()
        spinner = BackgroundSpin('hybrid_fusion_demo')
        node = spinner.node
        replayer = None
        try:
            replayer = BagReplayer(node, bag, rate=1.0, restamp=True)

            shown = {'key': None}

            def show(rec, truth):
                # Late and async modes publish at the fusion rate: print a line per new window
                # or new label, not per message.
                if (rec.stamp, rec.label) == shown['key']:
                    return
                shown['key'] = (rec.stamp, rec.label)
                t = rec.stamp - (replayer.start_ns + replayer.shift_ns) / 1e9
                mark = (
                    ''
                    if truth is None
                    else ('  ok' if truth == rec.label else f'  MISS (truth {truth})')
                )
                print(
                    f'  t={t:6.1f}s  {rec.label:<16} p={rec.confidence:.2f}  latency'
                    f' {rec.latency_ms:6.1f} ms{mark}',
                    flush=True,
                )

            evaluator = LabelEvaluator(node, on_label=show)
            swap = SwapProbe(node, args.swap_to, args.swap_after) if args.swap_to else None
            diagnostics = DiagnosticsCollector(node)
            evaluator.gt_offset = window.length / 2
            layout = 'all nodes in one process' if args.single_process else 'one process per node'
            print(f'starting the node graph ({config}; {layout}) ...', flush=True)
            graph.start()
            pubs = [replayer.publisher_for(t) for t in SENSOR_TOPICS]
            try:
                graph.wait_for(
                    lambda: all(p.get_subscription_count() > 0 for p in pubs)
                    and node.count_publishers('/activity') > 0,
                    120.0,
                    'the nodes to start',
                )
            except GraphStartError as exc:
                raise SystemExit(f'error: {exc}')
            print(
                f'replaying {bag.name} ({replayer.duration:.0f} s, simulated data) in real'
                ' time ...',
                flush=True,
            )
            if swap is not None:
                swap.start()
            replayer.run()
            # The last windows are still in flight: wait for the labels to stop arriving.
            count = -1
            while count != len(evaluator.labels):
                count = len(evaluator.labels)
                time.sleep(1.5)  # also lets every node publish its diagnostics once more
            start = (replayer.start_ns + replayer.shift_ns) / 1e9
            summary = evaluator.summary(window, start, (replayer.end_ns + replayer.shift_ns) / 1e9)
        finally:
            graph.stop()
            if replayer is not None:
                replayer.close()
            spinner.close()
        lat = summary['latency_ms']
        mode = requested.get('fusion_mode', fusion_params.get('fusion_mode', 'early'))
        layout = 'one process' if args.single_process else 'one process per node'
        print(
            f'\nsummary ({mode} fusion, {layout}; simulated data, replayed in real time through'
            ' the running nodes):'
        )
        print(
            f"  labels:    {summary['labels']} for {summary['expected_windows']} windows "
            f"(coverage {100 * summary['coverage']:.1f}%)"
        )
        print(
            f"  accuracy:  {100 * summary['accuracy']:.1f}%  (macro-F1 {summary['macro_f1']:.3f}; "
            f'chance is {100 / 6:.1f}%)'
        )
        first = summary['first_label_latency_ms']
        print(
            f"  latency:   p50 {first['p50']:.1f} ms, p99 {first['p99']:.1f} ms, max"
            f" {first['max']:.1f} ms (newest sensor sample -> a window's first label published)"
        )
        if mode != 'early':
            print(
                f"  all labels: p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms (age of the"
                f" newest evidence in each of the {summary['labels']} labels published at the"
                ' fusion rate)'
            )
        for m in ('camera', 'imu', 'audio'):
            v = diagnostics.values(f'features/{m} topic status')
            if v:
                print(
                    f"  {m + ' feature:':<15} latency p50"
                    f" {v.get('Sensor to feature latency p50 (ms)', '?')} ms, p95"
                    f" {v.get('Sensor to feature latency p95 (ms)', '?')} ms (newest sample ->"
                    ' fusion node)'
                )
        v = diagnostics.values(': fusion')
        if v:
            print(f"  fusion step:   p50 {v.get('Fusion step time p50 (ms)', '?')} ms")
        for task, values in diagnostics.drops().items():
            print(
                f'  dropped:   {task}: '
                + ', '.join(f'{k.replace("Dropped ", "")} {v}' for k, v in values.items())
            )
        swapped_ok = True
        if swap is not None:
            summary['swap'] = swap.result(window.hop)
            print(f"  swap:      {summary['swap']['text']}")
            swapped_ok = summary['swap']['success']
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2))
        return 0 if summary['labels'] > 0 and swapped_ok else 1


class SwapProbe:
    """Asks the graph to swap models ``after`` seconds into the replay, and keeps every
    label's window end and model id to measure what the switch cost."""

    def __init__(self, node, checkpoint: Path, after: float) -> None:
        from hybrid_fusion_msgs.msg import ActivityLabel
        from hybrid_fusion_msgs.srv import LoadModel

        from hybrid_fusion_ros.ros.qos import RESULT_QOS

        self.node = node
        self.checkpoint = str(Path(checkpoint).resolve())
        self.after = after
        self.labels: list = []
        self.response = None
        self.error = ''
        self.client = node.create_client(LoadModel, '/fusion_node/load_model')
        node.create_subscription(ActivityLabel, '/activity', self._on_label, RESULT_QOS)
        self._thread = threading.Thread(target=self._swap, daemon=True)

    def _on_label(self, msg) -> None:
        self.labels.append((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, msg.model_id))

    def start(self) -> None:
        self._thread.start()

    def _swap(self) -> None:
        from hybrid_fusion_msgs.srv import LoadModel

        time.sleep(self.after)
        if not self.client.wait_for_service(timeout_sec=10.0):
            self.error = 'no /fusion_node/load_model service'
            return
        future = self.client.call_async(
            LoadModel.Request(action=LoadModel.Request.SWAP, checkpoint=self.checkpoint)
        )
        deadline = time.monotonic() + 120.0
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.response = future.result() if future.done() else None
        if self.response is None:
            self.error = 'the swap service did not answer within 120 s'

    def result(self, hop: float) -> dict:
        """What the swap did: the models, where it switched and the windows it cost."""
        self._thread.join(timeout=130.0)
        r = self.response
        if r is None or not r.success:
            why = self.error or (r.message if r is not None else 'not called')
            return {'success': False, 'text': f'FAILED: {why}'}
        old = sorted(t for t, m in self.labels if m == r.previous_model_id)
        new = sorted(t for t, m in self.labels if m == r.model_id)
        if not new:
            return {'success': False, 'text': f'{r.message}; but no label of the new model came'}
        lost = max(0, round((new[0] - old[-1]) / hop) - 1) if old else 0
        return {
            'success': True,
            'previous_model_id': r.previous_model_id,
            'model_id': r.model_id,
            'switch_at': r.switch_at.sec + r.switch_at.nanosec * 1e-9,
            'last_old_window': old[-1] if old else None,
            'first_new_window': new[0],
            'windows_unlabelled': lost,
            'labels_old': len(old),
            'labels_new': len(new),
            'text': (
                f'model {r.previous_model_id} -> {r.model_id}: last window of the old model '
                f'{old[-1] if old else float("nan"):.2f}, first of the new {new[0]:.2f}: '
                f'{lost} window(s) unlabelled across the switch'
            ),
        }
