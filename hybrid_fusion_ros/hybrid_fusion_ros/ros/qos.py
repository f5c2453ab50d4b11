# Copyright 2026 The hybrid_fusion_ros authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""QoS profiles, chosen on purpose and named (REP-2003)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Mapping, MutableMapping, Optional

from rclpy.qos import DurabilityPolicy
from rclpy.qos import HistoryPolicy
from rclpy.qos import qos_profile_sensor_data
from rclpy.qos import QoSProfile
from rclpy.qos import ReliabilityPolicy

# Raw sensor streams: best effort, keep last 5 (REP-2003 SensorDataQoS). A late sample is
# worthless, and a reliable subscriber would make a fast sensor wait on a slow node.
SENSOR_QOS: QoSProfile = qos_profile_sensor_data

# What a sensor driver publishes with (REP-2003: drivers publish reliable, the system default,
# and each subscriber chooses): the replayers use it, so reliable subscribers such as RViz see
# the stream, and best-effort ones (the encoders) still match.
DRIVER_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=50,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)


def sensor_qos(depth: int, reliable: bool = False) -> QoSProfile:
    """SensorDataQoS with another queue depth (a 100 Hz IMU needs more than 5). ``reliable``
    is for offline replay, where the replayer may outrun a node and nothing may be lost."""
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=max(1, depth),
        reliability=ReliabilityPolicy.RELIABLE if reliable else SENSOR_QOS.reliability,
        durability=SENSOR_QOS.durability,
    )


# Features and labels: reliable, keep last 10. They are few per second and each one is a
# window's worth of evidence; losing one would leave a gap in the label stream.
RESULT_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

# A description a late joiner must get (~/model_info), as vision_msgs' LabelInfo is published:
# the newest one kept by the publisher and handed to every new subscriber (latched).
LATCHED_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

# /diagnostics, as diagnostic_updater publishes it.
DIAGNOSTICS_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE
)


# --- Fast DDS profile for the sensors' transport ---------------------------------------------
# Which variable each Fast DDS major version reads its default profile file from, and the
# package's profile for it: shared memory with segments sized for camera frames, and UDPv4.
PROFILE_VARIABLES = {3: 'FASTDDS_DEFAULT_PROFILES_FILE', 2: 'FASTRTPS_DEFAULT_PROFILES_FILE'}
SENSOR_PROFILES = {3: 'fastdds_sensors.xml', 2: 'fastdds2_sensors.xml'}


def fast_dds_major(env: Mapping[str, str] = os.environ) -> int:
    """2 or 3: the Fast DDS major version this ROS links. ``ROS_DISTRO`` decides when set
    (humble, iron and jazzy ship Fast DDS 2.x; kilted and later 3.x); else the
    ``ros-rmw-fastrtps-cpp`` wheel of the PyPI ROS core does (9 and later link Fast DDS 3);
    else 3."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version

    distro = env.get('ROS_DISTRO', '').strip().lower()
    if distro:
        return 2 if distro in ('humble', 'iron', 'jazzy') else 3
    try:
        return 2 if int(version('ros-rmw-fastrtps-cpp').split('.')[0]) < 9 else 3
    except (PackageNotFoundError, ValueError):
        return 3


def uses_fast_dds(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the RMW is Fast DDS (the default RMW of every distro since Foxy)."""
    return env.get('RMW_IMPLEMENTATION', '').strip() in (
        '',
        'rmw_fastrtps_cpp',
        'rmw_fastrtps_dynamic_cpp',
    )


def sensor_profile_path(major: int) -> Optional[Path]:
    """The packaged sensor-transport profile for Fast DDS ``major``: from the installed
    share directory, else the source tree (an install older than the file)."""
    from .graph import default_config_path

    name = SENSOR_PROFILES[major]
    for folder in (
        default_config_path().parent,
        Path(__file__).resolve().parent.parent / 'config',
    ):
        if (folder / name).is_file():
            return folder / name
    return None


def sensor_profile_env(env: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """The variable to add to ``env`` so that its processes load the sensor-transport profile:
    empty when the user set a Fast DDS profile file already (theirs is kept), or when the RMW
    is not Fast DDS (see the README for Cyclone DDS)."""
    if any(env.get(var) for var in PROFILE_VARIABLES.values()) or not uses_fast_dds(env):
        return {}
    major = fast_dds_major(env)
    path = sensor_profile_path(major)
    return {PROFILE_VARIABLES[major]: str(path)} if path is not None else {}


def node_process_env(env: Mapping[str, str] = os.environ) -> Dict[str, str]:
    """Variables to add for the graph's node processes: the sensor-transport profile, and one
    OpenBLAS thread unless the user chose otherwise. The audio encoder's mel filterbank is a
    small matrix product; OpenBLAS's thread pool turned it from 0.15 ms into 6-12 ms a window
    on the 2-core development machine, and the nodes are single-threaded by design."""
    out = sensor_profile_env(env)
    if not env.get('OPENBLAS_NUM_THREADS'):
        out['OPENBLAS_NUM_THREADS'] = '1'
    return out


def use_sensor_profile(env: MutableMapping[str, str] = os.environ) -> Optional[str]:
    """Load the sensor-transport profile in this process (must run before ``rclpy.init``)
    and in the processes it starts, unless a profile is set already. Returns the file in
    effect, if any."""
    env.update(sensor_profile_env(env))
    return next((env[var] for var in PROFILE_VARIABLES.values() if env.get(var)), None)
