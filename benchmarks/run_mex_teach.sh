#!/usr/bin/env bash
# MEx (real data): teach an exercise the parent model never saw, through `hybrid-fusion teach`.
#   benchmarks/run_mex_teach.sh [OUT] [EXERCISE]     (OUT default ./mex_teach, EXERCISE 1-7, default 4)
# The parent is trained on subjects 1-24 without EXERCISE (validated on subjects 25-27); then one
# recording of EXERCISE by subject 28 (about a minute) is taught, with the parent's recordings
# replayed, and checked (the check holds out the last 30 % of that recording's windows). The
# figures are the check's, printed and in OUT/taught/check.json.
set -eo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:-mex_teach}
HELD=${2:-4}
. "$HERE/../scripts/env.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
[ -d "$OUT/bags" ] || python "$HERE/mex_to_bags.py" --out "$OUT/bags" --jobs 2
pick() {  # pick FIRST LAST: the bags of subjects FIRST..LAST without the held-out exercise
  for s in $(seq "$1" "$2"); do
    for b in "$OUT"/bags/mex_s$(printf %02d "$s")_e*_r*; do
      case $b in *.labels.csv) continue ;; *_e${HELD}_r*) continue ;; esac
      [ -d "$b" ] && echo "$b"
    done
  done
}
mapfile -t train < <(pick 1 24)
mapfile -t val < <(pick 25 27)
MAP=(--map /mex/depth/image_raw:=depth --map /mex/thigh/imu:=thigh --map /mex/wrist/imu:=wrist)
example=$(ls -d "$OUT"/bags/mex_s28_e${HELD}_r* | grep -v labels | head -1)
label=$(sed -n 2p "$example.labels.csv" | cut -d, -f3 | tr -d '\r')
echo "held out: exercise $HELD ($label); parent: ${#train[@]} recordings, validation ${#val[@]}; example: $example"
[ -f "$OUT/parent.pt" ] || hybrid-fusion train "${train[@]}" --val "${val[@]}" "${MAP[@]}" \
    --config "$HERE/mex.yaml" --cache-dir "$OUT/cache" -o "$OUT/parent.pt"
rm -rf "$OUT/taught"
hybrid-fusion teach "$label" --checkpoint "$OUT/parent.pt" --bags "$example" \
    --replay "${train[@]}" "${val[@]}" "${MAP[@]}" --no-swap --graph-timeout 0.5 --out "$OUT/taught"
