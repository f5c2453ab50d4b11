#!/usr/bin/env bash
# Fetches the separately recorded real streams that `hybrid-fusion real-bag` aligns into one
# bag (see shared/docs/data-sources.md): vtest.avi (pedestrians, OpenCV's sample video, from
# Debian's opencv-doc package) and a 30 s two-person conversation (pyannote.audio's sample
# wav, from its PyPI wheel). The IMU recording comes from seglearn, already installed.
# Not needed by the tests. Usage: scripts/fetch_real_streams.sh [DEST]
set -euo pipefail
dest="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/hybrid_fusion_ros/real}"
mkdir -p "$dest"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ ! -s "$dest/vtest.avi" ]; then
  echo "[fetch] opencv-doc (Debian, ~96 MB) for vtest.avi ..."
  (cd "$work" && apt-get download opencv-doc >/dev/null)
  dpkg-deb -x "$work"/opencv-doc_*.deb "$work/opencv-doc"
  cp "$work/opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$dest/vtest.avi"
fi
if [ ! -s "$dest/conversation.wav" ]; then
  echo "[fetch] pyannote-audio 4.0.7 wheel (PyPI) for its sample.wav ..."
  python3 -m pip download --quiet --no-deps --dest "$work" pyannote-audio==4.0.7
  python3 -m zipfile -e "$work"/pyannote_audio-4.0.7-*.whl "$work/wheel"
  cp "$work/wheel/pyannote/audio/sample/sample.wav" "$dest/conversation.wav"
fi
ls -l "$dest"
