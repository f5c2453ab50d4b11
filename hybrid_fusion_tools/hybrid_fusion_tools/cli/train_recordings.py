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

"""``hybrid-fusion train BAG ...``: training on labelled recordings (the body of the train
command when bags are given)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from dataclasses import replace
import json
from pathlib import Path
import sys
from typing import Any, Dict, List

from hybrid_fusion_ros.cli import parse_map
from ..training import distributed
from ..training.baseline_choice import baselines_or_exit


def _say(text: str) -> None:
    # Under torchrun every rank runs this command; one copy of each line is enough.
    if distributed.is_main():
        print(text, flush=True)


def _summary(data, spec) -> None:
    import numpy as np

    counts = np.zeros(len(data.classes), dtype=np.int64)
    for seqs in data.sequences:
        for s in seqs:
            counts += np.bincount(s.labels[s.labels >= 0], minlength=len(data.classes))
    b = data.build
    speed = b['seconds_of_data'] / b['wall_seconds'] if b['wall_seconds'] > 0 else float('inf')
    _say(
        f"dataset: {b['bags']} recordings, {b['seconds_of_data']:.0f} s of data; cache:"
        f" {int(b['built'])} built, {int(b['reused'])} reused, {b['wall_seconds']:.1f} s"
        f' ({speed:.0f}x real time)'
    )
    _say(
        'inputs: '
        + ', '.join(
            f'{i.name} ({i.sensor_type}, {i.encoder}, {i.rate_hz:g} Hz, from {i.topic})'
            for i in data.inputs
        )
    )
    _say(
        f'windows: {data.window_why}; '
        + ', '.join(f'{c} {n}' for c, n in zip(data.classes, counts))
        + f'; {data.unlabelled_windows} without a label skipped'
    )
    streams = [len(s) for seqs in data.sequences for s in seqs]
    _say(
        f'state: {data.contract.why}; training runs {len(streams)} such streams'
        f' (median {np.median(streams) if streams else 0:.0f} windows) with the state carried'
    )
    for why in data.skipped_bags:
        _say(f'skipped: {why}')
    for note in data.notes:
        _say(f'note: {note}')
    drops: Dict[str, int] = {}
    for rec in data.recordings:
        for name, causes in rec.meta.get('drops', {}).items():
            for cause, n in causes.items():
                drops[f'{name} {cause}'] = drops.get(f'{name} {cause}', 0) + n
    if drops:
        _say('dropped while windowing: ' + ', '.join(f'{k} {v}' for k, v in sorted(drops.items())))
    paused: Dict[str, List[float]] = {}
    for rec in data.recordings:
        for name, p in rec.meta.get('pauses', {}).items():
            total = paused.setdefault(name, [0, 0.0, 0])
            total[0] += p['pauses']
            total[1] += p['paused_seconds']
            total[2] += p['windows_straddling_a_pause']
    if paused:
        _say(
            'pauses (sensor silent, not lost): '
            + ', '.join(
                f'{k} {int(n)} pauses, {s:.0f} s, {int(w)} windows straddling one'
                for k, (n, s, w) in sorted(paused.items())
            )
        )


def train_recordings(args: argparse.Namespace, values: Dict[str, Any]) -> int:
    from ..bags.bag import BagError
    from hybrid_fusion_ros.core.checkpoint import Checkpoint
    from hybrid_fusion_ros.core.checkpoint import CheckpointError
    from hybrid_fusion_ros.core.windows import WindowSpec
    from ..data.loading import load_recordings
    from ..data.loading import TrainingDataError
    from ..data.recordings import expand_bags
    from ..training.pipeline import groups_of
    from ..training.pipeline import hold_out
    from ..training.pipeline import train_on
    from ..training.train import TrainConfig

    if args.add_heads:
        raise SystemExit('error: --add-heads works on the simulated data only')
    if args.freeze_encoders and not args.from_checkpoint:
        raise SystemExit('error: --freeze-encoders needs --from CHECKPOINT')
    if args.folds and args.val:
        raise SystemExit('error: give --folds or --val, not both')
    if args.baseline is not None:
        if not args.folds:
            raise SystemExit('error: --baseline needs --folds')
        args.baseline = baselines_or_exit(args.baseline)  # checked before any work
    # Windows as set; otherwise derived from the labelled segments once they are read.
    spec = (
        WindowSpec(values.get('window_length', 1.0), values.get('window_hop', 0.5))
        if 'window_length' in values or 'window_hop' in values
        else None
    )
    init = None
    if args.from_checkpoint:
        try:
            init = Checkpoint.load(args.from_checkpoint)
        except CheckpointError as exc:
            raise SystemExit(f'error: {exc}')
        if spec is None:  # the encoders of --from were trained on its windows
            spec = init.window
    distributed.init_from_env()  # torchrun: join the other ranks (a no-op in one process)
    try:
        bags = expand_bags(args.bags)
        val_bags = expand_bags(args.val or [])
        # Rank 0 builds the dataset cache alone; the others then load the entries it wrote.
        with distributed.main_first():
            data = load_recordings(
                bags + val_bags,
                parse_map(args.map),
                spec,
                args.truth,
                init,
                args.cache_dir,
                args.jobs,
                args.skip_bad,
                progress=distributed.is_main(),
                encoder_overrides=values.get('encoder_configs'),
                encoder_names=values.get('encoders'),
            )
    except (TrainingDataError, BagError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        print('nothing written', file=sys.stderr)
        return 2
    spec = data.spec
    values = {**values, 'window_length': spec.length, 'window_hop': spec.hop}
    _summary(data, spec)
    names = [r.bag.name for r in data.recordings]
    val_names = {Path(b).name for b in val_bags}
    known = {f.name for f in fields(TrainConfig)}
    base = {
        k: v for k, v in values.items() if k in known and k not in ('encoders', 'encoder_configs')
    }
    config = TrainConfig(
        **{
            **base,
            'encoders': {i.name: i.encoder for i in data.inputs},
            'input_types': {i.name: i.sensor_type for i in data.inputs},
        }
    )
    everything = list(range(len(names)))
    meta = {
        'command': (
            'hybrid-fusion train ' + ' '.join(sys.argv[2:])
            if len(sys.argv) > 2
            else 'hybrid-fusion train'
        ),
        'data': (
            f'{len(names)} recorded bag(s): '
            + ', '.join(names[:20])
            + (' ...' if len(names) > 20 else '')
        ),
        'inputs': [i.to_dict() for i in data.inputs],
    }
    summary: Dict[str, Any] = {
        'classes': data.classes,
        'inputs': meta['inputs'],
        'recordings': len(names),
        'window': {'length': spec.length, 'hop': spec.hop},
        'build': data.build,
    }
    try:
        groups = groups_of(names, args.group_by)
        if args.folds:
            summary['folds'] = _cross_validate(args, data, config, init, groups, spec)
            if args.cv_only:
                return _write_cv_only(args, summary)
        if val_names:
            val_idx = [i for i in everything if names[i] in val_names]
            train_idx = [i for i in everything if names[i] not in val_names]
        else:
            train_idx, val_idx = hold_out(everything, groups, config.seed)
        _say(
            f'training the checkpoint on {len(train_idx)} recordings, validating on {len(val_idx)}'
            f' ({data.windows(train_idx)} / {data.windows(val_idx)} windows)'
        )
        result = train_on(data, train_idx, val_idx, config, init, args.freeze_encoders, True, meta)
    except (TrainingDataError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        print('nothing written', file=sys.stderr)
        return 2
    if distributed.is_distributed():
        _say(
            f'distributed data parallel: world size {distributed.world_size()}'
            f' ({distributed.backend()}), optimizer steps per rank in the last epoch'
            f" {result.history[-1]['steps_per_rank']}"
        )
    from hybrid_fusion_ros.core.calibration import describe as describe_calibration
    from ..training.train import chance_verdict
    from ..training.train import label_runs

    at_chance = chance_verdict(
        result.val_report, data.classes, label_runs(data.subset(val_idx))
    )
    if at_chance and getattr(args, 'keep_at_chance', False):
        _say(f'warning: {at_chance} (kept: --keep-at-chance)')
    elif at_chance:
        print(f'error: {at_chance}', file=sys.stderr)
        print('nothing written', file=sys.stderr)
        return 2
    summary['validation'] = {
        'accuracy': result.val_report['accuracy'],
        'macro_f1': result.val_report['macro_f1'],
        'recordings': [names[i] for i in val_idx],
        'evaluated_as': result.val_report.get('evaluated_as'),
    }
    _say(
        f"validation, as the fusion node runs it ({result.val_report.get('evaluated_as')}):"
        f" macro-F1 {result.val_report['macro_f1']:.3f},"
        f" accuracy {result.val_report['accuracy']:.3f}"
        + (
            f" on the {100 * result.val_report['known_coverage']:.1f} % of windows not labelled"
            f" unknown ({result.val_report['unknown_windows']} unknown)"
            if result.val_report.get('unknown_windows')
            else ''
        )
    )
    _say(describe_calibration(result.checkpoint.calibration))
    # The figure is printed before the file exists: a checkpoint never outlives its validation.
    # Every rank holds the same trained model; rank 0 alone writes it.
    path = result.checkpoint.save(args.output) if distributed.is_main() else args.output
    summary['checkpoint'] = str(path)
    summary['state_contract'] = data.contract.to_dict()
    if args.report and distributed.is_main():
        from ..common.machine import machine

        args.report.mkdir(parents=True, exist_ok=True)
        summary['machine'] = machine()
        (args.report / 'metrics.json').write_text(json.dumps(summary, indent=2, default=str))
    _say(
        f"checkpoint written to {path}: validation macro-F1 {result.val_report['macro_f1']:.3f},"
        f" accuracy {result.val_report['accuracy']:.3f}"
    )
    if 'folds' in summary:
        _print_folds(summary['folds'])
    return 0


def _write_cv_only(args: argparse.Namespace, summary: Dict[str, Any]) -> int:
    """``--cv-only``: the cross-validation figures (and report), no checkpoint."""
    if args.report and distributed.is_main():
        from ..common.machine import machine

        args.report.mkdir(parents=True, exist_ok=True)
        summary['machine'] = machine()
        (args.report / 'metrics.json').write_text(json.dumps(summary, indent=2, default=str))
    _print_folds(summary['folds'])
    _say('--cv-only: no checkpoint written')
    return 0


def _cross_validate(args, data, config, init, groups: List[str], spec) -> Dict[str, Any]:
    import numpy as np

    from ..training.baseline import baseline_applies
    from ..training.baseline import BASELINES
    from ..training.pipeline import baseline_scores
    from ..training.pipeline import fold_groups
    from ..training.pipeline import hold_out
    from ..training.pipeline import mean_std
    from ..training.pipeline import network_scores
    from ..training.pipeline import train_on

    folds = fold_groups(groups, args.folds, config.seed)
    # A fold scores the primary fusion model only, and its model is thrown away: the extra
    # heads (late, attention, gmu) are for the checkpoint the fusion node loads.
    fold_config = replace(config, extra_strategies=[])
    baselines = list(args.baseline or [])  # resolved by train_recordings
    first = next(s for seqs in data.sequences for s in seqs).inputs
    for kind in [b for b in baselines if not baseline_applies(b, first.values())]:
        _say(f'baseline {kind}: none of the inputs is a series it can take; left out')
        baselines.remove(kind)
    runs = []
    total_net = np.zeros((len(data.classes),) * 2, dtype=np.int64)
    total_base = {kind: np.zeros_like(total_net) for kind in baselines}
    for k, test_groups in enumerate(folds):
        test_idx = [i for i, g in enumerate(groups) if g in test_groups]
        rest = [i for i, g in enumerate(groups) if g not in test_groups]
        train_idx, val_idx = hold_out(rest, groups, config.seed + k)
        if config.keep == 'last':
            # Nothing is chosen on validation data, so the recordings that would validate
            # train too: the network learns from the same recordings as the baselines.
            train_idx, val_idx = train_idx + val_idx, []
        _say(
            f'fold {k + 1}/{len(folds)}: test groups {test_groups} ({data.windows(test_idx)}'
            f' windows), training on {len(train_idx)} recordings, validating on {len(val_idx)}'
        )
        result = train_on(
            data, train_idx, val_idx, fold_config, init, args.freeze_encoders, True
        )
        net = network_scores(result.model, data, test_idx)
        run = {
            'fold': k + 1,
            'test_groups': test_groups,
            'windows': net['samples'],
            'network': {
                'accuracy': net['accuracy'],
                'macro_f1': net['macro_f1'],
                'segment_accuracy': net['segments']['accuracy'],
                'segments': net['segments']['segments'],
                'delay_p50_s': net['segments']['delay_s']['p50'],
            },
            'epochs': len(result.history),
        }
        total_net += np.asarray(net['confusion_matrix'])
        for kind in baselines:
            base = baseline_scores(
                data, train_idx + val_idx, test_idx, spec, config.seed, kind=kind
            )
            run.setdefault('baselines', {})[kind] = {
                'accuracy': base['accuracy'],
                'macro_f1': base['macro_f1'],
                'segment_accuracy': base['segments']['accuracy'],
            }
            total_base[kind] += np.asarray(base['confusion_matrix'])
        _say('  ' + json.dumps({k2: v for k2, v in run.items() if k2 in ('network', 'baselines')}))
        runs.append(run)
    out: Dict[str, Any] = {
        'k': len(folds),
        'runs': runs,
        'network_macro_f1': mean_std([r['network']['macro_f1'] for r in runs]),
        'network_accuracy': mean_std([r['network']['accuracy'] for r in runs]),
        'network_segment_accuracy': mean_std(
            [r['network']['segment_accuracy'] for r in runs if r['network']['segments']]
        ),
    }
    if baselines:
        out['baselines'] = {
            kind: {
                'name': BASELINES[kind],
                'macro_f1': mean_std([r['baselines'][kind]['macro_f1'] for r in runs]),
                'accuracy': mean_std([r['baselines'][kind]['accuracy'] for r in runs]),
                'segment_accuracy': mean_std(
                    [
                        r['baselines'][kind]['segment_accuracy']
                        for r in runs
                        if r['baselines'][kind]['segment_accuracy'] is not None
                    ]
                ),
            }
            for kind in baselines
        }
        # The network is held to the stronger baseline (by mean macro-F1 over the folds).
        best = max(baselines, key=lambda b: out['baselines'][b]['macro_f1']['mean'])
        out['baseline'] = BASELINES[best]
        out['baseline_kind'] = best
        out['baseline_macro_f1'] = out['baselines'][best]['macro_f1']
        out['baseline_accuracy'] = out['baselines'][best]['accuracy']
    if args.report and distributed.is_main():
        from ..common.plots import plot_confusion

        args.report.mkdir(parents=True, exist_ok=True)
        f1 = out['network_macro_f1']
        plot_confusion(
            total_net,
            data.classes,
            args.report / 'confusion.png',
            f"network, {len(folds)} folds summed: macro-F1 {f1['mean']:.3f} ± {f1['std']:.3f}",
        )
        for kind in baselines:
            f1 = out['baselines'][kind]['macro_f1']
            plot_confusion(
                total_base[kind],
                data.classes,
                args.report / f'confusion_{kind}.png',
                f"{kind}, {len(folds)} folds summed: macro-F1 {f1['mean']:.3f} ±"
                f" {f1['std']:.3f}",
            )
    return out


def _print_folds(cv: Dict[str, Any]) -> None:
    f1, acc = cv['network_macro_f1'], cv['network_accuracy']
    seg = cv.get('network_segment_accuracy') or {}
    _say(
        f"cross-validation ({cv['k']} folds, by recording group, as deployed): network macro-F1"
        f" {f1['mean']:.3f} ± {f1['std']:.3f}, accuracy {acc['mean']:.3f} ± {acc['std']:.3f}"
        + _segment_text(seg)
    )
    for kind, base in cv.get('baselines', {}).items():
        f1, acc = base['macro_f1'], base['accuracy']
        mark = ', the stronger' if len(cv['baselines']) > 1 and kind == cv['baseline_kind'] else ''
        _say(
            f"  baseline {kind} ({base['name']}){mark}: macro-F1 {f1['mean']:.3f} ±"
            f" {f1['std']:.3f}, accuracy {acc['mean']:.3f} ± {acc['std']:.3f}"
            + _segment_text(base.get('segment_accuracy') or {})
        )


def _segment_text(seg: Dict[str, Any]) -> str:
    if not seg.get('n'):
        return ''
    return f", per segment {seg['mean']:.3f} ± {seg['std']:.3f}"
