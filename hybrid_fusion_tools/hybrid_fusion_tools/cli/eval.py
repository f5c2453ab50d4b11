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

"""``hybrid-fusion eval BAG [BAG ...]``: replay bags through the running node graph and write one
report over all of them (report.json, report.md, windows.csv, confusion.png, latency_cdf.png).

    hybrid-fusion eval my_run.mcap --map /robot/imu:=imu --map /robot/cam:=camera \\
        --map /robot/mic:=audio --truth my_run_labels.csv --out eval_my_run
    hybrid-fusion eval demo.mcap --compare fusion_mode:=early fusion_mode:=late other.pt
    hybrid-fusion eval monday.mcap tuesday.mcap recordings/ fusion_mode:=late --out eval_week

Positional arguments with ``:=`` are fusion node parameters, the others bags; a folder that is
not a bag stands for the bags in it. With several bags each finds its ground truth itself
(``<bag>.labels.csv`` beside it, else its label topic), and in fast mode one node graph replays
them one after another (see ``evaluation/runner.py``); the report has the metrics over all
windows and a row per bag. ``--jobs N`` replays them on N node graphs at the same time, each in a
process and ROS domain of its own (default: one per two CPU cores; ``evaluation/lanes.py``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from dataclasses import field
import json
import math
from pathlib import Path
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, TYPE_CHECKING

from hybrid_fusion_ros.cli import Command
from hybrid_fusion_ros.cli import parse_map

if TYPE_CHECKING:
    from ..evaluation.runner import EvalOptions
    from ..evaluation.runner import EvalResult
    from ..evaluation.runner import EvalSetup


def parse_run_spec(spec: str) -> Tuple[str, Optional[Path], Optional[str], Dict[str, str]]:
    """``--compare`` item -> (name, config, checkpoint, fusion overrides). An item is a YAML
    parameter file, a .pt checkpoint, or comma-separated fusion-node ``NAME:=VALUE``s."""
    path = Path(spec)
    if spec.endswith(('.yaml', '.yml')):
        return path.stem, path, None, {}
    if spec.endswith('.pt'):
        return path.stem, None, spec, {}
    return spec.replace(':=', '=').replace(',', '_'), None, None, parse_map(spec.split(','))


def split_inputs(items: Sequence[str]) -> Tuple[List[Path], List[str]]:
    """Positional arguments -> (bags as given, fusion ``NAME:=VALUE`` parameters)."""
    return [Path(i) for i in items if ':=' not in i], [i for i in items if ':=' in i]


def graph_groups(setups: Sequence['EvalSetup'], realtime: bool) -> List[List[int]]:
    """The bags (indices, in order) that each node graph replays. Fast mode: one graph as long
    as the nodes' parameters stay the same (a bag with another sensor rate, topic or image
    transport needs nodes of its own). Real time: a graph per bag, since live stamps cannot
    jump back, which is what resets the nodes between bags (``runner.replay_shifts``)."""
    groups: List[List[int]] = []
    previous = None
    for i, setup in enumerate(setups):
        key = (
            json.dumps(setup.node_overrides, sort_keys=True),
            sorted((m, msgtype, dst) for m, (_, msgtype, dst) in setup.plan.inputs.items()),
        )
        if realtime or not groups or key != previous:
            groups.append([i])
        else:
            groups[-1].append(i)
        previous = key
    return groups


def combined_meta(metas: Sequence[Mapping[str, Any]], graphs: int) -> Dict[str, Any]:
    """The ``meta`` of a report over several bags: the first bag's, with what differs from bag
    to bag summed or listed."""

    def distinct(key: str) -> List[str]:
        return list(dict.fromkeys(str(m[key]) for m in metas if m.get(key) is not None))

    def listed(key: str) -> str:
        # A note per recording reads well for a few bags; for many, report.json has each.
        values = distinct(key)
        more = f'; and {len(values) - 3} more (per bag in report.json)' if len(values) > 3 else ''
        return '; '.join(values[:3]) + more

    wall = sum(m['wall_seconds'] for m in metas)
    replayed = sum(m['replayed_seconds'] for m in metas)
    truths = distinct('ground_truth')
    notes = [f"{Path(str(m['bag'])).name}: {n}" for m in metas for n in m.get('notes', [])]
    if graphs > 1:
        notes.append(
            f'{graphs} node graphs, one after another: bags whose nodes need other parameters '
            '(sensor rate, topic, image transport), and every bag in real time, get their own'
        )
    meta = dict(metas[0])
    meta.update(
        bag=f'{len(metas)} bags',
        bags=[str(m['bag']) for m in metas],
        bag_format=', '.join(distinct('bag_format')),
        bag_seconds=sum(m['bag_seconds'] for m in metas),
        data_note=listed('data_note'),
        replay_note=listed('replay_note'),
        ground_truth=(
            truths[0]
            if len(truths) == 1 and all(m.get('ground_truth') for m in metas)
            else 'per bag, see the table' if truths else None
        ),
        wall_seconds=wall,
        replayed_seconds=replayed,
        speed_x=replayed / wall if wall > 0 else None,
        notes=notes,
        messages_published=sum(m['messages_published'] for m in metas),
        node_graphs=graphs,
    )
    return meta


def combined_drops(
    results: Sequence['EvalResult'], graph_of: Sequence[int]
) -> Dict[str, Dict[str, int]]:
    """Drops over several bags. The nodes' diagnostics count from the start of their graph, so
    each graph's last bag holds its total; the evaluator's own counts are per bag."""
    from ..evaluation.runner import EVALUATOR_DROPS

    total: Dict[str, Dict[str, int]] = {}
    last_of_graph = {g: r for r, g in zip(results, graph_of)}
    for result in last_of_graph.values():
        for task, causes in result.diagnostics_drops.items():
            if task != EVALUATOR_DROPS:
                for cause, n in causes.items():
                    total.setdefault(task, {})[cause] = total.get(task, {}).get(cause, 0) + n
    for result in results:
        for cause, n in result.diagnostics_drops.get(EVALUATOR_DROPS, {}).items():
            total.setdefault(EVALUATOR_DROPS, {})[cause] = (
                total.get(EVALUATOR_DROPS, {}).get(cause, 0) + n
            )
    return total


def summary(metrics: Mapping[str, Any], has_truth: bool) -> str:
    """Coverage, window and segment accuracy, detection delay and latency in one line."""
    m = metrics
    acc = (
        ('n/a (no ground truth)' if not has_truth else 'n/a (no scored window)')
        if m['accuracy'] is None
        else f"{100 * m['accuracy']:.1f}%  macro-F1 {m['macro_f1']:.3f}"
    )
    seg = m.get('segments')  # None without ground truth
    segments = ''
    if seg is not None and seg['accuracy'] is None:
        segments = ', segments n/a (none scored)'
    elif seg is not None:
        delay = seg['delay_s']['p50']
        shown = f'{delay:.2f} s' if math.isfinite(delay) else 'n/a (none detected)'
        segments = (
            f", segments {100 * seg['accuracy']:.1f}% ({seg['segments']}), delay p50 {shown}"
        )
    lat = m['latency_ms']
    return (
        f"coverage {100 * m['coverage']:.1f}% ({m['labelled_windows']}/{m['windows']} windows),"
        f" accuracy {acc}{segments}, latency p50 {lat['p50']:.1f} / p99 {lat['p99']:.1f} ms"
    )


class EvalCommand(Command):
    help = 'replay bags through the node graph and score their labels against ground truth'
    assignments = 'inputs'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            'inputs',
            nargs='+',
            metavar='BAG | NAME:=VALUE',
            help=(
                'bags: rosbag2 directories (.mcap/.db3), ROS 1 .bag files, or folders of '
                'bags; and node parameters anywhere on the line, each to the nodes that '
                'declare it, e.g. fusion_mode:=late'
            ),
        )
        parser.add_argument(
            '--backend',
            choices=('torch', 'onnxruntime'),
            help="every node's inference_backend (default: the config's)",
        )
        parser.add_argument(
            '--config', type=Path, help='YAML parameter file (default: the packaged one)'
        )
        parser.add_argument(
            '--checkpoint', help="checkpoint for every node (default: the config's)"
        )
        parser.add_argument(
            '--map',
            action='append',
            metavar='TOPIC:=WHAT',
            help=(
                'bag topic -> an input of the model (its name, or its sensor type if it '
                'has one of that type), ground_truth, or a graph topic'
            ),
        )
        parser.add_argument(
            '--truth',
            type=Path,
            metavar='FILE',
            help=(
                'ground truth of a single bag as CSV (start,end,label) or JSON intervals; '
                'default: <bag>.labels.csv beside the bag, else its /activity_ground_truth '
                'topic'
            ),
        )
        parser.add_argument('--out', type=Path, help='report directory (default: eval_<bag name>)')
        parser.add_argument(
            '--realtime',
            action='store_true',
            help='replay at the recorded pace (times --rate) instead of fast lockstep',
        )
        parser.add_argument(
            '--rate', type=float, default=1.0, help='with --realtime: pace multiplier'
        )
        parser.add_argument(
            '--compare',
            nargs='+',
            metavar='RUN',
            help=(
                'several runs on the same bags, one table: each a .yaml config, a .pt '
                'checkpoint or NAME:=VALUE[,NAME:=VALUE] fusion parameters'
            ),
        )
        parser.add_argument(
            '--window-timeout',
            type=float,
            default=3.0,
            help='fast mode: seconds to wait for a window before moving on (counted)',
        )
        parser.add_argument(
            '--jobs',
            type=int,
            default=0,
            metavar='N',
            help=(
                'fast mode, several bags: node graphs replaying at the same time, each in a '
                'process of its own on its own ROS domain (0, the default: one per two CPU '
                'cores, which one replaying graph keeps busy; at most one per bag); every bag '
                'gives the windows it gives replayed alone'
            ),
        )
        parser.add_argument(
            '--verbose-nodes', action='store_true', help="show the nodes' own log output"
        )
        parser.add_argument(
            '--json', action='store_true', help='print the report JSON to stdout at the end'
        )

    def run(self, args: argparse.Namespace) -> int:
        from ..bags.bag import BagError
        from hybrid_fusion_ros.core.checkpoint import CheckpointError
        from ..evaluation.report import compare_markdown
        from ..evaluation.report import latency_series
        from ..evaluation.report import unwritable
        from ..evaluation.runner import prepare
        from ..data.truth import GroundTruthError
        from hybrid_fusion_ros.ros.graph import default_config_path
        from hybrid_fusion_ros.ros.graph import FUSION_NODE
        from hybrid_fusion_ros.ros.graph import load_config
        from hybrid_fusion_ros.ros.graph import node_parameters
        from hybrid_fusion_ros.ros.graph import route_parameters
        from ..data.recordings import expand_bags

        if args.rate <= 0:
            raise SystemExit(f'error: --rate must be > 0, got {args.rate}')
        if args.jobs < 0:
            raise SystemExit(f'error: --jobs must be >= 0, got {args.jobs}')
        given, params = split_inputs(args.inputs)
        try:
            bags = expand_bags(given)
        except BagError as exc:
            print(f'error: {exc}', file=sys.stderr)
            return 2
        if not bags:
            print(
                'error: no bag given (only NAME:=VALUE parameters or label files)', file=sys.stderr
            )
            return 2
        if args.truth is not None and len(bags) > 1:
            print(
                f'error: --truth is the ground truth of one bag, and {len(bags)} bags were given;'
                " put each bag's ground truth beside it as <bag>.labels.csv (or .labels.json)",
                file=sys.stderr,
            )
            return 2
        base_config = args.config or default_config_path()
        if not Path(base_config).is_file():
            raise SystemExit(f'error: parameter file {base_config}: no such file')
        runs = (
            [parse_run_spec(s) for s in args.compare]
            if args.compare
            else [('run', None, None, {})]
        )
        several = len(bags) > 1
        stem = bags[0].name.replace('.', '_')
        out = args.out or Path(
            f'eval_{stem}_and_{len(bags) - 1}_more' if several else f'eval_{stem}'
        )
        problem = unwritable(out)
        if problem:  # found now, not after the whole replay
            print(f'error: cannot write the report to {out}: {problem}', file=sys.stderr)
            return 2
        user_map = parse_map(args.map)
        base_overrides = parse_map(params)
        if args.backend:
            base_overrides['inference_backend'] = args.backend

        # Every bag is read (index, inputs, ground truth) for every run before a node starts:
        # a bad one fails now, not after an hour of replaying the others.
        planned = []
        prepared: Dict[Optional[str], List['EvalSetup']] = {}
        for name, config, checkpoint, overrides in runs:
            config = config or Path(base_config)
            if not config.is_file():
                raise SystemExit(f'error: parameter file {config}: no such file')
            fusion_params = node_parameters(load_config(config), FUSION_NODE)
            checkpoint = checkpoint or args.checkpoint or fusion_params.get('checkpoint') or None
            fusion = {**base_overrides, **overrides}
            try:
                route_parameters(fusion, ())  # a name no node declares fails now
            except ValueError as exc:
                raise SystemExit(f'error: {exc}')
            mode = fusion.get('fusion_mode', fusion_params.get('fusion_mode', 'early'))
            try:
                jump = float(
                    fusion.get('jump_threshold', fusion_params.get('jump_threshold', 1.0))
                )
            except ValueError:
                jump = 1.0  # the fusion node refuses the value and says so
            if checkpoint not in prepared:
                setups, failed = [], False
                for bag in bags:
                    try:
                        setups.append(
                            prepare(bag, checkpoint, user_map, args.truth, args.realtime)
                        )
                    except CheckpointError as exc:
                        print(f'error: {exc}', file=sys.stderr)
                        return 2
                    except (BagError, GroundTruthError, ValueError) as exc:
                        text = str(exc)
                        named = not several or str(bag) in text or bag.name in text
                        print(
                            f'error: {text}' if named else f'error: {bag}: {text}', file=sys.stderr
                        )
                        failed = True
                if failed:
                    return 2
                prepared[checkpoint] = setups
            planned.append((name, config, checkpoint, fusion, mode, jump, prepared[checkpoint]))

        reports = []
        status = 0
        for name, config, checkpoint, fusion, mode, jump, setups in planned:
            run_dir = out / name if args.compare else out
            if args.compare:
                print(f'\n== {name} ==', flush=True)
            try:
                report, code = self._one(
                    args, config, checkpoint, fusion, mode, jump, setups, run_dir
                )
            except (BagError, GroundTruthError, CheckpointError, ValueError) as exc:
                print(f'error: {exc}', file=sys.stderr)
                return 2
            status = status or code
            report['name'] = name
            reports.append(report)
            if code == 130:
                break
        if args.compare:
            on = (
                str(bags[0])
                if not several
                else f'{len(bags)} bags: ' + ', '.join(str(b) for b in bags)
            )
            (out / 'compare.md').write_text(
                f'# Comparison on {on}\n\n' + compare_markdown(reports)
            )
            (out / 'compare.json').write_text(json.dumps(reports, indent=2, default=str))
            latency_series({r['name']: r['_latencies'] for r in reports}, out / 'latency_cdf.png')
            print('\n' + compare_markdown(reports))
            print(f'comparison written to {out / "compare.md"}')
        if args.json:
            print(
                json.dumps(
                    [{k: v for k, v in r.items() if k != '_latencies'} for r in reports],
                    indent=2,
                    default=str,
                )
            )
        return status

    def _one(
        self,
        args: argparse.Namespace,
        config: Path,
        checkpoint: Optional[str],
        fusion: Dict[str, str],
        mode: str,
        jump: float,
        setups: Sequence['EvalSetup'],
        out: Path,
    ) -> Tuple[Dict[str, Any], int]:
        """One run over every bag: the report (with ``_latencies`` for ``--compare``) and the
        exit status."""
        from ..evaluation.lanes import assign_lanes
        from ..evaluation.lanes import job_count
        from ..evaluation.report import BagOutcomes
        from ..evaluation.report import write_bags_report
        from ..evaluation.report import write_report
        from ..evaluation.runner import meta_for

        job = ReplayJob(
            config=Path(config),
            checkpoint=checkpoint,
            fusion=dict(fusion),
            mode=mode,
            jump=jump,
            realtime=args.realtime,
            rate=args.rate,
            window_timeout=args.window_timeout,
            verbose_nodes=args.verbose_nodes,
        )
        options = job.options()
        several = len(setups) > 1
        for setup in setups:
            tag = f'{setup.bag}: ' if several else ''
            for note in setup.notes:
                print(f'note: {tag}{note}', flush=True)
            if setup.truth is None:
                print(
                    f'note: {tag}no ground truth (no --truth, no <bag>.labels.csv and no'
                    ' /activity_ground_truth topic): the report has coverage and latency, no'
                    ' accuracy',
                    flush=True,
                )
        jobs = job_count(args.jobs, len(setups), args.realtime)
        if jobs > 1:
            lanes = assign_lanes([s.seconds for s in setups], jobs)
            print(
                f'{len(setups)} bags on {len(lanes)} node graphs at a time (--jobs), each in its'
                ' own process and ROS domain',
                flush=True,
            )
            replayed = _replay_lanes(job, setups, lanes, args)
        else:
            replayed = replay_bags(job, setups, range(len(setups)), progress=True)
        if replayed.error is not None:
            print(f'error: {replayed.error}', file=sys.stderr)
            print(
                f'no report written: {replayed.error_bag} could not be read to the end',
                file=sys.stderr,
            )
            return {'partial': True, 'error': replayed.error, 'metrics': {}, '_latencies': []}, 1
        interrupted = replayed.interrupted
        if not replayed.done:
            print('interrupted before the replay started: no report', file=sys.stderr)
            return {'partial': True, 'metrics': {}, '_latencies': []}, 130
        if interrupted and not any(r.partial for _, r, _, _ in replayed.done):
            print(
                'interrupted between bags: the report covers the bags replayed so far',
                file=sys.stderr,
            )
        done = [(setups[i], r, shift, g) for i, r, shift, g in replayed.done]

        classes = setups[0].checkpoint.classes
        metas = [
            meta_for(s, options, r, config, mode, checkpoint, fusion) for s, r, _, _ in done
        ]
        if not several:
            setup, result, _, _ = done[0]
            meta = metas[0]
            report = write_report(
                out,
                result.outcomes,
                classes,
                meta,
                result.diagnostics_drops,
                partial=result.partial,
                intervals=setup.truth.intervals if setup.truth is not None else None,
                window_length=setup.checkpoint.window.length,
                events=result.events,
            )
        else:
            meta = combined_meta(metas, len({g for _, _, _, g in done}))
            meta['jobs'] = jobs
            meta['elapsed_seconds'] = replayed.elapsed
            bags = [
                BagOutcomes(
                    str(s.bag),
                    r.outcomes,
                    {
                        'ground_truth': s.truth_source,
                        'bag_format': s.format,
                        'bag_seconds': s.seconds,
                        'data_note': s.data_note or 'not stated in the bag',
                        'partial': r.partial,
                        'wall_seconds': r.wall_seconds,
                        'replay_shift_s': shift / 1e9,
                        'node_graph': g + 1,
                    },
                    s.truth.intervals if s.truth is not None else None,
                    r.events,
                )
                for s, r, shift, g in done
            ]
            drops = combined_drops([r for _, r, _, _ in done], [g for _, _, _, g in done])
            report = write_bags_report(
                out,
                bags,
                classes,
                meta,
                drops,
                partial=interrupted,
                window_length=setups[0].checkpoint.window.length,
            )
        has_truth = any(s.truth is not None for s in setups)
        over = f' over {len(done)} bags' if several else ''
        at_once = (
            f' ({jobs} node graphs at a time: {replayed.elapsed:.1f} s elapsed, node start-up'
            ' included)'
            if jobs > 1
            else ''
        )
        print(
            f"{'PARTIAL ' if interrupted else ''}result{over}:"
            f" {summary(report['metrics'], has_truth)}; replay {meta['wall_seconds']:.1f} s wall ="
            f" {meta['speed_x'] or 0:.1f}x real time{at_once}"
        )
        print(f'report written to {out}/report.md', flush=True)
        report['_latencies'] = [
            o.latency_ms for _, r, _, _ in done for o in r.outcomes if o.label is not None
        ]
        return report, (130 if interrupted else 0)


@dataclass
class ReplayJob:
    """What a node graph needs to replay bags of one run; picklable, so that a process of its
    own (``--jobs``) can take a share of the bags."""

    config: Path
    checkpoint: Optional[str]
    fusion: Dict[str, str]
    mode: str
    jump: float
    realtime: bool
    rate: float
    window_timeout: float
    verbose_nodes: bool

    def options(self) -> 'EvalOptions':
        from ..evaluation.runner import EvalOptions

        return EvalOptions(
            realtime=self.realtime, rate=self.rate, window_timeout=self.window_timeout
        )


@dataclass
class Replayed:
    """The bags replayed: ``(bag index, result, shift ns, node graph)`` each, in bag order."""

    done: List[Tuple[int, 'EvalResult', int, int]] = field(default_factory=list)
    interrupted: bool = False
    error: Optional[str] = None  # a bag that could not be read to the end
    error_bag: Optional[str] = None
    elapsed: float = 0.0  # s of wall time, node start-up included


def replay_bags(
    job: ReplayJob,
    setups: Sequence['EvalSetup'],
    indices: Sequence[int],
    progress: bool,
    tag: str = '',
) -> Replayed:
    """Replays ``setups[i]`` for each of ``indices``, in that order, through node graphs of
    this process: one per group of bags whose nodes take the same parameters
    (:func:`graph_groups`)."""
    import time

    from tqdm import tqdm

    from ..bags.bag import BagError
    from ..evaluation.runner import GraphLink
    from ..evaluation.runner import replay_shifts
    from ..evaluation.runner import run
    from ..evaluation.runner import use_replay_dds_profile
    from hybrid_fusion_ros.ros.graph import classifier_graph
    from hybrid_fusion_ros.ros.graph import route_parameters
    from hybrid_fusion_ros.ros.launcher import GraphProcess
    from hybrid_fusion_ros.ros.node_common import BackgroundSpin

    t0 = time.monotonic()
    options = job.options()
    several = len(setups) > 1
    sim_time = not job.realtime or job.rate != 1.0
    how = 'in real time' if job.realtime else 'as fast as the graph keeps up (lockstep, sim time)'
    if not job.realtime:
        use_replay_dds_profile()
    out = Replayed()
    order = list(indices)
    for g, group in enumerate(graph_groups([setups[i] for i in order], job.realtime)):
        group = [order[k] for k in group]
        first = setups[group[0]]
        nodes = classifier_graph(first.checkpoint.modalities)
        node_overrides: Dict[str, Dict[str, str]] = {
            k: dict(v) for k, v in first.node_overrides.items()
        }
        # Each NAME:=VALUE to the nodes that declare it (inference_backend to every node).
        for name, params in route_parameters(job.fusion, nodes).items():
            node_overrides.setdefault(name, {}).update(params)
        if job.checkpoint:
            for params in node_overrides.values():
                params['checkpoint'] = str(job.checkpoint)
        graph = GraphProcess(
            job.config,
            overrides={'use_sim_time': 'true'} if sim_time else {},
            quiet=not job.verbose_nodes,
            node_overrides=node_overrides,
            graph=nodes,
        )
        shifts = (
            [0] * len(group)
            if job.realtime
            else replay_shifts([setups[i] for i in group], job.jump)
        )
        spinner: Optional[BackgroundSpin] = None
        setup = first
        try:
            spinner = BackgroundSpin('hybrid_fusion_eval')
            link: Optional[GraphLink] = None
            for i, shift in zip(group, shifts):
                setup = setups[i]
                count = f' [{i + 1}/{len(setups)}]' if several else ''
                data = setup.data_note or 'data not described in the bag'
                print(
                    f'{tag}evaluating{count} {setup.bag} ({setup.format}, {setup.seconds:.1f} s,'
                    f' {setup.total_messages} messages; {data})\n  {job.mode} fusion, {how}',
                    flush=True,
                )
                if shift:
                    print(
                        f'  replayed {-shift / 1e9:g} s before its recorded time, so that'
                        ' every node starts afresh on the jump back from the previous bag',
                        flush=True,
                    )
                if link is None:
                    graph.start()
                with tqdm(
                    total=setup.total_messages,
                    unit='msg',
                    desc='replaying',
                    dynamic_ncols=True,
                    mininterval=0.5,
                    disable=not progress,
                ) as bar:

                    def on_progress(published: int, labels: int) -> None:
                        if published - bar.n >= 200 or published == setup.total_messages:
                            bar.update(published - bar.n)
                            bar.set_postfix(labels=labels, refresh=False)

                    if link is None:
                        link = GraphLink(spinner.node, graph, setup, options)
                    result = run(
                        setup,
                        spinner.node,
                        graph,
                        options,
                        job.mode,
                        on_progress if progress else None,
                        link,
                        shift,
                    )
                out.done.append((i, result, shift, g))
                if several:
                    print(
                        f'{tag}  {setup.bag}:'
                        f' {summary(_score(result, setup), setup.truth is not None)}',
                        flush=True,
                    )
                if result.partial:
                    out.interrupted = True
                    break
        except BagError as exc:
            out.error, out.error_bag = str(exc), str(setup.bag)
        except KeyboardInterrupt:
            out.interrupted = True
        finally:
            graph.stop()
            if spinner is not None:
                spinner.close()
        if out.interrupted or out.error is not None:
            break
    out.elapsed = time.monotonic() - t0
    return out


def _replay_lane(
    job: ReplayJob,
    bags: Sequence[Path],
    user_map: Dict[str, str],
    indices: Sequence[int],
    domain_id: int,
    lane: int,
) -> Replayed:
    """One process of ``--jobs``: its own ROS domain (the graphs replaying at the same time
    share no topic, no /clock), its share of the bags read again (``prepare`` reads the same
    index, ground truth and node parameters from them), replayed in order through its own node
    graphs."""
    import os

    os.environ['ROS_DOMAIN_ID'] = str(domain_id)
    from ..evaluation.runner import prepare

    setups = {i: prepare(bags[i], job.checkpoint, user_map, None, job.realtime) for i in indices}
    # replay_bags indexes setups by bag index; the others are never read.
    table: List[Any] = [setups.get(i) for i in range(len(bags))]
    return replay_bags(job, table, indices, progress=False, tag=f'[graph {lane + 1}] ')


def _replay_lanes(
    job: ReplayJob,
    setups: Sequence['EvalSetup'],
    lanes: Sequence[Sequence[int]],
    args: argparse.Namespace,
) -> Replayed:
    """The bags of each lane in a process of its own, the lanes at the same time; one
    :class:`Replayed` in bag order, with node graphs numbered across the lanes."""
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing
    import os
    import time

    from ..evaluation.lanes import lane_domains

    t0 = time.monotonic()
    bags = [s.bag for s in setups]
    user_map = parse_map(args.map)
    domains = lane_domains(len(lanes), os.environ.get('ROS_DOMAIN_ID'))
    # spawn: a forked child would inherit the threads of torch and of this process's DDS.
    with ProcessPoolExecutor(
        max_workers=len(lanes), mp_context=multiprocessing.get_context('spawn')
    ) as pool:
        futures = [
            pool.submit(_replay_lane, job, bags, user_map, list(lane), domains[k], k)
            for k, lane in enumerate(lanes)
        ]
        results = []
        interrupts = 0
        for future in futures:
            while True:
                try:
                    results.append(future.result())
                    break
                except KeyboardInterrupt:
                    # Ctrl-C reaches the lanes too: each ends its replay and hands back what
                    # it has. A second one gives up on them.
                    interrupts += 1
                    if interrupts > 1:
                        raise
    out = Replayed(interrupted=interrupts > 0)
    graph_ids: Dict[Tuple[int, int], int] = {}
    for k, lane_result in enumerate(results):
        for i, result, shift, g in lane_result.done:
            graph_ids.setdefault((k, g), len(graph_ids))
            out.done.append((i, result, shift, graph_ids[(k, g)]))
        out.interrupted = out.interrupted or lane_result.interrupted
        if lane_result.error is not None and out.error is None:
            out.error, out.error_bag = lane_result.error, lane_result.error_bag
    out.done.sort(key=lambda d: d[0])
    out.elapsed = time.monotonic() - t0
    return out


def _score(result: 'EvalResult', setup: 'EvalSetup') -> Dict[str, Any]:
    from ..evaluation.report import score

    return score(
        result.outcomes,
        setup.checkpoint.classes,
        setup.truth.intervals if setup.truth is not None else None,
        setup.checkpoint.window.length,
    )
