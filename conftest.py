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

"""The tests of both packages (hybrid_fusion_ros/test, hybrid_fusion_tools/test) share this:
a private rclpy context per ROS test, an executor spinning in the background, waiting on
conditions (not sleeps), small generated data, and the markers of each test's kind.

A test's folder is its kind and marker (``unit``, ``ros``, ``system``, ``lint``); a test that uses
the ``ros`` fixture is marked ``ros`` as well, wherever it lies. CI's lanes select by marker.

Nothing ROS is imported at module level: the unit tests also run where no rclpy is installed,
as CI's Python 3.10 lane does. There, with ``HF_WITHOUT_ROS=1``, a test whose own code imports a
ROS module (an rclpy ``Time`` as a stamp, say) is reported as skipped; an import of ROS from the
package itself still fails. That lane has no torch either: with ``HF_WITHOUT_TORCH=1``, a test
that needs torch, directly or through the package, is reported as skipped, and so is a test
module that cannot be imported without it."""

from __future__ import annotations

import os
from pathlib import Path
import random
import re
import threading
import time
from typing import Callable, Iterator
import uuid

import pytest

# A DDS domain of our own, so a demo running on the same machine does not talk to the tests.
os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(100, 200)))
# Under pytest-xdist (./scripts/test.sh runs a worker per core), each worker of a run gets a
# domain of its own, so that one worker's graph never sees another's. Four apart: `eval --jobs N`
# runs its extra graphs on the domains after its own (evaluation/lanes.py), which must not be a
# sibling worker's.
_WORKER = os.environ.get('PYTEST_XDIST_WORKER', '')
if _WORKER.startswith('gw'):
    _RUN = os.environ.get('PYTEST_XDIST_TESTRUNUID', '') or str(os.getppid())
    # Below 101: Fast DDS's ports for higher domains reach into Linux's ephemeral port range.
    _BASE = 20 + random.Random(_RUN).randint(0, 40)
    os.environ['ROS_DOMAIN_ID'] = str(_BASE + 4 * (int(_WORKER[2:]) % 10))
    # A worker per core: torch's own thread pool on top of that oversubscribes the cores, and
    # OpenMP's spinning threads then slow training down many times over.
    os.environ.setdefault('OMP_NUM_THREADS', '1')
# Discovery on this host only: ROS_AUTOMATIC_DISCOVERY_RANGE from Iron on, ROS_LOCALHOST_ONLY on
# Humble, which has no discovery range. Later distros still honour ROS_LOCALHOST_ONLY=1 but warn
# on every rcl init that it is deprecated and overrides the range (rcl/src/rcl/init.c), so it is
# set only where ROS_DISTRO says Humble.
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
if os.environ.get('ROS_DISTRO', '').lower() == 'humble':
    os.environ.setdefault('ROS_LOCALHOST_ONLY', '1')


# Top-level Python packages that only a ROS install (apt or the PyPI wheels) provides.
ROS_MODULES = frozenset(
    {
        'rclpy',
        'builtin_interfaces',
        'std_msgs',
        'sensor_msgs',
        'diagnostic_msgs',
        'rosgraph_msgs',
        'lifecycle_msgs',
        'std_srvs',
        'rcl_interfaces',
        'ament_index_python',
        'hybrid_fusion_msgs',
    }
)
REPO = Path(__file__).resolve().parent
KINDS = ('unit', 'ros', 'system', 'lint')


def _is_test_file(path: Path) -> bool:
    return 'test' in path.relative_to(REPO).parts[:2] if REPO in path.parents else False


def _missing_in_this_lane(excinfo) -> str | None:
    """What a test failed on that this lane leaves out on purpose, or None: a ROS module the
    test's own code imports (HF_WITHOUT_ROS=1; the failing import statement must be in a test
    file, not in the package under test), or torch, imported from anywhere (HF_WITHOUT_TORCH=1)."""
    if not excinfo.errisinstance(ModuleNotFoundError):
        return None
    name = (excinfo.value.name or '').split('.')[0]
    if name == 'torch' and os.environ.get('HF_WITHOUT_TORCH') == '1':
        return 'torch (HF_WITHOUT_TORCH=1)'
    if name in ROS_MODULES and os.environ.get('HF_WITHOUT_ROS') == '1':
        importer = Path(str(excinfo.traceback[-1].path)).resolve()
        if _is_test_file(importer):
            return f'{name} (HF_WITHOUT_ROS=1)'
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        parts = Path(str(item.path)).resolve().relative_to(REPO).parts
        kind = parts[2] if len(parts) > 3 and parts[1] == 'test' else None
        if kind in KINDS:
            item.add_marker(kind)
        if kind != 'ros' and 'ros' in getattr(item, 'fixturenames', ()):
            item.add_marker('ros')


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    # A test module that cannot even be imported without what this lane leaves out (torch at
    # its top, say) is skipped as a whole, with the reason, instead of failing collection.
    outcome = yield
    report = outcome.get_result()
    if not (report.failed and isinstance(collector, pytest.Module)):
        return
    found = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", str(report.longrepr))
    name = found.group(1).split('.')[0] if found else ''
    lane = {'torch': 'HF_WITHOUT_TORCH', **dict.fromkeys(ROS_MODULES, 'HF_WITHOUT_ROS')}
    if name in lane and os.environ.get(lane[name]) == '1':
        report.outcome = 'skipped'
        report.longrepr = (str(collector.path), 0, f'Skipped: needs {name} ({lane[name]}=1)')
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if call.excinfo is None:
        return
    missing = _missing_in_this_lane(call.excinfo)
    if missing is not None:
        report = outcome.get_result()
        entry = call.excinfo.traceback[-1]
        report.outcome = 'skipped'
        report.longrepr = (str(entry.path), entry.lineno + 1, f'Skipped: needs {missing}')


def wait_until(
    condition: Callable[[], bool], timeout: float = 20.0, what: str = 'condition'
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout}s waiting for {what}')
        time.sleep(0.02)


class RosHarness:
    """Nodes added here spin on one SingleThreadedExecutor in a background thread."""

    def __init__(self, context) -> None:
        from rclpy.executors import SingleThreadedExecutor

        self.context = context
        self.executor = SingleThreadedExecutor(context=context)
        self.namespace = '/t' + uuid.uuid4().hex[:8]
        self.nodes = []
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._started = False

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def add(self, node):
        self.nodes.append(node)
        self.executor.add_node(node)
        if not self._started:
            self._started = True
            self._thread.start()
        return node

    def on_executor(self, fn: Callable[[], object], timeout: float = 10.0) -> object:
        """Run ``fn`` on the spinning thread and return its result.

        Destroy publishers and subscriptions through this while the executor spins: rclpy's
        executor keeps a waitable (their QoS event handlers) whose destruction another thread
        requested in the wait set it is building, and raises InvalidHandle, which ends the spin
        (ros2/rclpy#1284). On the executor's own thread no wait set is being built.
        """
        if not self._started:
            return fn()
        task = self.executor.create_task(fn)
        wait_until(task.done, timeout=timeout, what=f'{fn!r} on the executor')
        return task.result()

    def node(self, name: str):
        import rclpy

        return self.add(rclpy.create_node(name, namespace=self.namespace, context=self.context))

    def kwargs(self, **params):
        """Keyword arguments for a node of ours: this test's context and namespace, and
        parameter overrides."""
        from rclpy.parameter import Parameter

        return {
            'context': self.context,
            'namespace': self.namespace,
            'parameter_overrides': [Parameter(k, value=v) for k, v in params.items()],
        }

    def close(self) -> None:
        # Stop spinning and let the current callback finish before any node is destroyed.
        self.executor.shutdown(timeout_sec=5)
        if self._started:
            self._thread.join(timeout=5)
        for n in self.nodes:
            n.destroy_node()


@pytest.fixture
def ros() -> Iterator[RosHarness]:
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context)
    harness = RosHarness(context)
    try:
        yield harness
    finally:
        harness.close()
        context.try_shutdown()


@pytest.fixture(scope='session')
def default_checkpoint():
    from hybrid_fusion_ros.core.checkpoint import Checkpoint

    return Checkpoint.load()


@pytest.fixture(scope='session', autouse=True)
def private_cache(tmp_path_factory) -> Iterator[Path]:
    """The project's cache (exported ONNX bundles, dataset windows, generated bags) in a
    folder of this session's own: tests never read what an earlier run left in ~/.cache, and
    two workers never write one bundle at once. Node processes inherit it."""
    folder = tmp_path_factory.mktemp('cache')
    before = os.environ.get('XDG_CACHE_HOME')
    os.environ['XDG_CACHE_HOME'] = str(folder)
    yield folder
    if before is None:
        os.environ.pop('XDG_CACHE_HOME', None)
    else:
        os.environ['XDG_CACHE_HOME'] = before


@pytest.fixture(scope='session')
def demo_bag(tmp_path_factory) -> Path:
    """A 20 s simulated bag (MCAP), written once per test session."""
    from hybrid_fusion_tools.data.demo_data import generate_bag

    return generate_bag(tmp_path_factory.mktemp('bags') / 'demo20', seconds=20.0, seed=11)
