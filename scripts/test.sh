#!/usr/bin/env bash
# The project's test command: set up (fast when nothing changed), then run the whole suite, one
# pytest worker per core (pytest-xdist; a test file's tests stay on one worker, each worker on a
# ROS domain of its own). HF_TEST_WORKERS=0 runs everything in this one process instead; further
# arguments go to pytest (-m, -k, a path).
set -eo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/setup.sh"
# shellcheck disable=SC1091
. "$ROOT/scripts/env.sh"
cd "$ROOT"
exec python -m pytest -n "${HF_TEST_WORKERS:-auto}" --dist loadfile "$@"
