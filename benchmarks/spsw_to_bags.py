#!/usr/bin/env python3
"""Converts the smartphone + smartwatch HAR dataset (real data) into one rosbag2 bag per
recording, with a label file.

Writes ``OUT/spsw_{recording_id}/`` (a rosbag2 bag, MCAP by default; e.g. ``spsw_s05_03``) and
``OUT/spsw_{recording_id}.labels.csv`` for each of the 223 recordings:

- ``/phone/imu`` and ``/watch/imu`` sensor_msgs/Imu: linear_acceleration in m/s^2 (with
  gravity) and angular_velocity in rad/s, both as stored; orientation_covariance[0] = -1
  (REP-145: not provided); frame_ids ``phone``, ``watch``; ~102.5 and ~104.3 Hz.

The data are kept exactly as recorded: the phone's repeated timestamps (bursts, ~8.5% zero
intervals) stay repeated. Stamps are T0 + t, t the dataset time (s) and
T0 = 1_700_000_000 + 1000 * (recording index in spsw.npz); log time = header stamp; messages in
log-time order. The sidecar (``start,end,label``, s since the bag's first message) turns the
phone's per-sample labels into intervals: a run of equal labels lasts from its first sample to
the next run's first sample (the last run to its last sample + 0.01 s); labels lower-cased:
``seated``, ``standing_up``, ``walking``, ``turning``, ``sitting_down``.

Source: ``../shared/data/spsw/spsw.npz`` (beside the checkout) (see its README), from GitHub
GeoTecINIT/sp-sw-har-dataset (Zenodo doi 10.5281/zenodo.8398688).
Cite: M. Matey-Sanz, S. Casteleyn, C. Granell, "Dataset of inertial measurements of smartphones
and smartwatches for human activity recognition", Data in Brief, 2023, 109809,
doi 10.1016/j.dib.2023.109809. Licence: CC BY 4.0.
Dataset glue for the benchmarks, not part of the product.

Run (from the repository root)::

    . scripts/env.sh
    python benchmarks/spsw_to_bags.py --out spsw_bags --jobs 2 [--subjects 1-5,7] [--force]
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from bag_glue import Arrays, BagWriter, Dataset, Recording, Written, main, merged_order  # noqa: E402
from bag_glue import stamp_at, t0_seconds  # noqa: E402
from hybrid_fusion_ros.ros.conversions import stamp_to_ns  # noqa: E402
from sensor_msgs.msg import Imu  # noqa: E402

CITATION = ('M. Matey-Sanz, S. Casteleyn, C. Granell, "Dataset of inertial measurements of smartphones and '
            'smartwatches for human activity recognition", Data in Brief, 2023, 109809, '
            'doi 10.1016/j.dib.2023.109809')
DEVICES = (('phone', '/phone/imu'), ('watch', '/watch/imu'))
LAST_RUN_PAD_S = 0.01
KEYS = ('recording_id', 'subject', 'execution', 'start_unix_ms', 'label_names', 'channel_names',
        'phone_orientation') + tuple(k for dev, _ in DEVICES
                                     for k in (dev, dev + '_t', dev + '_label', dev + '_ptr'))


def recordings(d: Any) -> List[Recording]:
    ids, subj = d['recording_id'], d['subject']
    return [Recording(i, f'spsw_{ids[i]}', int(subj[i])) for i in range(len(ids))]


def note(d: Arrays, i: int) -> str:
    """The rosbag2 data note (metadata.yaml custom_data)."""
    return (f'Real data: smartphone + smartwatch inertial HAR dataset (Matey-Sanz et al.), recording '
            f'{d["recording_id"][i]} (subject {int(d["subject"][i])}, execution {int(d["execution"][i])}), '
            f'phone carried {d["phone_orientation"][i]}; recorded at UNIX {int(d["start_unix_ms"][i])} ms. '
            f'Stamps are {t0_seconds(i)} s + the dataset time (an arbitrary epoch, not the recording wall '
            'clock). /phone/imu and /watch/imu: acc in m/s^2 (with gravity), gyro in rad/s, as recorded; no '
            'orientation. Phone timestamps repeat (bursts) as recorded. Labels: the phone\'s per-sample '
            f'labels, in the .labels.csv sidecar. Cite: {CITATION}. Licence: CC BY 4.0.')


def _imu(row: List[float], stamp: Any, frame_id: str) -> Imu:
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    a, g = msg.linear_acceleration, msg.angular_velocity
    a.x, a.y, a.z, g.x, g.y, g.z = row
    msg.orientation_covariance[0] = -1.0
    return msg


def label_runs(rel_ns: np.ndarray, labels: np.ndarray, names: List[str]) -> List[Tuple[float, float, str]]:
    """Per-sample labels -> (start, end, name) runs; times (s) from ``rel_ns`` (ns since the bag's start)."""
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends_ns = np.r_[rel_ns[starts[1:]], rel_ns[-1] + round(LAST_RUN_PAD_S * 1e9)]
    return [(int(rel_ns[k]) / 1e9, int(e) / 1e9, names[int(labels[k])]) for k, e in zip(starts, ends_ns)]


def write(d: Arrays, i: int, writer: BagWriter) -> Written:
    """Writes recording ``i``'s phone and watch streams, merged in log-time order."""
    t0 = t0_seconds(i)
    times, rows, labels = [], [], []
    for dev, _ in DEVICES:
        a, b = int(d[dev + '_ptr'][i]), int(d[dev + '_ptr'][i + 1])
        times.append(d[dev + '_t'][a:b])
        rows.append(d[dev][a:b].astype(np.float64).tolist())
        labels.append(d[dev + '_label'][a:b])
    sids, rids = merged_order(times)
    first = last = None
    for s, r in zip(sids, rids):
        stamp = stamp_at(t0, float(times[s][r]))
        ns = stamp_to_ns(stamp)
        writer.write(DEVICES[s][1], _imu(rows[s][r], stamp, DEVICES[s][0]), ns)
        first = ns if first is None else first
        last = ns
    assert first is not None and last is not None, f'recording {i} has no samples'
    phone_ns = np.array([stamp_to_ns(stamp_at(t0, float(t))) for t in times[0]], np.int64) - first
    names = [str(n).lower() for n in d['label_names']]
    return Written(len(sids), first, last, label_runs(phone_ns, labels[0], names))


SPSW = Dataset('spsw', KEYS, recordings, note, write)

if __name__ == '__main__':
    sys.exit(main(SPSW, __doc__))
