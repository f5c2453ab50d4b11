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

"""Starts the classifier graph as one process per node, or every node in one process
(``graph_container``), from the same YAML that ``ros2 launch hybrid_fusion_ros
classifier.launch.py`` uses, for machines without ``ros2 launch`` (the ``launch`` package is
not on PyPI). The processes load the package's Fast DDS sensor-transport profile unless the
user set a profile of their own (``qos.node_process_env``)."""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from .graph import config_backend
from .graph import config_checkpoint
from .graph import graph_for_checkpoint
from .graph import NodeSpec

CONTAINER = 'graph_container'  # the one process of single-process mode, in ``processes``


def overrides_file(spec: NodeSpec, overrides: Dict[str, str], folder: Path) -> Path:
    """The node's command-line parameters as a parameter file of their own, keyed like the
    node's block in the YAML (``/**/<node>``). rcl merges parameter sources by key, in the order
    each key first appears: a ``-p`` value lands in the ``/**`` entry, which a YAML that opens with
    a ``/**`` block puts *before* its ``/**/<node>`` blocks, so the YAML would win over ``-p``.
    The same key in a later file always wins."""
    import yaml

    values = {
        k: yaml.safe_load(v) if isinstance(v, str) else v  # typed as rcl types -p values
        for k, v in {**dict(spec.parameters), **overrides}.items()
    }
    path = folder / f'{spec.name}.overrides.yaml'
    path.write_text(yaml.safe_dump({f'/**/{spec.name}': {'ros__parameters': values}}))
    return path


def node_command(
    spec: NodeSpec, config: Path, overrides: Dict[str, str], folder: Path
) -> List[str]:
    return [
        sys.executable,
        '-m',
        spec.module,
        '--ros-args',
        '-r',
        f'__node:={spec.name}',
        '--params-file',
        str(config),
        '--params-file',
        str(overrides_file(spec, overrides, folder)),
    ]


def container_command(
    graph: Sequence[NodeSpec], config: Path, overrides: Dict[str, Dict[str, str]], folder: Path
) -> List[str]:
    """One ``graph_container`` process for the whole graph. Every node's overrides file goes
    to every node: each file holds one node's block (``/**/<node>``), which only that node
    takes, so each node gets the same parameters as in a process of its own."""
    files = [str(overrides_file(spec, overrides.get(spec.name, {}), folder)) for spec in graph]
    return [
        sys.executable,
        '-m',
        'hybrid_fusion_ros.nodes.container',
        '--nodes',
        ','.join(spec.name for spec in graph),
        '--ros-args',
        '--params-file',
        str(config),
        *[a for f in files for a in ('--params-file', f)],
    ]


class GraphStartError(RuntimeError):
    """The graph did not come up: a node process exited, or a condition timed out."""


class GraphProcess:
    """The running graph: ``start``, ``alive``, ``stop`` (SIGINT, then SIGTERM)."""

    def __init__(
        self,
        config: Path,
        overrides: Optional[Dict[str, str]] = None,
        graph: Optional[Sequence[NodeSpec]] = None,
        quiet: bool = False,
        node_overrides: Optional[Dict[str, Dict[str, str]]] = None,
        single_process: bool = False,
    ) -> None:
        """``overrides`` apply to every node (e.g. use_sim_time), ``node_overrides`` to one
        node by name (e.g. ``{'fusion_node': {'fusion_mode': 'late'}}``). ``graph`` defaults to
        the graph of the checkpoint the parameter file names. ``single_process`` runs every
        node in one ``graph_container`` process, on one executor."""
        if not Path(config).is_file():
            raise FileNotFoundError(f'parameter file {config}: no such file')
        self.config = Path(config)
        self.overrides = dict(overrides or {})
        self.node_overrides = dict(node_overrides or {})
        if graph is None:
            graph = graph_for_checkpoint(
                config_checkpoint(config),
                self.overrides.get('inference_backend') or config_backend(config),
            )
        unknown = sorted(set(self.node_overrides) - {spec.name for spec in graph})
        if unknown:
            raise ValueError(
                f'overrides for unknown node(s) {unknown}; the graph has {[s.name for s in graph]}'
            )
        self.graph = graph
        self.quiet = quiet
        self.single_process = single_process
        self.processes: Dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        import tempfile

        from .qos import node_process_env

        env = dict(os.environ, PYTHONUNBUFFERED='1', **node_process_env(os.environ))
        out = subprocess.DEVNULL if self.quiet else None
        self._folder = tempfile.TemporaryDirectory(prefix='hybrid_fusion_graph_')
        if self.single_process:
            overrides = {
                spec.name: {**self.overrides, **self.node_overrides.get(spec.name, {})}
                for spec in self.graph
            }
            self.processes[CONTAINER] = subprocess.Popen(
                container_command(self.graph, self.config, overrides, Path(self._folder.name)),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT if self.quiet else None,
            )
            return
        for spec in self.graph:
            self.processes[spec.name] = subprocess.Popen(
                node_command(
                    spec,
                    self.config,
                    {**self.overrides, **self.node_overrides.get(spec.name, {})},
                    Path(self._folder.name),
                ),
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT if self.quiet else None,
            )

    def exited(self) -> Dict[str, int]:
        """Nodes whose process has ended, with exit codes."""
        return {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}

    def wait_for(
        self, condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.05
    ) -> None:
        """Wait until ``condition()`` holds; GraphStartError as soon as a node process has
        exited, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.exited():
                raise GraphStartError(
                    f'node process(es) exited while waiting for {what}: {self.exited()}'
                )
            if time.monotonic() > deadline:
                raise GraphStartError(f'timed out after {timeout:.0f}s waiting for {what}')
            time.sleep(poll)

    def stop(self, timeout: float = 10.0) -> None:
        for p in self.processes.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in self.processes.values():
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:  # stuck in shutdown: the last resort
                    p.kill()
                    p.wait(timeout=5)
        folder = getattr(self, '_folder', None)
        if folder is not None:
            folder.cleanup()

    def __enter__(self) -> 'GraphProcess':
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
