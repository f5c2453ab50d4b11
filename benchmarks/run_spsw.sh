#!/usr/bin/env bash
# spsw end to end through the product's commands: bags, then 5-fold cross-validation by subject
# of each single input and of the fused model, each beside a random forest on the same windows.
#   benchmarks/run_spsw.sh [OUT]        (OUT defaults to ./spsw_results; bags go to OUT/bags)
set -eo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-spsw_results}
. "$HERE/../scripts/env.sh"
# One torch thread per run: the figures in docs/results.md were measured so (two benchmark runs
# side by side on 2 cores), and the thread count can move the last digits of a figure.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
python "$HERE/spsw_to_bags.py" --out "$OUT/bags"
common=(--config "$HERE/spsw.yaml" --folds 5 --group-by 'spsw_s(\d+)_' --baseline --cv-only --cache-dir "$OUT/cache")
hybrid-fusion train "$OUT/bags" --map /phone/imu:=phone --map /watch/imu:=watch "${common[@]}" --report "$OUT/fused"
hybrid-fusion train "$OUT/bags" --map /phone/imu:=phone "${common[@]}" --report "$OUT/phone"
hybrid-fusion train "$OUT/bags" --map /watch/imu:=watch "${common[@]}" --report "$OUT/watch"
