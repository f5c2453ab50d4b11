#!/usr/bin/env bash
# Set up hybrid_fusion_ros from nothing, or refresh it; safe and fast to re-run.
#
#   scripts/setup.sh [--distro kilted|jazzy]      (or HF_ROS_DISTRO=jazzy; default kilted)
#
# Without a ROS install (a dev laptop, CI): creates a venv, installs that distro's ROS 2 core
# from PyPI wheels, torch (CPU) and the Python dependencies (requirements/python.txt), fixes the
# paths the wheels' CMake exports hard-code, and builds hybrid_fusion_msgs, hybrid_fusion_ros (the
# runtime) and hybrid_fusion_tools (the offline tools) with colcon. Each distro has its own venv and colcon folders:
#   kilted  .venv        requirements/ros-pypi.txt        build/        install/        log/
#   jazzy   .venv-jazzy  requirements/ros-pypi-jazzy.txt  build-jazzy/  install-jazzy/  log-jazzy/
# With ROS 2 sourced (ROS_DISTRO set and rclpy importable, e.g. Humble or Jazzy from apt): the
# distro is that one (folders .venv-humble, install-humble, ...; kilted keeps the plain names).
# The venv sees the system packages and gets only requirements/robot.txt, requirements/tools.txt
# and torch, so apt's numpy stays the one in use, and that ROS's colcon builds the workspace.
#
# Environment: HF_ROS_DISTRO, HF_PYTHON (interpreter the venv is made from, default python3),
# HF_VENV, HF_BUILD_BASE, HF_INSTALL_BASE, HF_LOG_BASE (override the folders above).
set -eo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${HF_PYTHON:-python3}
log() { printf '[setup] %s\n' "$*" >&2; }

distro=${HF_ROS_DISTRO:-}
while [ $# -gt 0 ]; do
  case $1 in
    --distro) distro=${2:?--distro needs a name}; shift 2 ;;
    --distro=*) distro=${1#--distro=}; shift ;;
    *) log "unknown argument '$1' (usage: scripts/setup.sh [--distro kilted|jazzy])"; exit 2 ;;
  esac
done

use_system_ros=0
if [ -n "${ROS_DISTRO:-}" ] && "$PYTHON" -c 'import rclpy' 2>/dev/null; then
  use_system_ros=1
  if [ -n "$distro" ] && [ "$distro" != "$ROS_DISTRO" ]; then
    log "ROS 2 $ROS_DISTRO is sourced but $distro was asked for: set up $distro in a shell without ROS"
    exit 2
  fi
  distro=$ROS_DISTRO
  log "ROS 2 $ROS_DISTRO is sourced: using its rclpy, messages and colcon"
fi
distro=${distro:-kilted}
if [ $use_system_ros = 0 ]; then
  case $distro in
    kilted) ros_requirements=$ROOT/requirements/ros-pypi.txt ;;
    jazzy) ros_requirements=$ROOT/requirements/ros-pypi-jazzy.txt ;;
    *) log "no ROS 2 $distro core on PyPI (kilted, jazzy): source your $distro install, then re-run"
       exit 2 ;;
  esac
fi
# Kilted, the default, keeps the plain folder names; scripts/env.sh names them the same way.
suffix=-$distro
[ "$distro" = kilted ] && suffix=
VENV=${HF_VENV:-$ROOT/.venv$suffix}
BUILD_BASE=${HF_BUILD_BASE:-$ROOT/build$suffix}
INSTALL_BASE=${HF_INSTALL_BASE:-$ROOT/install$suffix}
LOG_BASE=${HF_LOG_BASE:-$ROOT/log$suffix}

# --- 1. virtual environment -------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  if [ $use_system_ros = 1 ]; then
    # System packages stay visible (rclpy, apt's numpy, cv_bridge); never --break-system-packages.
    "$PYTHON" -m venv --system-site-packages "$VENV"
  else
    "$PYTHON" -m venv "$VENV"
  fi
fi
# The venv doubles as an ament prefix (share/<pkg>/...): colcon must not crawl it as a workspace.
touch "$VENV/COLCON_IGNORE"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)

# --- 2. Python packages (skipped when the requirement files have not changed) -----------------
if [ $use_system_ros = 1 ]; then
  req_files=("$ROOT/requirements/robot.txt" "$ROOT/requirements/tools.txt")
else
  req_files=("$ros_requirements" "$ROOT/requirements/colcon.txt" "$ROOT/requirements/python.txt")
fi
req_hash=$(cat "${req_files[@]}" "$ROOT/scripts/setup.sh" | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.hf-requirements" 2>/dev/null)" != "$req_hash" ]; then
  # pip before 24.3 checks Requires-Python against itself, not --python-version, when it
  # resolves for another Python (test_install.py resolves the robot set for Python 3.10).
  "${PIP[@]}" 'pip>=24.3'
  if [ $use_system_ros = 0 ]; then
    log "installing the ROS 2 $distro core from PyPI (about a minute the first time)"
    "${PIP[@]}" -r "$ros_requirements"
  fi
  if ! "$PY" -c 'import torch' 2>/dev/null; then
    log "installing torch (CPU build)"
    "${PIP[@]}" torch==2.13.0
  fi
  if [ $use_system_ros = 1 ]; then
    log "installing what apt lacks (requirements/robot.txt, requirements/tools.txt)"
    "${PIP[@]}" -r "$ROOT/requirements/robot.txt" -r "$ROOT/requirements/tools.txt"
  else
    log "installing Python dependencies"
    "${PIP[@]}" -r "$ROOT/requirements/python.txt"
    # colcon-core needs setuptools<80; torch's install may have upgraded it.
    "${PIP[@]}" 'setuptools<80'
  fi
  echo "$req_hash" > "$VENV/.hf-requirements"
fi

# --- 3. fix the PyPI wheels' CMake exports ---------------------------------------------------
# They hard-code the wheel builder's interpreter paths; CMake's generate step rejects them.
if [ $use_system_ros = 0 ]; then
  inc=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  { grep -rl --include='*.cmake' '/opt/python/cp3' "$VENV/share" 2>/dev/null || true; } \
    | xargs -r sed -i "s#/opt/python/cp3[0-9]*-cp3[0-9]*/include/python3\.[0-9]*#$inc#g; s#/opt/python/cp3[0-9]*-cp3[0-9]*/lib/python3\.[0-9]*/site-packages#$site#g"
  export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
fi
# colcon runs under the venv's interpreter, also when it is the system's colcon: colcon writes
# its own interpreter (sys.executable) into the console scripts' shebang, and apt's
# /usr/bin/python3 cannot import the venv's torch, so `ros2 run` / `ros2 launch` would fail.
if ! "$PY" -c 'import colcon_core' 2>/dev/null; then
  log "colcon is not importable from $VENV: apt install python3-colcon-common-extensions"
  exit 1
fi
COLCON=("$PY" -m colcon)

# --- 4. colcon build (skipped when no build input changed) ------------------------------------
# --symlink-install: edits to the Python sources take effect without rebuilding.
build_hash=$( (echo "$distro $use_system_ros $PY"; cd "$ROOT" && find hybrid_fusion_msgs hybrid_fusion_ros hybrid_fusion_tools \
    \( -name package.xml -o -name CMakeLists.txt -o -name '*.msg' -o -name setup.py -o -name setup.cfg \) \
    -type f -print0 | sort -z | xargs -0 cat) | sha256sum | cut -c1-16)
if [ "$(cat "$INSTALL_BASE/.hf-build" 2>/dev/null)" != "$build_hash" ] || [ ! -f "$INSTALL_BASE/setup.sh" ]; then
  log "building with colcon into $INSTALL_BASE"
  cd "$ROOT"
  for dir in "$BUILD_BASE" "$INSTALL_BASE" "$LOG_BASE"; do mkdir -p "$dir" && touch "$dir/COLCON_IGNORE"; done
  PATH="$VENV/bin:$PATH" "${COLCON[@]}" --log-base "$LOG_BASE" build --symlink-install \
    --build-base "$BUILD_BASE" --install-base "$INSTALL_BASE" \
    --base-paths hybrid_fusion_msgs hybrid_fusion_ros hybrid_fusion_tools \
    --cmake-args -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF \
    --event-handlers console_direct- 2>&1 | tail -n 25
  echo "$build_hash" > "$INSTALL_BASE/.hf-build"
fi
# --- 5. the real launch system (launch, launch_ros) for the launch-file test --------------------
# Not on PyPI: scripts/ros-launch.sh installs it from ../shared/ros-launch when that is there
# (fast when done already; says so and goes on when it is not).
HF_VENV=$VENV HF_ROS_DISTRO=$distro "$ROOT/scripts/ros-launch.sh"
log "ready: source scripts/env.sh${suffix:+ --distro $distro}"
