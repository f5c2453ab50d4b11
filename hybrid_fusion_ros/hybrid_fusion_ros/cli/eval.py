"""``hybrid-fusion eval BAG``: replay a bag through the running node graph and write a report
(report.json, report.md, windows.csv, confusion.png, latency_cdf.png).

    hybrid-fusion eval my_run.mcap --map /robot/imu:=imu --map /robot/cam:=camera \\
        --map /robot/mic:=audio --truth my_run_labels.csv --out eval_my_run
    hybrid-fusion eval demo.mcap --compare fusion_mode:=early fusion_mode:=late other.pt
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, Optional, Tuple

from . import Command
from .replay import parse_map


def parse_run_spec(spec: str) -> Tuple[str, Optional[Path], Optional[str], Dict[str, str]]:
    """``--compare`` item -> (name, config, checkpoint, fusion overrides). An item is a YAML
    parameter file, a .pt checkpoint, or comma-separated fusion-node ``NAME:=VALUE``s."""
    path = Path(spec)
    if spec.endswith(('.yaml', '.yml')):
        return path.stem, path, None, {}
    if spec.endswith('.pt'):
        return path.stem, None, spec, {}
    return spec.replace(':=', '=').replace(',', '_'), None, None, parse_map(spec.split(','))


class EvalCommand(Command):
    help = 'replay a bag through the node graph and score its labels against ground truth'

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('bag', type=Path, help='rosbag2 directory (.mcap/.db3) or ROS 1 .bag file')
        parser.add_argument('params', nargs='*', metavar='NAME:=VALUE',
                            help='fusion node parameters, e.g. fusion_mode:=late')
        parser.add_argument('--config', type=Path, help='YAML parameter file (default: the packaged one)')
        parser.add_argument('--checkpoint', help='checkpoint for every node (default: the config\'s)')
        parser.add_argument('--map', action='append', metavar='TOPIC:=WHAT',
                            help='bag topic -> camera | imu | audio | ground_truth (or a graph topic)')
        parser.add_argument('--truth', type=Path, metavar='FILE',
                            help='ground truth as CSV (start,end,label) or JSON intervals; default: the '
                                 "bag's /activity_ground_truth topic if it has one")
        parser.add_argument('--out', type=Path, help='report directory (default: eval_<bag name>)')
        parser.add_argument('--realtime', action='store_true',
                            help='replay at the recorded pace (times --rate) instead of fast lockstep')
        parser.add_argument('--rate', type=float, default=1.0, help='with --realtime: pace multiplier')
        parser.add_argument('--compare', nargs='+', metavar='RUN',
                            help='several runs on the same bag, one table: each a .yaml config, a .pt '
                                 'checkpoint or NAME:=VALUE[,NAME:=VALUE] fusion parameters')
        parser.add_argument('--window-timeout', type=float, default=3.0,
                            help='fast mode: seconds to wait for a window before moving on (counted)')
        parser.add_argument('--verbose-nodes', action='store_true', help="show the nodes' own log output")
        parser.add_argument('--json', action='store_true', help='print the report JSON to stdout at the end')

    def run(self, args: argparse.Namespace) -> int:
        import yaml

        from ..bag import BagError
        from ..core.checkpoint import CheckpointError
        from ..evaluation.report import compare_markdown, latency_series
        from ..evaluation.truth import GroundTruthError
        from ..graph import default_config_path

        if args.rate <= 0:
            raise SystemExit(f'error: --rate must be > 0, got {args.rate}')
        base_config = args.config or default_config_path()
        if not Path(base_config).is_file():
            raise SystemExit(f'error: parameter file {base_config}: no such file')
        runs = [parse_run_spec(s) for s in args.compare] if args.compare else [('run', None, None, {})]
        out = args.out or Path(f'eval_{args.bag.name.replace(".", "_")}')
        user_map = parse_map(args.map)
        base_overrides = parse_map(args.params)
        reports = []
        status = 0
        for name, config, checkpoint, overrides in runs:
            config = config or Path(base_config)
            if not config.is_file():
                raise SystemExit(f'error: parameter file {config}: no such file')
            fusion_params = (yaml.safe_load(config.read_text()) or {}).get('fusion_node', {}).get('ros__parameters', {})
            checkpoint = checkpoint or args.checkpoint or fusion_params.get('checkpoint') or None
            fusion = {**base_overrides, **overrides}
            mode = fusion.get('fusion_mode', fusion_params.get('fusion_mode', 'early'))
            run_dir = out / name if args.compare else out
            if args.compare:
                print(f'\n== {name} ==', flush=True)
            try:
                report, code = self._one(args, config, checkpoint, fusion, mode, user_map, run_dir)
            except (BagError, GroundTruthError, CheckpointError, ValueError) as exc:
                print(f'error: {exc}', file=sys.stderr)
                return 2
            status = status or code
            report['name'] = name
            reports.append(report)
            if code == 130:
                break
        if args.compare:
            (out / 'compare.md').write_text(f'# Comparison on {args.bag}\n\n' + compare_markdown(reports))
            (out / 'compare.json').write_text(json.dumps(reports, indent=2, default=str))
            latency_series({r['name']: r['_latencies'] for r in reports}, out / 'latency_cdf.png')
            print('\n' + compare_markdown(reports))
            print(f'comparison written to {out / "compare.md"}')
        if args.json:
            print(json.dumps([{k: v for k, v in r.items() if k != '_latencies'} for r in reports], indent=2,
                             default=str))
        return status

    def _one(self, args, config: Path, checkpoint: Optional[str], fusion: Dict[str, str], mode: str,
             user_map: Dict[str, str], out: Path):
        from tqdm import tqdm

        from ..bag import BagError
        from ..evaluation.report import write_report
        from ..evaluation.runner import EvalOptions, meta_for, prepare, run, use_replay_dds_profile
        from ..launcher import GraphProcess
        from ..node_common import BackgroundSpin

        options = EvalOptions(realtime=args.realtime, rate=args.rate, window_timeout=args.window_timeout)
        setup = prepare(args.bag, checkpoint, user_map, args.truth, args.realtime)
        for note in setup.notes:
            print(f'note: {note}', flush=True)
        if setup.truth is None:
            print('note: no ground truth (no --truth and no /activity_ground_truth topic): the report has '
                  'coverage and latency, no accuracy', flush=True)
        node_overrides: Dict[str, Dict[str, str]] = {k: dict(v) for k, v in setup.node_overrides.items()}
        node_overrides['fusion_node'] = dict(fusion)
        if checkpoint:
            for params in node_overrides.values():
                params['checkpoint'] = str(checkpoint)
        sim_time = not args.realtime or args.rate != 1.0
        graph = GraphProcess(config, overrides={'use_sim_time': 'true'} if sim_time else {},
                             quiet=not args.verbose_nodes, node_overrides=node_overrides)
        how = 'in real time' if args.realtime else 'as fast as the graph keeps up (lockstep, sim time)'
        print(f'evaluating {args.bag} ({setup.format}, {setup.seconds:.1f} s, {setup.total_messages} messages; '
              f'{setup.data_note or "data not described in the bag"})\n  {mode} fusion, {how}', flush=True)
        if not args.realtime:
            use_replay_dds_profile()
        spinner = BackgroundSpin('hybrid_fusion_eval')
        try:
            graph.start()
            with tqdm(total=setup.total_messages, unit='msg', desc='replaying', dynamic_ncols=True,
                      mininterval=0.5) as bar:
                def progress(published: int, labels: int) -> None:
                    if published - bar.n >= 200 or published == setup.total_messages:
                        bar.update(published - bar.n)
                        bar.set_postfix(labels=labels, refresh=False)
                result = run(setup, spinner.node, graph, options, mode, progress)
        except BagError as exc:
            print(f'error: {exc}', file=sys.stderr)
            print('no report written: the bag could not be read to the end', file=sys.stderr)
            return {'partial': True, 'error': str(exc), 'metrics': {}, '_latencies': []}, 1
        except KeyboardInterrupt:
            print('interrupted before the replay started: no report', file=sys.stderr)
            return {'partial': True, 'metrics': {}, '_latencies': []}, 130
        finally:
            graph.stop()
            spinner.close()
        meta = meta_for(setup, options, result, config, mode, checkpoint)
        report = write_report(out, result.outcomes, setup.checkpoint.classes, meta, result.diagnostics_drops,
                              partial=result.partial)
        m = report['metrics']
        acc = ('n/a (no ground truth)' if setup.truth is None else 'n/a (no scored window)') \
            if m['accuracy'] is None else \
            f"{100 * m['accuracy']:.1f}%  macro-F1 {m['macro_f1']:.3f}"
        lat = m['latency_ms']
        print(f"{'PARTIAL ' if result.partial else ''}result: coverage {100 * m['coverage']:.1f}% "
              f"({m['labelled_windows']}/{m['windows']} windows), accuracy {acc}, latency p50 {lat['p50']:.1f} / "
              f"p99 {lat['p99']:.1f} ms; replay {meta['wall_seconds']:.1f} s wall = "
              f"{meta['speed_x'] or 0:.1f}x real time")
        print(f'report written to {out}/report.md', flush=True)
        report['_latencies'] = [o.latency_ms for o in result.outcomes if o.label is not None]
        return report, (130 if result.partial else 0)
