#!/usr/bin/env bash
# Fetches BasicMotions (UEA archive: smartwatch accelerometer + gyroscope, 10 Hz, 4 classes,
# 40 train + 40 test recordings) from the aeon 1.6.0 wheel on PyPI, without installing aeon
# or its dependencies: only the two .ts files are kept. Used by `hybrid-fusion
# bench basicmotions`; not needed by the tests. Usage: scripts/fetch_basicmotions.sh [DEST]
set -euo pipefail
dest="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/hybrid_fusion_ros/basicmotions}"
mkdir -p "$dest"
if [ -s "$dest/BasicMotions_TRAIN.ts" ] && [ -s "$dest/BasicMotions_TEST.ts" ]; then
  ls -l "$dest"; exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "[fetch] aeon 1.6.0 wheel (PyPI, ~6 MB) for BasicMotions ..."
python3 -m pip download --quiet --no-deps --dest "$work" aeon==1.6.0
python3 -m zipfile -e "$work"/aeon-1.6.0-*.whl "$work/wheel"
cp "$work"/wheel/aeon/datasets/data/BasicMotions/BasicMotions_{TRAIN,TEST}.ts "$dest/"
ls -l "$dest"
