#!/usr/bin/env python3
"""Converts the MEx dataset (real data) into one rosbag2 bag per recording, with a label file.

Writes ``OUT/mex_s{subject:02d}_e{exercise}_r{repeat}/`` (a rosbag2 bag, MCAP by default) and
``OUT/mex_s{subject:02d}_e{exercise}_r{repeat}.labels.csv`` for each of the 239 recordings:

- ``/mex/depth/image_raw`` sensor_msgs/Image, 32FC1, 12x16, step 64, little-endian float32:
  the source's depth values as they are, normalised 0-1 (NOT metres; the mapping to metres is
  not given in the source), frame_id ``mex_depth``; ~10.4 Hz, irregular;
- ``/mex/thigh/imu`` and ``/mex/wrist/imu`` sensor_msgs/Imu: linear_acceleration in m/s^2
  (the source's g times 9.80665); the accelerometers have no gyroscope, so angular_velocity is
  zero with angular_velocity_covariance[0] = -1 and orientation_covariance[0] = -1 (REP-145:
  not provided); frame_ids ``mex_thigh``, ``mex_wrist``; ~103 and ~96.5 Hz.

Stamps are T0 + t, t the dataset time (s since the recording's first sample) and
T0 = 1_700_000_000 + 1000 * (recording index in mex.npz); log time = header stamp; messages in
log-time order. The sidecar (``start,end,label``, s since the bag's first message) has one
interval over the whole recording labelled with the exercise name (e.g. ``the_clam``).

Source: ``../shared/data/mex/mex.npz`` (beside the checkout) (see its README), from the MEx release.
Cite: A. Wijekoon, N. Wiratunga, K. Cooper, "MEx: Multi-modal Exercises Dataset for Human
Activity Recognition", arXiv:1908.08992, 2019. Licence: CC BY 4.0.
Dataset glue for the benchmarks, not part of the product.

Run (from the repository root)::

    . scripts/env.sh
    python benchmarks/mex_to_bags.py --out mex_bags --jobs 2 [--subjects 1-5,7] [--force]
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from bag_glue import Arrays, BagWriter, Dataset, Recording, Written, main, merged_order  # noqa: E402
from bag_glue import stamp_at, t0_seconds  # noqa: E402
from hybrid_fusion_ros.ros.conversions import stamp_to_ns  # noqa: E402
from sensor_msgs.msg import Image, Imu  # noqa: E402

G = 9.80665  # m/s^2 per g
CITATION = ('A. Wijekoon, N. Wiratunga, K. Cooper, "MEx: Multi-modal Exercises Dataset for Human Activity '
            'Recognition", arXiv:1908.08992, 2019')
STREAMS = (('dc', '/mex/depth/image_raw', 'mex_depth'),
           ('act', '/mex/thigh/imu', 'mex_thigh'),
           ('acw', '/mex/wrist/imu', 'mex_wrist'))
KEYS = ('subject', 'exercise', 'repeat', 'start_time', 'exercise_names') + tuple(
    k for m, _, _ in STREAMS for k in (m, m + '_t', m + '_ptr'))


def bag_name(subject: int, exercise: int, repeat: int) -> str:
    return f'mex_s{subject:02d}_e{exercise}_r{repeat}'


def recordings(d: Any) -> List[Recording]:
    subj, ex, rep = d['subject'], d['exercise'], d['repeat']
    return [Recording(i, bag_name(int(subj[i]), int(ex[i]), int(rep[i])), int(subj[i]))
            for i in range(len(subj))]


def exercise_name(d: Arrays, i: int) -> str:
    return str(d['exercise_names'][int(d['exercise'][i]) - 1])


def note(d: Arrays, i: int) -> str:
    """The rosbag2 data note (metadata.yaml custom_data)."""
    s, e, r = int(d['subject'][i]), int(d['exercise'][i]), int(d['repeat'][i])
    return (f'Real data: MEx (Multi-modal Exercises Dataset), subject {s}, '
            f'exercise {e} ({exercise_name(d, i)}), repeat {r}; recorded {d["start_time"][i]} '
            '(local time, zone not stated). Stamps are '
            f'{t0_seconds(i)} s + the dataset time (an arbitrary epoch, not the recording wall clock). '
            '/mex/depth/image_raw (32FC1, 12x16) holds the source depth normalised 0-1, NOT metres. '
            '/mex/thigh/imu and /mex/wrist/imu: accelerometers only, g converted to m/s^2 (x 9.80665); '
            f'no gyroscope, no orientation. Cite: {CITATION}. Licence: CC BY 4.0.')


def _depth(frame: np.ndarray, stamp: Any) -> Image:
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = 'mex_depth'
    msg.height, msg.width = 12, 16
    msg.encoding = '32FC1'
    msg.is_bigendian = 0
    msg.step = 16 * 4
    msg.data = frame.tobytes()
    return msg


def _imu(acc: List[float], stamp: Any, frame_id: str) -> Imu:
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    a = msg.linear_acceleration
    a.x, a.y, a.z = acc
    msg.orientation_covariance[0] = -1.0
    msg.angular_velocity_covariance[0] = -1.0
    return msg


def write(d: Arrays, i: int, writer: BagWriter) -> Written:
    """Writes recording ``i``'s three streams, merged in log-time order."""
    t0 = t0_seconds(i)
    times, values = [], []
    for m, _, _ in STREAMS:
        a, b = int(d[m + '_ptr'][i]), int(d[m + '_ptr'][i + 1])
        times.append(d[m + '_t'][a:b])
        values.append(d[m][a:b])
    frames = np.ascontiguousarray(values[0], dtype='<f4')
    acc = [(v.astype(np.float64) * G).tolist() for v in values[1:]]
    sids, rows = merged_order(times)
    first = last = None
    for s, r in zip(sids, rows):
        stamp = stamp_at(t0, float(times[s][r]))
        msg = _depth(frames[r], stamp) if s == 0 else _imu(acc[s - 1][r], stamp, STREAMS[s][2])
        ns = stamp_to_ns(stamp)
        writer.write(STREAMS[s][1], msg, ns)
        first = ns if first is None else first
        last = ns
    assert first is not None and last is not None, f'recording {i} has no samples'
    labels = [(0.0, (last - first) / 1e9 + 0.001, exercise_name(d, i))]
    return Written(len(sids), first, last, labels)


MEX = Dataset('mex', KEYS, recordings, note, write)

if __name__ == '__main__':
    sys.exit(main(MEX, __doc__))
