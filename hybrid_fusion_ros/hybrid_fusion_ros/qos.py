"""QoS profiles, chosen on purpose and named (REP-2003)."""
from __future__ import annotations

from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy,
                       qos_profile_sensor_data)

# Raw sensor streams: best effort, keep last 5 (REP-2003 SensorDataQoS). A late sample is
# worthless, and a reliable subscriber would make a fast sensor wait on a slow node.
SENSOR_QOS: QoSProfile = qos_profile_sensor_data

# What a sensor driver publishes with (REP-2003: drivers publish reliable, the system default,
# and each subscriber chooses): the replayers use it, so reliable subscribers such as RViz see
# the stream, and best-effort ones (the encoders) still match.
DRIVER_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=50, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.VOLATILE)


def sensor_qos(depth: int, reliable: bool = False) -> QoSProfile:
    """SensorDataQoS with another queue depth (a 100 Hz IMU needs more than 5). ``reliable``
    is for offline replay, where the replayer may outrun a node and nothing may be lost."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max(1, depth),
                      reliability=ReliabilityPolicy.RELIABLE if reliable else SENSOR_QOS.reliability,
                      durability=SENSOR_QOS.durability)


# Features and labels: reliable, keep last 10. They are few per second and each one is a
# window's worth of evidence; losing one would leave a gap in the label stream.
RESULT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                        reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)

# /diagnostics, as diagnostic_updater publishes it.
DIAGNOSTICS_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                             reliability=ReliabilityPolicy.RELIABLE)
