#!/usr/bin/env bash
# MEx end to end through the product's commands: bags, then 5-fold cross-validation by subject
# of each single input and of the fused model (which also writes OUT/mex_fused.pt), each beside a
# random forest on the same windows.
#   benchmarks/run_mex.sh [OUT]         (OUT defaults to ./mex_results; bags go to OUT/bags)
set -eo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-mex_results}
. "$HERE/../scripts/env.sh"
# One torch thread per run: the figures in docs/results.md were measured so (two benchmark runs
# side by side on 2 cores), and the thread count can move the last digits of a figure.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
python "$HERE/mex_to_bags.py" --out "$OUT/bags"
common=(--config "$HERE/mex.yaml" --folds 5 --group-by 'mex_s(\d+)_' --baseline --cache-dir "$OUT/cache")
hybrid-fusion train "$OUT/bags" --map /mex/depth/image_raw:=depth --map /mex/thigh/imu:=thigh \
    --map /mex/wrist/imu:=wrist "${common[@]}" --report "$OUT/fused" -o "$OUT/mex_fused.pt"
for input in depth thigh wrist; do
  topic=/mex/$input/imu; [ "$input" = depth ] && topic=/mex/depth/image_raw
  hybrid-fusion train "$OUT/bags" --map "$topic:=$input" "${common[@]}" --cv-only --report "$OUT/$input"
done
