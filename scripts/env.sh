# Source this file (". scripts/env.sh") to use the workspace built by scripts/setup.sh.
_hf_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
_hf_venv=${HF_VENV:-$_hf_root/.venv}
# shellcheck disable=SC1091
. "$_hf_venv/bin/activate"
if [ -z "${ROS_DISTRO:-}" ]; then
  # PyPI ROS core: the venv is the underlay ament prefix.
  export AMENT_PREFIX_PATH="$_hf_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
# colcon's setup scripts read unset variables; do not run them under "set -u".
case $- in *u*) _hf_u=1; set +u ;; *) _hf_u=0 ;; esac
# shellcheck disable=SC1091
COLCON_CURRENT_PREFIX="$_hf_root/install" . "$_hf_root/install/setup.sh"
[ "$_hf_u" = 1 ] && set -u
# Executables (encoder_node, fusion_node, hybrid-fusion) as ros2 run would find them.
export PATH="$_hf_root/install/hybrid_fusion_ros/lib/hybrid_fusion_ros:$PATH"
# Keep DDS discovery on this machine unless the user chose otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
unset _hf_root _hf_venv _hf_u
