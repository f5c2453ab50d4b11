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

"""``hybrid-fusion teach``: teach the running model a new activity, or forget, rename or merge
classes; check the new model, then swap it into the running graph.

    hybrid-fusion teach waving                      # 3 takes of 10 s from the live topics
    hybrid-fusion teach waving --bags take1 take2   # labelled bags instead
    hybrid-fusion teach --forget waving | --rename waving:=greeting | --merge a,b:=c
    hybrid-fusion teach --undo                      # the running model's parent back

Every run writes into one folder (``--out``, default ``teach_<label>_<time>``): the takes (each a
bag with its ``.labels.csv``), ``check.json`` and, when the check passes, ``model.pt``. The
parent is the running graph's model (its latched ``/fusion_node/model_info``) unless
``--checkpoint`` names one. Few-shot training on the parent's frozen encoders, with its old
classes replayed so that they are not forgotten, is training/teach.py; the swap is the fusion
node's ``~/load_model`` (``hybrid-fusion swap``).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from datetime import timezone
import json
from pathlib import Path
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from hybrid_fusion_ros.cli import Command
from hybrid_fusion_ros.cli import parse_map

# The message each sensor type is recorded as, live.
RECORDED_TYPES = {
    'camera': 'sensor_msgs/msg/Image',
    'imu': 'sensor_msgs/msg/Imu',
    'audio': 'hybrid_fusion_msgs/msg/AudioChunk',
}


class TeachError(RuntimeError):
    """Why a teach run stops; the message names the cause and the fix."""


class TeachCommand(Command):
    help = (
        'teach the running model a new activity from a few takes (recorded live or from bags), '
        'check it and swap it in; --forget, --rename, --merge classes; --undo'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('label', nargs='?', help='the activity to teach')
        what = parser.add_argument_group('examples')
        what.add_argument('--takes', type=int, default=3, help='live takes (default: 3)')
        what.add_argument(
            '--seconds', type=float, default=10.0, help='seconds per take (default: 10)'
        )
        what.add_argument(
            '--countdown', type=float, default=3.0, help='seconds of countdown before a take'
        )
        what.add_argument(
            '--bags',
            nargs='+',
            type=Path,
            help='labelled bags of the activity instead of live takes',
        )
        what.add_argument(
            '--map',
            action='append',
            default=[],
            metavar='TOPIC:=INPUT',
            help="the topic an input is on (default: the input's own, e.g. /camera/image_raw)",
        )
        what.add_argument(
            '--add-examples',
            action='store_true',
            help='the label exists already: give it these examples too',
        )
        model = parser.add_argument_group('models')
        model.add_argument(
            '--checkpoint', help="the parent (default: the running graph's model)"
        )
        model.add_argument(
            '--replay',
            nargs='+',
            type=Path,
            help=(
                "the parent's training recordings, replayed so that its classes are not "
                'forgotten (needed unless it was trained on simulated data)'
            ),
        )
        model.add_argument('--out', type=Path, help='folder for takes, check and model')
        model.add_argument('--epochs', type=int, help='training epochs (default: teach.py)')
        model.add_argument(
            '--min-new-accuracy',
            type=float,
            help='the new class on its held-out takes must reach this (default 0.9)',
        )
        model.add_argument(
            '--max-old-drop',
            type=float,
            help='old classes may lose at most this much accuracy (default 0.02)',
        )
        edit = parser.add_argument_group('other changes (each a new model with a parent)')
        edit.add_argument('--forget', metavar='LABEL', help='drop a class')
        edit.add_argument('--rename', metavar='OLD:=NEW', help='rename a class')
        edit.add_argument('--merge', metavar='A,B:=C', help='merge classes into one')
        edit.add_argument(
            '--undo', action='store_true', help="swap the running model's parent back"
        )
        graph = parser.add_argument_group('the running graph')
        graph.add_argument('--node', default='/fusion_node', help='the fusion node')
        graph.add_argument('--label-topic', default='/activity')
        graph.add_argument(
            '--graph-timeout',
            type=float,
            default=3.0,
            help='seconds to wait for the running model and the sensor topics (default 3)',
        )
        graph.add_argument(
            '--no-swap', action='store_true', help='write the checked model, do not swap it in'
        )

    def run(self, args: argparse.Namespace) -> int:
        from hybrid_fusion_ros.ros.node_common import BackgroundSpin

        edits = [x for x in (args.forget, args.rename, args.merge, args.undo) if x]
        if len(edits) > 1 or (edits and args.label):
            print('error: give one of LABEL, --forget, --rename, --merge, --undo', flush=True)
            return 2
        if not edits and not args.label:
            print('error: name the activity to teach (or --forget, --rename, --merge, --undo)')
            return 2
        with BackgroundSpin('hybrid_fusion_teach') as spin:
            try:
                return Teacher(spin.node, args).run()
            except TeachError as exc:
                print(f'error: {exc}', flush=True)
                return 1


class Teacher:
    """One ``teach`` run, on a spun helper node."""

    def __init__(self, node, args: argparse.Namespace) -> None:
        self.node = node
        self.args = args
        self.running: Optional[Any] = None  # the graph's ModelInfo, if it runs

    # --- the parent and the graph ---------------------------------------------------------
    def model_info(self) -> Optional[Any]:
        """The running graph's latched model description, or None."""
        from hybrid_fusion_msgs.msg import ModelInfo

        from hybrid_fusion_ros.ros.qos import LATCHED_QOS

        got: List[Any] = []
        topic = f'{self.args.node.rstrip("/")}/model_info'
        subscription = self.node.create_subscription(ModelInfo, topic, got.append, LATCHED_QOS)
        try:
            deadline = time.monotonic() + self.args.graph_timeout
            while not got and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            self.node.destroy_subscription(subscription)
        return got[-1] if got else None

    def parent(self):
        from hybrid_fusion_ros.core.checkpoint import Checkpoint
        from hybrid_fusion_ros.core.checkpoint import CheckpointError

        self.running = self.model_info()
        path = self.args.checkpoint
        if path is None:
            if self.running is None:
                raise TeachError(
                    f'no running graph ({self.args.node}/model_info has nothing) and no '
                    '--checkpoint: start the graph (ros2 launch hybrid_fusion_ros '
                    'classifier.launch.py) or name the parent with --checkpoint'
                )
            path = self.running.checkpoint or None
        try:
            return Checkpoint.load(path)
        except CheckpointError as exc:
            raise TeachError(str(exc)) from exc

    def folder(self, what: str) -> Path:
        stamp = datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')
        out = self.args.out or Path(f'teach_{what}_{stamp}')
        out.mkdir(parents=True, exist_ok=True)
        return out

    def swap(self, checkpoint: Path) -> int:
        """Swap the running graph to ``checkpoint`` (or say why not)."""
        from hybrid_fusion_ros.cli.swap import swap_graph

        if self.args.no_swap:
            print(f'--no-swap: {checkpoint} written, the running model untouched', flush=True)
            return 0
        if self.running is None:
            print(
                f'no running graph to swap into: {checkpoint} is written; run it with '
                f'`hybrid-fusion swap {checkpoint}` once the graph runs',
                flush=True,
            )
            return 0
        return swap_graph(
            self.node, str(checkpoint.resolve()), self.args.node, self.args.label_topic
        )

    # --- what to do -----------------------------------------------------------------------
    def run(self) -> int:
        args = self.args
        if args.undo:
            return self.undo()
        parent = self.parent()
        if args.forget or args.rename:
            from ..training.teach import forget
            from ..training.teach import rename
            from ..training.teach import TeachError as ModelError

            try:
                if args.forget:
                    child, what = forget(parent, args.forget), f'forget_{args.forget}'
                else:
                    old, new = _pair(args.rename, '--rename OLD:=NEW')
                    child, what = rename(parent, old, new), f'rename_{old}'
            except ModelError as exc:
                raise TeachError(str(exc)) from exc
            out = self.folder(what)
            path = child.save(out / 'model.pt')
            print(f'{path}: model {child.model_id}, classes {child.classes}', flush=True)
            return self.swap(path)
        if args.merge:
            sources, into = _pair(args.merge, '--merge A,B:=C')
            return self.teach(parent, into, merge=[s for s in sources.split(',') if s])
        return self.teach(parent, args.label)

    def undo(self) -> int:
        from hybrid_fusion_ros.core.checkpoint import Checkpoint

        self.running = self.model_info()
        if self.running is None:
            raise TeachError(f'no running graph ({self.args.node}/model_info): nothing to undo')
        current = Checkpoint.load(self.running.checkpoint or None)
        parent = current.metadata.get('parent_checkpoint')
        if not parent:
            raise TeachError(
                f'the running model {current.model_id} ({current.path}) has no parent: it was '
                'not made by hybrid-fusion teach'
            )
        if not Path(parent).is_file():
            raise TeachError(f'its parent {parent} is gone: swap to a model by hand')
        print(f'undo: back to {parent} (model {current.metadata.get("parent_model_id")})')
        return self.swap(Path(parent))

    def teach(self, parent, label: str, merge: Optional[List[str]] = None) -> int:
        from ..training.teach import merge as merge_classes
        from ..training.teach import parent_knowledge
        from ..training.teach import teach
        from ..training.teach import TeachConfig
        from ..training.teach import TeachError as ModelError

        args = self.args
        if not merge and label in parent.classes and not args.add_examples:
            raise TeachError(
                f"'{label}' is a class of the model already ({', '.join(parent.classes)}): "
                'use --add-examples to give it more examples, or choose another name'
            )
        out = self.folder(label)
        config = TeachConfig()
        overrides = {
            'epochs': args.epochs,
            'min_new_accuracy': args.min_new_accuracy,
            'max_old_drop': args.max_old_drop,
        }
        for name, value in overrides.items():
            if value is not None:
                setattr(config, name, value)
        try:
            # The examples first: what can be refused is refused before anything slow.
            bags: List[str] = []
            if not merge:
                bags = [str(b) for b in (args.bags or self.record(parent, label, out))]
                takes = self.takes([Path(b) for b in bags], parent, label)
            replay = self.load(args.replay, parent, None) if args.replay else None
            knowledge = parent_knowledge(parent, replay)
            if merge:
                result = merge_classes(parent, merge, label, knowledge, config)
            else:
                result = teach(
                    parent,
                    label,
                    takes,
                    knowledge,
                    config,
                    add_examples=args.add_examples,
                    bags=bags,
                    progress=True,
                )
        except ModelError as exc:
            raise TeachError(f'{exc} (the takes are kept in {out})') from exc
        (out / 'check.json').write_text(json.dumps(result.check, indent=2, default=str))
        print_check(result.check, result.seconds)
        if not result.check.get('passed'):
            print(
                f'not good enough: {"; ".join(result.check.get("reasons", []))}. Nothing was '
                f'swapped and no model written; the takes and check.json are in {out}',
                flush=True,
            )
            return 1
        path = result.checkpoint.save(out / 'model.pt')
        print(f'{path}: model {result.checkpoint.model_id}, classes {result.checkpoint.classes}')
        return self.swap(path)

    # --- examples -------------------------------------------------------------------------
    def topics(self, parent) -> Dict[str, Tuple[str, str]]:
        """Input -> (topic, message type) to record."""
        given = {v: k for k, v in parse_map(self.args.map).items()}
        out = {}
        for spec in parent.inputs:
            msgtype = RECORDED_TYPES.get(spec.sensor_type)
            if msgtype is None:
                raise TeachError(
                    f"input '{spec.name}' is a {spec.sensor_type}, which teach cannot record "
                    'live: record it yourself and pass --bags'
                )
            out[spec.name] = (given.get(spec.name, '/' + spec.graph_topic()), msgtype)
        return out

    def record(self, parent, label: str, out: Path) -> List[Path]:
        from tqdm import tqdm

        from hybrid_fusion_ros.ros.qos import sensor_qos
        from ..bags.record import TakeRecorder
        from ..data.truth import GroundTruth
        from ..data.truth import Interval
        from ..data.truth import write_sidecar

        args = self.args
        if args.seconds < parent.window.length:
            raise TeachError(
                f'--seconds {args.seconds:g} is shorter than one window of the model '
                f'({parent.window.length:g} s): record longer takes'
            )
        if args.takes < 1:
            raise TeachError('--takes must be at least 1')
        topics = self.topics(parent)
        recorder = TakeRecorder(self.node, dict(topics.values()), sensor_qos(200))
        try:
            deadline = time.monotonic() + args.graph_timeout
            while time.monotonic() < deadline and not all(recorder.publishers().values()):
                time.sleep(0.1)
            silent = [t for t, n in recorder.publishers().items() if n == 0]
            if silent:
                raise TeachError(
                    f'no publisher on {", ".join(silent)}: start the sensor drivers (or map '
                    'the inputs with --map TOPIC:=INPUT)'
                )
            kept = []
            for k in range(1, args.takes + 1):
                for left in range(int(args.countdown), 0, -1):
                    print(f'take {k}/{args.takes} of "{label}" in {left} ...', flush=True)
                    time.sleep(1.0)
                bag = out / f'take_{k:02d}'
                with tqdm(total=args.seconds, desc=f'take {k}', unit='s') as bar:

                    def tick(elapsed: float) -> bool:
                        bar.update(min(args.seconds, round(elapsed, 1)) - bar.n)
                        return True

                    take = recorder.record(
                        bag, args.seconds, f'recorded live by hybrid-fusion teach: {label}', tick
                    )
                if take.first_log_time is not None:  # the take is the label's interval
                    write_sidecar(
                        GroundTruth([Interval(take.start, take.end, label)], 'teach'),
                        bag.with_name(bag.name + '.labels.csv'),
                        take.first_log_time,
                    )
                if take.error:
                    print(f'take {k}: {take.error}; what it holds is kept in {bag}', flush=True)
                if take.silent:
                    print(
                        f'take {k}: nothing came on {", ".join(take.silent)}: not used (kept '
                        f'in {bag})',
                        flush=True,
                    )
                    continue
                if take.seconds < parent.window.length:
                    print(f'take {k}: shorter than one window: not used', flush=True)
                    continue
                if take.first_log_time is None:  # a write failed and left it unreadable
                    print(f'take {k}: its bag cannot be read back: not used', flush=True)
                    break
                kept.append(bag)
                if take.error:
                    break
        finally:
            recorder.close()
        if not kept:
            raise TeachError(f'no usable take was recorded (what there is stays in {out})')
        return kept

    def takes(self, bags: List[Path], parent, label: str) -> List[Any]:
        """The windows labelled ``label`` in ``bags``, one sequence per labelled run."""
        data = self.load(bags, parent, label)
        if label not in data.classes:
            raise TeachError(
                f"no window of {[str(b) for b in bags]} is labelled '{label}' (their labels: "
                f'{data.classes}): label the bags (<bag>.labels.csv) or check the name'
            )
        index = data.classes.index(label)
        import numpy as np

        from ..data.dataset import SequenceData

        runs = []
        for seq in (s for rec in data.sequences for s in rec):
            mine = np.flatnonzero(seq.labels == index)
            if not len(mine):
                continue
            for part in np.split(mine, np.flatnonzero(np.diff(mine) > 1) + 1):
                runs.append(
                    SequenceData(
                        {m: x[part] for m, x in seq.inputs.items()},
                        np.zeros(len(part), np.int64),
                        seq.ends[part],
                    )
                )
        return runs

    def load(self, bags: List[Path], parent, label: Optional[str]):
        """``bags`` windowed as ``parent`` windows, with their labels (``label`` given: they
        may name that one class alone)."""
        from ..data.loading import load_recordings
        from ..data.loading import TrainingDataError

        user_map = parse_map(self.args.map) if self.args.map else {}
        try:
            return load_recordings(
                bags,
                user_map,
                parent.window,
                init=parent,
                progress=True,
                min_classes=1 if label else 2,
            )
        except TrainingDataError as exc:
            raise TeachError(str(exc)) from exc
        except (OSError, ValueError) as exc:
            raise TeachError(f'{type(exc).__name__}: {exc}') from exc


def _pair(text: str, form: str) -> Tuple[str, str]:
    left, sep, right = (text or '').partition(':=')
    if not (sep and left and right):
        raise TeachError(f"expected {form}, got '{text}'")
    return left, right


def print_check(check: Dict[str, Any], seconds: float) -> None:
    """The check, as the operator reads it."""
    t = check.get('thresholds', {})
    lines = [f'check ({seconds:.1f} s of training and checking):']
    if 'new_accuracy' in check:
        lines.append(
            f"  new class {check.get('new_class')}: {100 * check['new_accuracy']:.1f} % of its "
            f"{check.get('new_windows', '?')} held-out windows (needs >= "
            f"{100 * t.get('min_new_accuracy', 0.9):.0f} %)"
        )
    if 'old_accuracy_child' in check:
        lines.append(
            f"  old classes: {100 * check['old_accuracy_child']:.1f} % (parent "
            f"{100 * check['old_accuracy_parent']:.1f} %, may drop at most "
            f"{100 * t.get('max_old_drop', 0.02):.0f} points) on "
            f"{check.get('old_windows', '?')} windows"
        )
    lines.append(f"  {'PASSED' if check.get('passed') else 'FAILED'}")
    print('\n'.join(lines), flush=True)
    sys.stdout.flush()
