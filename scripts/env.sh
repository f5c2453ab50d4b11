# Source this file to use the workspace built by scripts/setup.sh:
#   . scripts/env.sh                    Kilted from PyPI, or the ROS 2 that is sourced
#   . scripts/env.sh --distro jazzy     the Jazzy lane (or HF_ROS_DISTRO=jazzy)
# Folders as scripts/setup.sh names them: .venv and install for Kilted, .venv-<distro> and
# install-<distro> for any other distro; HF_VENV and HF_INSTALL_BASE override them.
_hf_root=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
_hf_distro=${HF_ROS_DISTRO:-${ROS_DISTRO:-kilted}}
# Only an explicit --distro is read: a sourced file sees its caller's arguments otherwise.
[ "${1:-}" = --distro ] && [ -n "${2:-}" ] && _hf_distro=$2
_hf_suffix=-$_hf_distro
[ "$_hf_distro" = kilted ] && _hf_suffix=
_hf_venv=${HF_VENV:-$_hf_root/.venv$_hf_suffix}
_hf_install=${HF_INSTALL_BASE:-$_hf_root/install$_hf_suffix}
# shellcheck disable=SC1091
. "$_hf_venv/bin/activate"
if [ -z "${ROS_DISTRO:-}" ]; then
  # PyPI ROS core: the venv is the underlay ament prefix.
  export AMENT_PREFIX_PATH="$_hf_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
fi
# colcon's setup scripts read unset variables; do not run them under "set -u".
case $- in *u*) _hf_u=1; set +u ;; *) _hf_u=0 ;; esac
# shellcheck disable=SC1091
COLCON_CURRENT_PREFIX="$_hf_install" . "$_hf_install/setup.sh"
[ "$_hf_u" = 1 ] && set -u
# Executables (encoder_node, fusion_node, hybrid-fusion) as ros2 run would find them.
export PATH="$_hf_install/hybrid_fusion_ros/lib/hybrid_fusion_ros:$PATH"
# Keep DDS discovery on this machine unless the user chose otherwise: the discovery range from
# Iron on; Humble has no range, only ROS_LOCALHOST_ONLY (later distros warn that it is deprecated).
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
if [ "${ROS_DISTRO:-}" = humble ]; then export ROS_LOCALHOST_ONLY=${ROS_LOCALHOST_ONLY:-1}; fi
unset _hf_root _hf_distro _hf_suffix _hf_venv _hf_install _hf_u
