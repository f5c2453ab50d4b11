#!/usr/bin/env python3
"""Converts the Free Spoken Digit Dataset (real microphone clips) into rosbag2 bags of
pre-segmented takes, with label files.

Writes ``OUT/fsdd_{speaker}_{block}/`` and ``OUT/fsdd_{speaker}_{block}.labels.csv``: for each of
the 6 speakers, 5 bags (takes 0-9, 10-19, ... of every digit), each holding 100 clips in a
shuffled order (seeded), so 30 bags of 3,000 clips in all.

- ``/microphone/audio`` ``hybrid_fusion_msgs/AudioChunk``: 8 kHz mono S16LE, the samples exactly
  as in the source WAV files, in chunks of 800 samples (0.1 s; a clip's last chunk shorter),
  each stamped with its first sample's capture time.
- The TIMELINE IS MADE UP: the clips were recorded apart; here each follows the previous one
  after 0.5 s in which nothing is published (as a recorder stopped between takes). Stamps are
  T0 + t, T0 = 1_700_000_000 + 1000 * bag index.
- Labels ``digit_0`` ... ``digit_9``, one interval per clip, from its first sample to one sample
  period after its last.

Source: ``../shared/data/fsdd/fsdd.npz`` (see its README), from GitHub
Jakobovski/free-spoken-digit-dataset. Cite: "Free Spoken Digit Dataset (FSDD)", GitHub
Jakobovski/free-spoken-digit-dataset, commit 26eb9aaf76e81b692f806f9140c2d2777410d7a1.
Licence: CC BY-SA 4.0. Dataset glue for the benchmarks, not part of the product.

Run (from the repository root)::

    . scripts/env.sh
    python benchmarks/fsdd_to_bags.py --out fsdd_bags --jobs 2 [--subjects 0-3]

``--subjects`` picks speakers by index (0 george ... 5 yweweler).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from bag_glue import Arrays, BagWriter, Dataset, Recording, Written, main  # noqa: E402
from bag_glue import stamp_at, t0_seconds  # noqa: E402
from hybrid_fusion_msgs.msg import AudioChunk  # noqa: E402
from hybrid_fusion_ros.ros.conversions import stamp_to_ns  # noqa: E402

CITATION = ('"Free Spoken Digit Dataset (FSDD)", GitHub Jakobovski/free-spoken-digit-dataset, '
            'commit 26eb9aaf76e81b692f806f9140c2d2777410d7a1')
TOPIC = '/microphone/audio'
BLOCKS = 5  # bags per speaker
CHUNK = 800  # samples per message (0.1 s at 8 kHz)
GAP_S = 0.5  # made-up silence between clips (no messages)
KEYS = ('audio', 'ptr', 'digit', 'speaker', 'index', 'speakers', 'sample_rate')


def recordings(d: Any) -> List[Recording]:
    names = [str(s) for s in d['speakers']]
    return [
        Recording(s * BLOCKS + b, f'fsdd_{names[s]}_{b}', s)
        for s in range(len(names))
        for b in range(BLOCKS)
    ]


def _clips(d: Arrays, i: int) -> np.ndarray:
    """Indices of the clips of bag ``i``, in the bag's (seeded, shuffled) order."""
    speaker, block = divmod(i, BLOCKS)
    takes = 50 // BLOCKS
    mine = np.flatnonzero(
        (d['speaker'] == speaker)
        & (d['index'] >= block * takes)
        & (d['index'] < (block + 1) * takes)
    )
    return np.random.default_rng(1000 + i).permutation(mine)


def note(d: Arrays, i: int) -> str:
    speaker = str(d['speakers'][i // BLOCKS])
    return (f'Real data: Free Spoken Digit Dataset, speaker {speaker}, takes {(i % BLOCKS) * 10}-'
            f'{(i % BLOCKS) * 10 + 9} of every digit; real 8 kHz microphone clips, samples as '
            f'recorded. The timeline between clips is MADE UP ({GAP_S} s of nothing between '
            f'clips; stamps from {t0_seconds(i)} s, an arbitrary epoch). Cite: {CITATION}. '
            'Licence: CC BY-SA 4.0.')


def write(d: Arrays, i: int, writer: BagWriter) -> Written:
    t0 = t0_seconds(i)
    rate = int(d['sample_rate'])
    t, messages, labels = 0.0, 0, []
    first = last = None
    for clip in _clips(d, i):
        samples = d['audio'][int(d['ptr'][clip]) : int(d['ptr'][clip + 1])]
        for k in range(0, len(samples), CHUNK):
            msg = AudioChunk()
            msg.header.stamp = stamp_at(t0, t + k / rate)
            msg.header.frame_id = 'microphone'
            msg.sample_rate = rate
            msg.channels = 1
            msg.sample_format = AudioChunk.FORMAT_S16LE
            msg.data = samples[k : k + CHUNK].astype('<i2').tobytes()
            ns = stamp_to_ns(msg.header.stamp)
            writer.write(TOPIC, msg, ns)
            first = ns if first is None else first
            last = ns
            messages += 1
        start = t
        t += len(samples) / rate
        labels.append((start, t, f"digit_{int(d['digit'][clip])}"))
        t += GAP_S
    assert first is not None and last is not None, f'bag {i} has no clip'
    # Label times are seconds since the bag's first message, which is stamped at t = 0.
    return Written(messages, first, last, labels)


FSDD = Dataset('fsdd', KEYS, recordings, note, write)

if __name__ == '__main__':
    sys.exit(main(FSDD, __doc__))
