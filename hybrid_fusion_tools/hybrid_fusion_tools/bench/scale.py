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

"""``hybrid-fusion bench scale``: how the graph's cost grows with the number of inputs, the
label rate and the image size, each configuration next to its transport floor measured in the
same run. Prints a table, the targets and which resource runs out first; writes JSON and a
PNG. Asserts nothing.

Three axes, each varied alone from a base configuration:

- **inputs**: 1, 2, 4, 8 streams (colour cameras, a 16UC1 depth camera, IMUs, microphones)
  at 2 labels/s and 128x96 images;
- **rate**: 2, 10, 30 labels/s (windows of 1 s every 1/rate s) on a camera, an IMU and a
  microphone;
- **size**: 128x96, VGA and 720p frames, from a colour and a depth camera beside an IMU.

Every stream is simulated (the demo's activity simulation) and published live at a real
sensor's rate by a driver process (``bench latency``'s): colour and depth frames at 15 fps,
IMUs at 100 Hz, audio at 16 kHz in 0.1 s chunks. The models are built for the run with random
weights (:func:`untrained_checkpoint`): the cost of a forward pass does not depend on what the
weights learned, and no dataset has eight such inputs. For each configuration the same streams
go first through bare relays in the graph's place and layout (the floor: transport and rclpy
alone, see ``bench latency``), then through the real nodes, for each process layout and
inference backend asked for.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import json
import math
import os
from pathlib import Path
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

from hybrid_fusion_ros.cli import Command
from .latency import BACKENDS
from .latency import format_streams
from .latency import LAYOUTS
from .latency import Stream
from .latency import WINDOW_LENGTH

SIZES = {'128x96': (128, 96), 'vga': (640, 480), '720p': (1280, 720)}
AXES = ('inputs', 'rate', 'size')
# The streams of a robot with n inputs: mixed sensor kinds, as robots carry them. Eight is
# four doubled (the same kinds twice), so that 4 -> 8 shows how one sensor set's cost grows
# when it is doubled; 1 and 2 add kinds of different cost (an IMU's 100 messages a second
# cost more than a small camera's 15).
INPUT_SETS: Dict[int, Tuple[Stream, ...]] = {
    1: (Stream('camera', 'camera'),),
    2: (Stream('camera', 'camera'), Stream('imu', 'imu')),
    4: (
        Stream('camera', 'camera'),
        Stream('depth', 'depth'),
        Stream('imu', 'imu'),
        Stream('audio', 'audio'),
    ),
    8: (
        Stream('camera', 'camera'),
        Stream('depth', 'depth'),
        Stream('imu', 'imu'),
        Stream('audio', 'audio'),
        Stream('camera_rear', 'camera'),
        Stream('depth_rear', 'depth'),
        Stream('imu_arm', 'imu'),
        Stream('audio_rear', 'audio'),
    ),
}
RATE_STREAMS = (Stream('camera', 'camera'), Stream('imu', 'imu'), Stream('audio', 'audio'))
SIZE_STREAMS = (Stream('camera', 'camera'), Stream('depth', 'depth'), Stream('imu', 'imu'))
BASE_RATE, BASE_SIZE = 2.0, '128x96'
ENCODER_OF = {
    'camera': 'camera_cnn',
    'depth': 'camera_cnn',
    'imu': 'imu_cnn1d',
    'audio': 'audio_logmel_cnn',
}
CLASSES = ['a', 'b', 'c', 'd', 'e', 'f']


@dataclass(frozen=True)
class Setup:
    """One point of an axis: the streams, the label rate and the image size."""

    axis: str
    value: str
    streams: Tuple[Stream, ...]
    rate_hz: float
    size: str

    @property
    def hop(self) -> float:
        return 1.0 / self.rate_hz


def setups(
    axes: Sequence[str], inputs: Sequence[int], rates: Sequence[float], sizes: Sequence[str]
) -> List[Setup]:
    out = []
    if 'inputs' in axes:
        out += [Setup('inputs', str(n), INPUT_SETS[n], BASE_RATE, BASE_SIZE) for n in inputs]
    if 'rate' in axes:
        out += [Setup('rate', f'{r:g}', RATE_STREAMS, r, BASE_SIZE) for r in rates]
    if 'size' in axes:
        out += [Setup('size', s, SIZE_STREAMS, BASE_RATE, s) for s in sizes]
    return out


def untrained_checkpoint(streams: Sequence[Stream], hop: float, path: Path) -> Path:
    """A checkpoint for ``streams`` (one encoder each, early fusion) with windows of
    ``WINDOW_LENGTH`` s every ``hop`` s and random weights (seeded): what costs are measured
    on, not what is learned."""
    import torch

    from hybrid_fusion_ros.core.checkpoint import Checkpoint
    from hybrid_fusion_ros.core.encoders import create_encoder
    from hybrid_fusion_ros.core.fusion import FusionConfig
    from hybrid_fusion_ros.core.fusion import FusionModel
    from hybrid_fusion_ros.core.inputs import ModelInput
    from hybrid_fusion_ros.core.windows import WindowSpec

    torch.manual_seed(0)
    names = {s.name: ENCODER_OF[s.kind] for s in streams}
    encoders = {
        s.name: create_encoder(names[s.name], {'depth': True} if s.kind == 'depth' else None)
        for s in streams
    }
    fusion = FusionModel(
        FusionConfig(
            modalities=[s.name for s in streams],
            feature_dims=[encoders[s.name].config.feature_dim for s in streams],
            num_classes=len(CLASSES),
        )
    )
    inputs = {
        s.name: ModelInput(s.name, s.sensor_type, names[s.name], '/' + s.topic, s.rate)
        for s in streams
    }
    metadata = {'note': 'random weights, built by `hybrid-fusion bench scale` to measure cost'}
    checkpoint = Checkpoint.from_models(
        CLASSES,
        WindowSpec(WINDOW_LENGTH, hop),
        encoders,
        names,
        fusion,
        metadata=metadata,
        inputs=inputs,
    )
    return checkpoint.save(path)


def imposed_wait_ms(streams: Sequence[Stream], hop: float, seconds: float = 60.0) -> Dict:
    """What the sensors' delivery alone makes a label wait, p50 and p99 over window ends
    ``k * hop`` in ``seconds``: from the newest sample a window holds to the arrival of the
    last message it needs. A frame or an IMU sample arrives when it is taken (0); an audio
    sample arrives with its 0.1 s chunk, when the chunk's last sample is in."""
    from hybrid_fusion_ros.core.metrics import percentiles

    waits = []
    for k in range(1, int(seconds / hop) + 1):
        end = k * hop
        newest, arrival = -math.inf, -math.inf
        for s in streams:
            last = (math.ceil(end * s.rate - 1e-6) - 1) / s.rate  # the newest sample < end
            newest = max(newest, last)
            if s.sensor_type == 'audio':
                chunk = 0.1
                arrival = max(arrival, (math.floor(last / chunk + 1e-9) + 1) * chunk)
            else:
                arrival = max(arrival, last)
        waits.append(max(0.0, arrival - newest) * 1e3)
    return {k: round(v, 2) for k, v in percentiles(waits, (50, 99)).items()}


class BenchScaleCommand(Command):
    help = (
        "how the graph's CPU, RSS, label latency and lost windows grow with inputs, label rate "
        'and image size, beside the transport floor (table, JSON, PNG)'
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument('--axes', default=','.join(AXES), help=f'of: {",".join(AXES)}')
        parser.add_argument('--inputs', default='1,2,4,8', help='inputs axis: stream counts')
        parser.add_argument('--rates', default='2,10,30', help='rate axis: labels per second')
        parser.add_argument('--sizes', default=','.join(SIZES), help=f'size axis: {list(SIZES)}')
        parser.add_argument(
            '--layouts', default=','.join(LAYOUTS), help="'multi' and/or 'single' (process)"
        )
        parser.add_argument(
            '--backends', default='onnxruntime', help=f"inference backends: {','.join(BACKENDS)}"
        )
        parser.add_argument(
            '--seconds', type=float, default=15.0, help='seconds measured per run (after warmup)'
        )
        parser.add_argument('--warmup', type=float, default=3.0)
        parser.add_argument('--seed', type=int, default=7)
        parser.add_argument(
            '--out', type=Path, default=Path('bench_scale'), help='scale.json and scale.png here'
        )

    def run(self, args: argparse.Namespace) -> int:
        from ..common.machine import machine_line
        from hybrid_fusion_ros.ros.node_common import BackgroundSpin
        from hybrid_fusion_ros.ros.qos import use_sensor_profile

        try:
            axes = _names(args.axes, AXES, 'axis')
            layouts = _names(args.layouts, LAYOUTS, 'layout')
            backends = _names(args.backends, BACKENDS, 'backend')
            sizes = _names(args.sizes, SIZES, 'size')
            inputs = [int(v) for v in _names(args.inputs, [str(n) for n in INPUT_SETS], 'count')]
            rates = [float(v) for v in args.rates.split(',') if v.strip()]
        except ValueError as exc:
            raise SystemExit(f'error: {exc}') from None
        if any(r <= 0 or 1.0 / r > WINDOW_LENGTH for r in rates):
            raise SystemExit(f'error: rates must be at least {1 / WINDOW_LENGTH:g} labels/s')
        profile = use_sensor_profile()
        machine = machine_line()
        print(f'{machine}; Fast DDS profile: {profile or "none"}; SIMULATED streams', flush=True)
        plan = setups(axes, inputs, rates, sizes)
        runs = len(plan) * len(layouts) * (1 + len(backends))
        print(
            f'{runs} runs of {args.warmup + args.seconds:g} s of streams (plus start-up each)',
            flush=True,
        )
        args.out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix='hybrid_fusion_scale_') as tmp, BackgroundSpin(
            'hybrid_fusion_bench_scale'
        ) as spinner:
            rows = measure_all(spinner.node, plan, layouts, backends, args, Path(tmp))
        result = {
            'machine': machine,
            'cpus': os.cpu_count(),
            'profile': Path(profile).name if profile else None,  # no machine's path
            'seconds': args.seconds,
            'data': 'simulated streams, models with random weights',
            'command': 'hybrid-fusion bench scale ' + _argv_of(args),
            'rows': rows,
        }
        result['summary'] = summarize(rows, os.cpu_count() or 1)
        (args.out / 'scale.json').write_text(json.dumps(result, indent=2))
        plot_scale(rows, args.out / 'scale.png')
        print(f'\nwrote {args.out / "scale.json"} and {args.out / "scale.png"}')
        return 0


def _names(text: str, known: Sequence[str], what: str) -> List[str]:
    names = [v.strip() for v in text.split(',') if v.strip()]
    bad = [n for n in names if n not in known]
    if bad or not names:
        raise ValueError(f'unknown {what}(s) {bad or text!r}; choose from {list(known)}')
    return names


def _argv_of(args: argparse.Namespace) -> str:
    return (
        f'--axes {args.axes} --inputs {args.inputs} --rates {args.rates} --sizes {args.sizes} '
        f'--layouts {args.layouts} --backends {args.backends} --seconds {args.seconds:g}'
    )


HEADER = (
    f"{'axis':<7}{'value':<8}{'layout':<7}{'run':<13}{'labels':>11}{'p50 ms':>8}{'p99 ms':>8}"
    f"{'CPU cores':>10}{'RSS MB':>8}{'procs':>6}"
)


def measure_all(
    node, plan: Sequence[Setup], layouts: Sequence[str], backends: Sequence[str], args, tmp: Path
) -> List[Dict[str, Any]]:
    from hybrid_fusion_ros.core.onnx_backend import OnnxBundle
    from hybrid_fusion_ros.ros.graph import classifier_graph
    from hybrid_fusion_ros.ros.graph import default_config_path
    from hybrid_fusion_ros.ros.launcher import GraphProcess
    from .latency import _ready
    from .latency import _stop
    from .latency import Listener
    from .latency import measure
    from .latency import start_floor
    from .latency import wait_gone

    config = default_config_path()
    checkpoints: Dict[Tuple[str, float], Path] = {}
    listeners: Dict[Tuple[str, ...], Any] = {}
    rows: List[Dict[str, Any]] = []
    print(HEADER, flush=True)
    for setup in plan:
        key = (format_streams(setup.streams), setup.hop)
        if key not in checkpoints:
            path = untrained_checkpoint(setup.streams, setup.hop, tmp / f'm{len(checkpoints)}.pt')
            if 'onnxruntime' in backends:
                OnnxBundle.find(path, export_if_missing=True)
            checkpoints[key] = path
        checkpoint = checkpoints[key]
        names = [s.name for s in setup.streams]
        topics = [s.topic for s in setup.streams]
        if tuple(names) not in listeners:  # one per stream set: it lives as long as the node
            listeners[tuple(names)] = Listener(node, names)
        listener = listeners[tuple(names)]
        wait = imposed_wait_ms(setup.streams, setup.hop)
        for layout in layouts:

            def measured(procs, setup=setup):
                return measure(
                    listener,
                    [p.pid for p in procs],
                    SIZES[setup.size],
                    args.seconds,
                    args.warmup,
                    args.seed,
                    lambda: _ready(node, procs, 180.0, topics),
                    setup.streams,
                    setup.hop,
                )

            for run in ['floor'] + [f'graph {b}' for b in backends]:
                if run == 'floor':
                    procs = start_floor(layout, setup.streams, setup.hop)
                    try:
                        r = measured(procs)
                    finally:
                        _stop(procs)
                else:
                    backend = run.split()[1]
                    overrides = {'checkpoint': str(checkpoint), 'inference_backend': backend}
                    # Features of one window carry the same grid stamp; a slop under half the
                    # hop keeps the synchronizer from pairing neighbouring windows at 30 Hz.
                    fusion = {'slop': repr(min(0.05, setup.hop / 3))}
                    with GraphProcess(
                        config,
                        overrides,
                        graph=classifier_graph(names),
                        quiet=True,
                        node_overrides={'fusion_node': fusion},
                        single_process=layout == 'single',
                    ) as graph:
                        procs = list(graph.processes.values())
                        r = measured(procs)
                if not wait_gone(node, topics):
                    print(f'warning: the {run} nodes of the last run are still listed', flush=True)
                r.update(
                    axis=setup.axis,
                    value=setup.value,
                    inputs=len(names),
                    streams=format_streams(setup.streams),
                    rate_hz=setup.rate_hz,
                    size=setup.size,
                    layout=layout,
                    run=run.split()[0],
                    backend=run.split()[1] if run != 'floor' else None,
                    imposed_wait_ms=wait,
                )
                rows.append(r)
                print(_row_line(r), flush=True)
    return rows


def _row_line(r: Dict[str, Any]) -> str:
    run = r['run'] if r['run'] == 'floor' else f"graph {r['backend']}"
    lat = r['latency_ms']
    return (
        f"{r['axis']:<7}{r['value']:<8}{r['layout']:<7}{run:<13}"
        f"{r['labels']:>5}/{r['windows']:<5}{lat.get('p50', math.nan):>8.1f}"
        f"{lat.get('p99', math.nan):>8.1f}{r.get('cpu_cores', math.nan):>10.2f}"
        f"{r.get('rss_mb', math.nan):>8.0f}{r.get('processes', 0):>6}"
    )


# --- the summary: targets, and what runs out first ---------------------------------------------


def _graphs(rows, axis):
    """Graph rows of ``axis`` by (layout, backend), in axis order."""
    out: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
    for r in rows:
        if r['axis'] == axis and r['run'] == 'graph':
            out.setdefault((r['layout'], r['backend']), []).append(r)
    return out


def _floor(rows, like):
    for r in rows:
        if (
            r['run'] == 'floor'
            and r['axis'] == like['axis']
            and r['value'] == like['value']
            and r['layout'] == like['layout']
        ):
            return r
    return None


def _lost(r) -> int:
    return max(0, r['windows'] - r['labels'])


def _x(r) -> float:
    """A row's position on its axis: inputs, labels/s, or megapixels per frame."""
    if r['axis'] == 'size':
        w, h = SIZES[r['size']]
        return w * h / 1e6
    return float(r['value'])


def _limit(r, floor, cpus: int) -> Optional[str]:
    """What ran out in this run, if anything: windows lost, the CPU, or labels falling more
    than a hop behind the floor's (work queueing up)."""
    if _lost(r) > max(1, 0.01 * r['windows']):
        return f"{_lost(r)} of {r['windows']} windows unlabelled"
    if r.get('cpu_cores', 0.0) >= 0.9 * cpus:
        return f"CPU ({r['cpu_cores']:.2f} of {cpus} cores)"
    hop_ms = 1e3 / r['rate_hz']
    if floor is not None and r['latency_ms']['p99'] - floor['latency_ms']['p99'] > hop_ms:
        return (
            f"label p99 {r['latency_ms']['p99']:.0f} ms, more than a hop ({hop_ms:.0f} ms) over"
            f" the floor's {floor['latency_ms']['p99']:.0f} ms"
        )
    return None


def _memory_mb() -> float:
    try:
        for line in Path('/proc/meminfo').read_text().splitlines():
            if line.startswith('MemTotal:'):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return math.nan


def _extrapolate(points: Sequence[Tuple[float, float]], ceiling: float) -> Optional[float]:
    """Where a straight line through ``points`` (least squares) reaches ``ceiling``."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    if slope <= 0:
        return None
    return mx + (ceiling - my) / slope


UNITS = {'inputs': 'inputs', 'rate': 'labels/s', 'size': 'Mpixel per frame'}


def _at(axis: str, value: str) -> str:
    """A point of an axis in words: '8 inputs', '30 labels/s', '720p frames'."""
    return f'{value} frames' if axis == 'size' else f'{value} {UNITS[axis]}'


def summarize(rows: Sequence[Dict[str, Any]], cpus: int) -> Dict[str, Any]:
    """Print and return the targets and, per axis and graph, what runs out first."""
    summary: Dict[str, Any] = {'targets': [], 'first_limit': []}
    targets = summary['targets']
    print('\ntargets (graph against graph, or against the floor, in this run):')
    for (layout, backend), rs in _graphs(rows, 'inputs').items():
        by_n = {r['inputs']: r for r in rs}
        checks = []
        if 4 in by_n and 8 in by_n and by_n[4]['cpu_cores'] > 0:
            # The same four kinds of sensor doubled: at most linear is at most twice the CPU.
            ratio = by_n[8]['cpu_cores'] / by_n[4]['cpu_cores']
            checks.append(('CPU at 8 inputs / at 4 (the same kinds doubled)', ratio, 2.0))
        if 1 in by_n and max(by_n) > 1:
            top = max(by_n)
            p99_ratio = by_n[top]['latency_ms']['p99'] / by_n[1]['latency_ms']['p99']
            checks.append((f'label p99 at {top} inputs / at 1', p99_ratio, 2.0))
        summary.setdefault('cpu_per_input', []).append(
            {
                'layout': layout,
                'backend': backend,
                'cores': {n: round(r['cpu_cores'] / n, 3) for n, r in sorted(by_n.items())},
            }
        )
        for what, value, bound in checks:
            targets.append(
                {
                    'layout': layout,
                    'backend': backend,
                    'what': what,
                    'value': round(value, 2),
                    'bound': bound,
                    'met': bool(value <= bound),
                }
            )
    for (layout, backend), rs in _graphs(rows, 'rate').items():
        for r in rs:
            if r['rate_hz'] < 30:
                continue
            floor = _floor(rows, r)
            if floor is None:
                continue
            excess = r['latency_ms']['p99'] - floor['latency_ms']['p99']
            targets.append(
                {
                    'layout': layout,
                    'backend': backend,
                    'what': f"label p99 - floor p99 at {r['value']} labels/s (ms)",
                    'value': round(excess, 1),
                    'bound': 10.0,
                    'met': bool(excess <= 10.0),
                    'floor_p99_ms': floor['latency_ms']['p99'],
                    'graph_p99_ms': r['latency_ms']['p99'],
                    'sensor_chunking_p99_ms': r['imposed_wait_ms']['p99'],
                }
            )
    for t in targets:
        extra = (
            f" (graph {t['graph_p99_ms']:.1f} ms, floor {t['floor_p99_ms']:.1f} ms, of which the"
            f" sensors' chunking imposes up to {t['sensor_chunking_p99_ms']:.1f} ms)"
            if 'floor_p99_ms' in t
            else ''
        )
        print(
            f"  {t['layout']:<6} {t['backend']:<11} {t['what']}: {t['value']:g}"
            f" (target <= {t['bound']:g}) {'met' if t['met'] else 'MISSED'}{extra}"
        )
    for entry in summary.get('cpu_per_input', []):
        per = ', '.join(f'{n}: {c:.3f}' for n, c in entry['cores'].items())
        print(f"  {entry['layout']:<6} {entry['backend']:<11} CPU cores per input: {per}")
    memory = _memory_mb()
    print(f'\nwhat runs out first ({cpus} CPUs, {memory:.0f} MB of memory):')
    for axis in AXES:
        for (layout, backend), rs in _graphs(rows, axis).items():
            hit = next(
                ((r, why) for r in rs for why in [_limit(r, _floor(rows, r), cpus)] if why), None
            )
            entry = {'axis': axis, 'layout': layout, 'backend': backend}
            if hit:
                r, why = hit
                entry.update(value=r['value'], limit=why)
                text = f"at {_at(axis, r['value'])}: {why}"
            else:
                cpu_at = _extrapolate([(_x(r), r['cpu_cores']) for r in rs], 0.9 * cpus)
                rss_at = _extrapolate([(_x(r), r['rss_mb']) for r in rs], 0.8 * memory)
                last = rs[-1]
                entry.update(
                    value=None,
                    limit=None,
                    cpu_runs_out_at=cpu_at and round(cpu_at, 1),
                    memory_runs_out_at=rss_at and round(rss_at, 1),
                )
                first = min(
                    [(v, name) for v, name in ((cpu_at, 'CPU'), (rss_at, 'memory')) if v],
                    default=None,
                )
                text = (
                    f"nothing up to {_at(axis, last['value'])} ({last['cpu_cores']:.2f} cores,"
                    f" {last['rss_mb']:.0f} MB)"
                    + (
                        f'; on a straight line {first[1]} runs out first, near'
                        f' {first[0]:.1f} {UNITS[axis]}'
                        if first
                        else ''
                    )
                )
            summary['first_limit'].append(entry)
            print(f'  {axis:<7}{layout:<7}{backend:<12}{text}')
    return summary


def plot_scale(rows: Sequence[Dict[str, Any]], path: Path) -> Optional[Path]:
    """Label p99 (graph and floor) and CPU against each axis measured."""
    from ..common.plots import _pyplot

    axes_present = [a for a in AXES if any(r['axis'] == a for r in rows)]
    if not axes_present:
        return None
    plt = _pyplot()
    fig, grid = plt.subplots(
        2, len(axes_present), figsize=(4.2 * len(axes_present), 6.4), squeeze=False
    )
    for col, axis in enumerate(axes_present):
        lat_ax, cpu_ax = grid[0][col], grid[1][col]
        series: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
        for r in rows:
            if r['axis'] == axis:
                series.setdefault((r['layout'], r['backend'] or 'floor'), []).append(r)
        for (layout, backend), rs in sorted(series.items()):
            xs = list(range(len(rs)))
            style = '--' if backend == 'floor' else '-'
            label = f'{layout} {backend}'
            lat_ax.plot(xs, [r['latency_ms']['p99'] for r in rs], style, marker='o', label=label)
            cpu_ax.plot(xs, [r['cpu_cores'] for r in rs], style, marker='o', label=label)
            for ax in (lat_ax, cpu_ax):
                ax.set_xticks(xs)
                ax.set_xticklabels([r['value'] for r in rs])
        lat_ax.set_title({'inputs': 'inputs', 'rate': 'label rate', 'size': 'image size'}[axis])
        lat_ax.set_ylabel('label latency p99 (ms)')
        cpu_ax.set_ylabel('CPU (cores)')
        cpu_ax.set_xlabel(UNITS[axis] if axis != 'size' else 'frames')
        lat_ax.grid(alpha=0.3)
        cpu_ax.grid(alpha=0.3)
    grid[0][0].legend(fontsize=7)
    fig.suptitle('bench scale: graph (solid) against the transport floor (dashed), simulated')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
