#!/usr/bin/env bash
# The newcomer demo: set up (fast when nothing changed), then replay the generated demo bag
# through the running node graph, print labels live and a summary at the end.
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh"
# shellcheck disable=SC1091
. "$ROOT/scripts/env.sh"
exec python -m hybrid_fusion_ros.cli demo "$@"
