#!/usr/bin/env bash
# Set up hybrid_fusion_ros from nothing, or refresh it; safe and fast to re-run.
#
# Without a ROS install (a dev laptop, CI): creates .venv, installs the ROS 2 core from PyPI
# wheels (requirements/ros-pypi.txt), torch (CPU) and the Python dependencies, fixes the paths
# the wheels' CMake exports hard-code, and builds hybrid_fusion_msgs + hybrid_fusion_ros with
# colcon into ./install.
# With ROS 2 sourced (ROS_DISTRO set and rclpy importable): the venv sees the system packages,
# only the Python dependencies are added, and that ROS's colcon builds the workspace.
#
# Environment: HF_VENV (venv path, default ./.venv), HF_PYTHON (interpreter, default python3).
set -eo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${HF_VENV:-$ROOT/.venv}
PYTHON=${HF_PYTHON:-python3}
log() { printf '[setup] %s\n' "$*" >&2; }

use_system_ros=0
if [ -n "${ROS_DISTRO:-}" ] && "$PYTHON" -c 'import rclpy' 2>/dev/null; then
  use_system_ros=1
  log "ROS 2 $ROS_DISTRO is sourced: using its rclpy, messages and colcon"
fi

# --- 1. virtual environment -------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  if [ $use_system_ros = 1 ]; then
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
req_files=("$ROOT/requirements/python.txt" "$ROOT/scripts/setup.sh")
[ $use_system_ros = 0 ] && req_files+=("$ROOT/requirements/ros-pypi.txt")
req_hash=$(cat "${req_files[@]}" | sha256sum | cut -c1-16)
if [ "$(cat "$VENV/.hf-requirements" 2>/dev/null)" != "$req_hash" ]; then
  if [ $use_system_ros = 0 ]; then
    log "installing the ROS 2 core from PyPI (about a minute the first time)"
    "${PIP[@]}" -r "$ROOT/requirements/ros-pypi.txt"
  fi
  if ! "$PY" -c 'import torch' 2>/dev/null; then
    log "installing torch (CPU build)"
    "${PIP[@]}" torch==2.13.0
  fi
  log "installing Python dependencies"
  "${PIP[@]}" -r "$ROOT/requirements/python.txt"
  # colcon-core needs setuptools<80; torch's install may have upgraded it.
  if [ $use_system_ros = 0 ]; then "${PIP[@]}" 'setuptools<80'; fi
  echo "$req_hash" > "$VENV/.hf-requirements"
fi

# --- 3. fix the PyPI wheels' CMake exports ---------------------------------------------------
# They hard-code the wheel builder's interpreter paths; CMake's generate step rejects them.
if [ $use_system_ros = 0 ]; then
  inc=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  { grep -rl --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null || true; } \
    | xargs -r sed -i "s#/opt/python/cp311-cp311/include/python3.11#$inc#g; s#/opt/python/cp311-cp311/lib/python3.11/site-packages#$site#g"
  export AMENT_PREFIX_PATH="$VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
  export CMAKE_PREFIX_PATH="$VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  COLCON="$VENV/bin/colcon"
else
  COLCON=$(command -v colcon || true)
  [ -n "$COLCON" ] || { log "colcon not found: apt install python3-colcon-common-extensions"; exit 1; }
fi

# --- 4. colcon build (skipped when no build input changed) ------------------------------------
# --symlink-install: edits to the Python sources take effect without rebuilding.
build_hash=$(cd "$ROOT" && find hybrid_fusion_msgs hybrid_fusion_ros \
    \( -name package.xml -o -name CMakeLists.txt -o -name '*.msg' -o -name setup.py -o -name setup.cfg \) \
    -type f -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
if [ "$(cat "$ROOT/install/.hf-build" 2>/dev/null)" != "$build_hash" ] || [ ! -f "$ROOT/install/setup.sh" ]; then
  log "building with colcon"
  cd "$ROOT"
  mkdir -p build install log && touch build/COLCON_IGNORE install/COLCON_IGNORE log/COLCON_IGNORE
  PATH="$VENV/bin:$PATH" "$COLCON" --log-base log build --symlink-install \
    --base-paths hybrid_fusion_msgs hybrid_fusion_ros \
    --cmake-args -DPython3_EXECUTABLE="$PY" -DBUILD_TESTING=OFF \
    --event-handlers console_direct- 2>&1 | tail -n 25
  echo "$build_hash" > "$ROOT/install/.hf-build"
fi
log "ready: source scripts/env.sh"
