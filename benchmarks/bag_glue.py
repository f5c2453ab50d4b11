"""Shared glue for ``mex_to_bags.py`` and ``spsw_to_bags.py``: command line, parallel runner,
stamps, merge order, label sidecars. Dataset glue for the benchmarks, not part of the product.

A script supplies a :class:`Dataset`: which arrays to load, which recordings exist, and how to
write one recording into an opened :class:`BagWriter`. This module does the rest: it writes
each bag under ``OUT/.partial/`` and renames it to its final name only when complete, so an
interrupted run never leaves a half bag under the final name.
"""
from __future__ import annotations

import argparse
import csv
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

import numpy as np

try:
    from builtin_interfaces.msg import Time
    from hybrid_fusion_tools.bags.bag import BagWriter
    from hybrid_fusion_ros.ros.conversions import sec_to_stamp
except ImportError as _exc:  # pragma: no cover - environment not sourced
    sys.exit(f'{_exc}: run ". scripts/env.sh" in the repository root first')

REPO = Path(__file__).resolve().parent.parent
T0_BASE_S = 1_700_000_000
T0_STEP_S = 1000
PARTIAL_DIR = '.partial'
Arrays = Dict[str, np.ndarray]


def default_data(name: str) -> Path:
    """``<repo>/../shared/data/<name>/<name>.npz``."""
    return REPO.parent / 'shared' / 'data' / name / f'{name}.npz'


def t0_seconds(index: int) -> int:
    """Epoch second that dataset time 0 of recording ``index`` maps to (distinct per recording)."""
    return T0_BASE_S + T0_STEP_S * index


def stamp_at(t0: int, t: float) -> Time:
    """Stamp for dataset time ``t`` (s) of a recording whose time 0 is epoch second ``t0``.

    ``sec_to_stamp(t0 + t)`` would lose up to ~0.1 us: float64 has 238 ns steps at 1.7e9 s.
    """
    stamp = sec_to_stamp(t)
    stamp.sec += t0
    return stamp


def merged_order(times: Sequence[np.ndarray]) -> Tuple[List[int], List[int]]:
    """Merges several streams' times (s) into one log-time order: (stream index, row index) per
    message; equal times keep the streams' order, and each stream its own order."""
    ns = np.concatenate([np.rint(np.asarray(t, np.float64) * 1e9).astype(np.int64) for t in times])
    sid = np.concatenate([np.full(len(t), k, np.int64) for k, t in enumerate(times)])
    rid = np.concatenate([np.arange(len(t), dtype=np.int64) for t in times])
    order = np.argsort(ns, kind='stable')
    return sid[order].tolist(), rid[order].tolist()


class Written(NamedTuple):
    """What one recording's writer reports back."""
    messages: int
    first_ns: int
    last_ns: int
    labels: List[Tuple[float, float, str]]  # (start, end, label), s since the first message


@dataclass(frozen=True)
class Recording:
    index: int
    bag: str
    subject: int


@dataclass(frozen=True)
class Dataset:
    """How one dataset becomes bags."""
    name: str
    keys: Tuple[str, ...]
    recordings: Callable[[Any], List[Recording]]
    note: Callable[[Arrays, int], str]
    write: Callable[[Arrays, int, BagWriter], Written]


def parse_subjects(text: Optional[str]) -> Optional[Set[int]]:
    """``'1-5,7'`` -> {1, 2, 3, 4, 5, 7}; None -> None (all)."""
    if text is None:
        return None
    out: Set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in text.split(','))):
            lo, _, hi = part.partition('-')
            out.update(range(int(lo), int(hi or lo) + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. '1-5,7', got '{text}'") from None
    if not out:
        raise argparse.ArgumentTypeError(f"no subjects in '{text}'")
    return out


def arg_parser(name: str, doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.split('\n\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', type=Path, default=default_data(name),
                   help=f'{name}.npz (default: %(default)s)')
    p.add_argument('--out', type=Path, default=Path(f'{name}_bags'),
                   help='output folder (default: %(default)s)')
    p.add_argument('--subjects', type=parse_subjects, default=None, help="e.g. '1-5,7' (default: all)")
    p.add_argument('--jobs', type=int, default=os.cpu_count() or 1,
                   help='parallel processes (default: all cores, %(default)s)')
    p.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap',
                   help='rosbag2 storage (default: mcap)')
    p.add_argument('--force', action='store_true', help='rewrite bags that already exist complete')
    return p


def sidecar(out: Path, bag: str) -> Path:
    return out / f'{bag}.labels.csv'


def is_complete(out: Path, bag: str) -> bool:
    return (out / bag / 'metadata.yaml').is_file() and sidecar(out, bag).is_file()


def write_labels(path: Path, rows: Sequence[Tuple[float, float, str]]) -> None:
    with path.open('w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['start', 'end', 'label'])
        for start, end, label in rows:
            w.writerow([repr(round(start, 6)), repr(round(end, 6)), label])


_DATA: Arrays = {}


def _load(path: Path, keys: Sequence[str]) -> None:
    """Worker initializer: decompress the arrays once per process."""
    with np.load(path) as npz:
        _DATA.update({k: npz[k] for k in keys})


class Outcome(NamedTuple):
    bag: str
    messages: int
    seconds: float
    error: Optional[str]


def _convert(ds: Dataset, out: Path, storage: str, rec: Recording) -> Outcome:
    """Writes one recording under OUT/.partial, then renames bag and sidecar into place."""
    tmp = out / PARTIAL_DIR / rec.bag
    tmp_side = sidecar(out / PARTIAL_DIR, rec.bag)
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp_side.unlink(missing_ok=True)
        with BagWriter(tmp, storage=storage, data_note=ds.note(_DATA, rec.index)) as writer:
            done = ds.write(_DATA, rec.index, writer)
        write_labels(tmp_side, done.labels)
        final = out / rec.bag
        sidecar(out, rec.bag).unlink(missing_ok=True)  # first: the old bag no longer counts as complete
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
        os.replace(tmp_side, sidecar(out, rec.bag))  # last: its presence marks the bag complete
        return Outcome(rec.bag, done.messages, (done.last_ns - done.first_ns) / 1e9, None)
    except Exception as exc:  # noqa: BLE001 - reported per bag, the others go on
        return Outcome(rec.bag, 0, 0.0, f'{type(exc).__name__}: {exc}')


def main(ds: Dataset, doc: str, argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point shared by both scripts."""
    args = arg_parser(ds.name, doc).parse_args(argv)
    if not args.data.is_file():
        sys.exit(f'{ds.name}: data file not found: {args.data} (pass --data PATH to {ds.name}.npz)')
    if args.jobs < 1:
        sys.exit('--jobs must be at least 1')
    wall = time.perf_counter()
    with np.load(args.data) as npz:
        recs = ds.recordings(npz)
    if args.subjects is not None:
        recs = [r for r in recs if r.subject in args.subjects]
        if not recs:
            sys.exit(f'{ds.name}: no recordings for subjects {sorted(args.subjects)}')
    args.out.mkdir(parents=True, exist_ok=True)
    todo = [r for r in recs if args.force or not is_complete(args.out, r.bag)]
    skipped = len(recs) - len(todo)
    written: List[Outcome] = []
    failed: List[Outcome] = []
    if todo:
        (args.out / PARTIAL_DIR).mkdir(exist_ok=True)
        from tqdm import tqdm
        work = partial(_convert, ds, args.out, args.storage)
        jobs = min(args.jobs, len(todo))
        bar = tqdm(total=len(todo), unit='bag', desc=f'{ds.name} -> {args.out}')
        if jobs == 1:
            _load(args.data, ds.keys)
            results = map(work, todo)
            pool = None
        else:
            pool = multiprocessing.Pool(jobs, initializer=_load, initargs=(args.data, ds.keys))
            results = pool.imap_unordered(work, todo)
        try:
            for res in results:
                (failed if res.error else written).append(res)
                if res.error:
                    bar.write(f'{res.bag}: FAILED: {res.error}')
                bar.update()
        finally:
            bar.close()
            if pool is not None:
                pool.terminate()
                pool.join()
        try:
            (args.out / PARTIAL_DIR).rmdir()
        except OSError:
            pass
    msgs = sum(r.messages for r in written)
    secs = sum(r.seconds for r in written)
    print(f'{ds.name} -> {args.out}: bags written {len(written)} ({skipped} skipped as complete, '
          f'{len(failed)} failed), messages {msgs:,}, data {secs:,.1f} s, '
          f'wall {time.perf_counter() - wall:.1f} s')
    return 1 if failed else 0
