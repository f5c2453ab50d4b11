#!/usr/bin/env bash
# Make the real ROS 2 launch system importable in the project's venv, so that
# test_launch_file.py runs launch/classifier.launch.py under launch.LaunchService, the service
# `ros2 launch` uses. Run it after scripts/setup.sh; safe and fast to re-run.
#
#   scripts/ros-launch.sh [--distro kilted|jazzy]      (or HF_ROS_DISTRO; default kilted)
#
# launch, launch_ros and composition_interfaces are not on PyPI. ../shared/ros-launch (beside
# the repository; HF_ROS_LAUNCH_DIR overrides it) holds them built from upstream, see its
# README. From there this script:
#   1. pip-installs the launch and launch_ros wheels (--no-deps: their ROS dependencies, rclpy,
#      ament_index_python and lifecycle_msgs, are the PyPI core's) and osrf-pycommon into the
#      venv; lark is rosidl_parser's lark-parser, already there;
#   2. builds composition_interfaces (launch_ros.actions imports it) with the venv's colcon and
#      installs it into the venv's own prefix (--merge-install), where the PyPI ROS wheels lie:
#      importable, in the ament index (the venv is on AMENT_PREFIX_PATH) and its libraries on
#      the wheels' library path. The colcon build and log folders are <venv>/ros-launch-build;
#      colcon's own setup files land in the venv's root (unused: the venv is no colcon workspace).
# A stamp (<venv>/.hf-ros-launch) skips both when nothing changed. Without ../shared/ros-launch
# it says so and exits 0: the launch-file test is then skipped. With a ROS 2 from apt sourced,
# that ROS's launch is used (apt install ros-$ROS_DISTRO-launch-ros); nothing is installed.
#
# Environment: HF_ROS_LAUNCH_DIR, HF_ROS_DISTRO, HF_VENV (the venv; default as scripts/setup.sh
# names it: .venv for Kilted, .venv-<distro> otherwise).
set -eo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[ros-launch] %s\n' "$*" >&2; }

distro=${HF_ROS_DISTRO:-${ROS_DISTRO:-}}
while [ $# -gt 0 ]; do
  case $1 in
    --distro) distro=${2:?--distro needs a name}; shift 2 ;;
    --distro=*) distro=${1#--distro=}; shift ;;
    *) log "unknown argument '$1' (usage: scripts/ros-launch.sh [--distro kilted|jazzy])"; exit 2 ;;
  esac
done
distro=${distro:-kilted}
suffix=-$distro
[ "$distro" = kilted ] && suffix=
VENV=${HF_VENV:-$ROOT/.venv$suffix}
PY=$VENV/bin/python
SHARED=${HF_ROS_LAUNCH_DIR:-$ROOT/../shared/ros-launch}

if [ ! -d "$SHARED/wheels" ] || [ ! -d "$SHARED/src/composition_interfaces" ]; then
  log "no $SHARED (launch, launch_ros and composition_interfaces built from source): nothing to"
  log "install; test_launch_file.py will be skipped"
  exit 0
fi
if [ ! -x "$PY" ]; then
  log "no venv at $VENV: run scripts/setup.sh${suffix:+ --distro $distro} first"
  exit 1
fi
if [ -n "${ROS_DISTRO:-}" ]; then
  # An apt ROS brings its own launch; rolling wheels do not belong over it.
  if "$PY" -c 'import launch_ros.actions' 2>/dev/null; then
    log "ROS 2 $ROS_DISTRO is sourced and its launch_ros imports: nothing to do"
    exit 0
  fi
  log "ROS 2 $ROS_DISTRO is sourced without launch_ros: apt install ros-$ROS_DISTRO-launch-ros"
  log "(test_launch_file.py fails until then)"
  exit 0
fi

SRC=$SHARED/src/composition_interfaces
stamp_file=$VENV/.hf-ros-launch
stamp=$( (cd "$SHARED" && find wheels src -type f -print0 | sort -z | xargs -0 sha256sum; \
  cat "$ROOT/scripts/ros-launch.sh") | sha256sum | cut -c1-16)
if [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi

# --- 1. launch and launch_ros ------------------------------------------------------------------
log "installing launch and launch_ros from $SHARED/wheels into $VENV"
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" 'osrf-pycommon==2.0.2'
# pip reports ament_index_python as missing: the PyPI core installs it as ros-ament-index-python.
if ! out=$("${PIP[@]}" --no-deps --force-reinstall "$SHARED"/wheels/launch-*.whl \
    "$SHARED"/wheels/launch_ros-*.whl 2>&1); then
  printf '%s\n' "$out" >&2
  exit 1
fi
printf '%s\n' "$out" | grep -v -e 'ament_index_python, which is not installed' \
  -e 'resolver does not currently take into account' -e '^$' >&2 || true
# launch's substitution grammar needs lark; rosidl_parser's lark-parser provides the module.
"$PY" -c 'import lark' 2>/dev/null || "${PIP[@]}" 'lark>=1.1'

# --- 2. composition_interfaces -----------------------------------------------------------------
log "building composition_interfaces into $VENV (about 15 s)"
WORK=$VENV/ros-launch-build
mkdir -p "$WORK"
(
  export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export PATH="$VENV/bin:$PATH"
  "$PY" -m colcon --log-base "$WORK/log" build --merge-install \
    --base-paths "$SRC" --build-base "$WORK/build" --install-base "$VENV" \
    --cmake-args -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF \
    --event-handlers console_direct- 2>&1 | tail -n 25
)
# The venv doubles as an ament prefix: colcon must not crawl it as a workspace.
touch "$VENV/COLCON_IGNORE"

check='from launch import LaunchService; import launch_ros.actions'
if ! out=$(AMENT_PREFIX_PATH="$VENV" "$PY" -c "$check" 2>&1); then
  log "launch_ros does not import after the install:"
  printf '%s\n' "$out" >&2
  exit 1
fi
echo "$stamp" > "$stamp_file"
log "ready: launch and launch_ros import from $VENV"
