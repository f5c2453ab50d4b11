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

"""A disk that fills while ``teach`` records a take: the take stops (at the failed write, or
at the close for what the writer still held) with a message that says so, nothing crashes,
and the folder it was writing stays. The full disk is a real one as far
as the process can tell: a child process whose file-size limit (RLIMIT_FSIZE) is reached gets
the same failed writes (EFBIG) a full disk gives (ENOSPC), from the kernel."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import json, resource, signal, sys, threading, time
    from pathlib import Path

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Imu

    from hybrid_fusion_ros.ros.qos import sensor_qos
    from hybrid_fusion_tools.bags.record import TakeRecorder

    out, limit = Path(sys.argv[1]), int(sys.argv[2])
    rclpy.init()
    node = rclpy.create_node('take_disk_full')
    pub = node.create_publisher(Imu, '/disk_full/imu', 50)
    recorder = TakeRecorder(node, {'/disk_full/imu': 'sensor_msgs/msg/Imu'}, sensor_qos(200))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)

    spinner = threading.Thread(target=spin)
    spinner.start()

    def publish():
        while not stop.is_set():
            msg = Imu()
            msg.header.stamp = node.get_clock().now().to_msg()
            pub.publish(msg)
            time.sleep(0.001)

    publisher = threading.Thread(target=publish)
    publisher.start()
    time.sleep(1.0)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    take = recorder.record(out / 'take_01', 4.0, 'disk full test')
    stop.set()
    spinner.join()
    publisher.join()
    print(json.dumps({'error': take.error, 'counts': take.counts,
                      'seconds': take.seconds, 'first': take.first_log_time}))
    recorder.close()
    executor.shutdown()
    node.destroy_node()
    rclpy.try_shutdown()
    """
)


def test_a_disk_that_fills_stops_the_take_says_why_and_keeps_the_folder(tmp_path):
    proc = subprocess.run(
        [sys.executable, '-c', CHILD, str(tmp_path), '200000'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    take = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 'failed' in take['error'] and 'too large' in take['error'].lower(), take
    # The bag writer buffers a chunk: the failure comes on a chunk's write or on the close.
    assert take['seconds'] < 4.5
    assert take['counts']['/disk_full/imu'] > 0
    assert (tmp_path / 'take_01').is_dir()
