"""What every node of the package shares: the startup error, parameter descriptors, the
executor choice and ``run_node``, the body of each node's ``main``."""
from __future__ import annotations

import threading
from typing import Callable, List, Optional

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node


class StartupError(RuntimeError):
    """A configuration the node cannot start with; the message names what to fix."""


def describe(text: str, read_only: bool = False) -> ParameterDescriptor:
    return ParameterDescriptor(description=text, read_only=read_only)


# Measured on the dev machine (2 cores, rclpy 9.1.2, 100 Hz Imu): SingleThreadedExecutor
# spends 0.68 ms of CPU per message, MultiThreadedExecutor 34 ms and loses messages. The
# single-threaded executor is therefore the default; `executor: multi` remains available.
EXECUTORS = {'single': SingleThreadedExecutor, 'multi': lambda: MultiThreadedExecutor(num_threads=2)}


def declare_executor_parameter(node: Node) -> None:
    node.declare_parameter('executor', 'single', describe(
        "executor spinning this node: 'single' (SingleThreadedExecutor, default, cheapest per "
        "message) or 'multi' (MultiThreadedExecutor with 2 threads)", True))


def run_node(node_factory: Callable[[], Node], logger_name: str, args: Optional[List[str]] = None) -> int:
    """Start a node and spin it; exit 1 with one line on a startup error."""
    rclpy.init(args=args)
    try:
        try:
            node = node_factory()
            kind = node.get_parameter('executor').value
            if kind not in EXECUTORS:
                raise StartupError(f"executor '{kind}' is not one of {sorted(EXECUTORS)}")
        except StartupError as exc:
            rclpy.logging.get_logger(logger_name).fatal(f'cannot start: {exc}')
            return 1
        executor = EXECUTORS[kind]()
        executor.add_node(node)
        try:
            executor.spin()
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            executor.shutdown()
            node.destroy_node()
        return 0
    finally:
        rclpy.try_shutdown()




class BackgroundSpin:
    """A helper node of a command-line tool (demo, eval), spun by a SingleThreadedExecutor
    on a background thread while the tool's main thread does its work.

    ``close`` stops the executor, *joins* its thread, destroys the node and shuts the context
    down, in that order: a thread still inside the executor's wait when the interpreter
    exits makes the process abort with "terminate called without an active exception"
    (ros2/rclpy#1484), which is what a daemon thread left spinning did to the demo in CI.
    """

    def __init__(self, name: str) -> None:
        rclpy.init(args=[])  # the tool's own command line is not for ROS
        self.node = rclpy.create_node(name)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, name=f'{name}-spin')
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=10.0)
        self._thread.join(timeout=10.0)
        self.node.destroy_node()
        rclpy.try_shutdown()

    def __enter__(self) -> 'BackgroundSpin':
        return self

    def __exit__(self, *exc) -> None:
        self.close()
