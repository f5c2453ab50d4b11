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

"""What every node of the package shares: the startup error, parameters declared from the
core's tables with descriptors, the executor choice and ``run_node``, the body of each node's
``main``, the core runtimes' log and statuses on a node's logger and ``/diagnostics``."""

from __future__ import annotations

import functools
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, Iterable, List, Optional

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import ParameterDescriptor
import rclpy
from rclpy.exceptions import ParameterUninitializedException
from rclpy.executors import ExternalShutdownException
from rclpy.executors import MultiThreadedExecutor
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter

from . import diagnostics as diag
from ..core.health import Status
from ..core.parameters import EXECUTOR_PARAMETER
from ..core.parameters import INFERENCE_BACKENDS
from ..core.parameters import MODEL_NODE_PARAMETERS
from ..core.parameters import ParameterSpec


class StartupError(RuntimeError):
    """A configuration the node cannot start with; the message names what to fix."""


def describe(text: str, read_only: bool = False) -> ParameterDescriptor:
    return ParameterDescriptor(description=text, read_only=read_only)


def _declare(node: Node, table: Iterable[ParameterSpec]) -> None:
    for spec in table:
        default = Parameter.Type.STRING_ARRAY if spec.default is None else spec.default
        node.declare_parameter(spec.name, default, describe(spec.description, spec.read_only))


def declare_model_node_parameters(node: Node, table: Iterable[ParameterSpec]) -> None:
    """Declare the parameters of a node that runs a model, with their descriptors: its own
    (a core table, core/parameters.py), the inference backend's and the executor's."""
    _declare(node, (*table, *MODEL_NODE_PARAMETERS))


def parameter_values(node: Node, table: Iterable[ParameterSpec]) -> Dict[str, Any]:
    """The values of a table's parameters by name; None for one left unset."""
    out: Dict[str, Any] = {}
    for spec in table:
        try:
            out[spec.name] = node.get_parameter(spec.name).value
        except ParameterUninitializedException:
            out[spec.name] = None
    return out


class ThrottledLog:
    """A core runtime's ``log(level, cause, text)`` on a node's logger: a warning at most once
    per ``period`` seconds per cause (``''``: every time); info every time."""

    def __init__(self, logger: Any, period: float = 5.0) -> None:
        self.logger = logger
        self.period = period
        self._warned: Dict[str, float] = {}

    def __call__(self, level: str, cause: str, text: str) -> None:
        if level == 'info':
            self.logger.info(text)
            return
        if cause:
            now = time.monotonic()
            if now - self._warned.get(cause, -self.period) < self.period:
                return
            self._warned[cause] = now
        self.logger.warning(text)


def diagnostic_array(node: Node, statuses: Iterable[Status], stamp: Any = None) -> DiagnosticArray:
    """A core runtime's statuses as a ``/diagnostics`` message (stamped now unless ``stamp``
    is given), each task named ``<node>: <task>`` as diagnostic_updater names them."""
    name = node.get_name()
    return diag.array_msg(
        node.get_clock().now().to_msg() if stamp is None else stamp,
        [
            diag.status(f'{name}: {s.task}', s.hardware_id, s.level, s.message, s.values)
            for s in statuses
        ],
    )


# Measured on the dev machine (2 cores, rclpy 9.1.2, 100 Hz Imu): SingleThreadedExecutor
# spends 0.68 ms of CPU per message, MultiThreadedExecutor 34 ms and loses messages. The
# single-threaded executor is therefore the default; `executor: multi` remains available.
EXECUTORS = {
    'single': SingleThreadedExecutor,
    'multi': lambda: MultiThreadedExecutor(num_threads=2),
}


def declare_executor_parameter(node: Node) -> None:
    _declare(node, [EXECUTOR_PARAMETER])


try:
    from rclpy.exceptions import InvalidHandle
except ImportError:  # rclpy releases that keep it in the C extension only
    from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy_impl

    InvalidHandle = _rclpy_impl.InvalidHandle


def spin(executor, logger_name: str) -> int:
    """``executor.spin()`` that outlives rclpy's destroy-while-waiting race; returns how many
    times the spin had to be resumed.

    rclpy's executor puts a waitable (a publisher's or subscription's QoS event handler) into
    the wait set it builds even after another thread asked to destroy it, and the spin then
    ends with InvalidHandle (ros2/rclpy#1284). A lifecycle cleanup on a MultiThreadedExecutor
    worker, or a user's thread tearing down an entity, is enough. The entity has already left
    its node's lists by then, so the next wait set is built without it: the node says so and
    spins on.
    """
    resumed = 0
    while True:
        try:
            executor.spin()
            return resumed
        except InvalidHandle as exc:
            if not executor.context.ok():
                return resumed
            resumed += 1
            rclpy.logging.get_logger(logger_name).warning(
                f'executor met an entity destroyed while it built its wait set ({exc}); '
                f'spinning on ({resumed} time(s) so far)',
                throttle_duration_sec=10.0,
            )


def run_node(
    node_factory: Callable[[], Node], logger_name: str, args: Optional[List[str]] = None
) -> int:
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
            spin(executor, logger_name)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            executor.shutdown()
            node.destroy_node()
        return 0
    finally:
        rclpy.try_shutdown()


def backend_choice(node: Node) -> str:
    backend = node.get_parameter('inference_backend').value
    if backend not in INFERENCE_BACKENDS:
        raise StartupError(
            f"inference_backend must be one of {list(INFERENCE_BACKENDS)}, got '{backend}'"
        )
    return backend


def backend_line(backend: str) -> str:
    """How a node names its backend in its start-up line; with onnxruntime it also says
    whether torch got into the process after all (it must not)."""
    if backend == 'torch':
        return 'torch backend'
    return f"onnxruntime backend (torch imported: {'yes' if 'torch' in sys.modules else 'no'})"


def onnx_options(node: Node) -> dict:
    """Keyword arguments of core/onnx_backend.py's loaders, from the node's parameters."""
    get = lambda name: node.get_parameter(name).value  # noqa: E731 - local shorthand
    return {
        'providers': list(get('onnx_providers')) or None,
        'onnx_dir': get('onnx_dir') or None,
        'export_if_missing': bool(get('onnx_export')),
    }


class InternalErrors:
    """The last-resort guard of a node's callbacks, timers and parameter callbacks.

    An exception that escapes a callback kills an rclpy executor and with it the node. Every
    callback a node registers is wrapped with :meth:`guard`: an unexpected exception is
    counted (``count``, reported as ``internal_error`` in /diagnostics), its traceback is
    logged at most once per ``log_period`` seconds per callback, and the node goes on.
    Expected bad input is still handled where it is validated; this is only the backstop.
    """

    def __init__(self, node: Node, log_period: float = 10.0) -> None:
        self.node = node
        self.log_period = log_period
        self.count = 0
        self.by_callback: dict = {}
        self._lock = threading.Lock()

    def guard(
        self,
        fn: Callable[..., Any],
        what: str,
        on_error: Optional[Callable[[BaseException], Any]] = None,
    ) -> Callable[..., Any]:
        """``fn`` wrapped; ``on_error(exc)`` gives the return value after an error (None if not
        set)."""

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - the backstop: nothing may kill the node
                self.record(what)
                return on_error(exc) if on_error is not None else None

        return guarded

    def record(self, what: str) -> None:
        """Count an exception caught in ``what`` and log its traceback (call it from the
        ``except`` block: an async callback, which :meth:`guard` cannot wrap, does)."""
        with self._lock:
            self.count += 1
            self.by_callback[what] = self.by_callback.get(what, 0) + 1
        self.node.get_logger().error(
            f'internal error in {what} (the node goes on; counted as internal_error):\n'
            f'{traceback.format_exc()}',
            throttle_duration_sec=self.log_period,
        )


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
            spin(self.executor, self.node.get_name())
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
