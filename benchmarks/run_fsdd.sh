#!/usr/bin/env bash
# FSDD end to end through the product's commands: bags (real clips, a made-up timeline), then
# leave-one-speaker-out cross-validation (6 folds) of the network with the defaults, the
# classical baselines on the same windows beside it; per window and per clip (segment).
#   benchmarks/run_fsdd.sh [OUT]        (OUT defaults to ./fsdd_results; bags go to OUT/bags)
set -eo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-fsdd_results}
. "$HERE/../scripts/env.sh"
# One torch thread per run, as the other benchmarks measure.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
python "$HERE/fsdd_to_bags.py" --out "$OUT/bags"
hybrid-fusion inspect "$OUT/bags" --map /microphone/audio:=mic:audio --group-by 'fsdd_([a-z]+)_' \
  --json "$OUT/inspect.json" > "$OUT/inspect.txt"
hybrid-fusion train "$OUT/bags" --map /microphone/audio:=mic:audio --folds 6 \
  --group-by 'fsdd_([a-z]+)_' --baseline --cv-only --cache-dir "$OUT/cache" --report "$OUT/loso"
