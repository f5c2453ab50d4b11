"""Starts the classifier graph as one process per node from the same YAML that
``ros2 launch hybrid_fusion_ros classifier.launch.py`` uses, for machines without
``ros2 launch`` (the ``launch`` package is not on PyPI)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from .graph import CLASSIFIER_GRAPH, NodeSpec


def node_command(spec: NodeSpec, config: Path, overrides: Dict[str, str]) -> List[str]:
    cmd = [sys.executable, '-m', spec.module, '--ros-args', '-r', f'__node:={spec.name}',
           '--params-file', str(config)]
    for key, value in overrides.items():
        cmd += ['-p', f'{key}:={value}']
    return cmd


class GraphStartError(RuntimeError):
    """The graph did not come up: a node process exited, or a condition timed out."""


class GraphProcess:
    """The running graph: ``start``, ``alive``, ``stop`` (SIGINT, then SIGTERM)."""

    def __init__(self, config: Path, overrides: Optional[Dict[str, str]] = None,
                 graph: Sequence[NodeSpec] = CLASSIFIER_GRAPH, quiet: bool = False,
                 node_overrides: Optional[Dict[str, Dict[str, str]]] = None) -> None:
        """``overrides`` apply to every node (e.g. use_sim_time), ``node_overrides`` to one
        node by name (e.g. ``{'fusion_node': {'fusion_mode': 'late'}}``)."""
        if not Path(config).is_file():
            raise FileNotFoundError(f'parameter file {config}: no such file')
        self.config = Path(config)
        self.overrides = dict(overrides or {})
        self.node_overrides = dict(node_overrides or {})
        unknown = sorted(set(self.node_overrides) - {spec.name for spec in graph})
        if unknown:
            raise ValueError(f'overrides for unknown node(s) {unknown}; the graph has {[s.name for s in graph]}')
        self.graph = graph
        self.quiet = quiet
        self.processes: Dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED='1')
        out = subprocess.DEVNULL if self.quiet else None
        for spec in self.graph:
            self.processes[spec.name] = subprocess.Popen(
                node_command(spec, self.config, {**self.overrides, **self.node_overrides.get(spec.name, {})}),
                env=env, stdout=out,
                stderr=subprocess.STDOUT if self.quiet else None)

    def exited(self) -> Dict[str, int]:
        """Nodes whose process has ended, with exit codes."""
        return {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> None:
        """Wait until ``condition()`` holds; GraphStartError as soon as a node process has
        exited, or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if self.exited():
                raise GraphStartError(f'node process(es) exited while waiting for {what}: {self.exited()}')
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
                p.wait(timeout=5)

    def __enter__(self) -> 'GraphProcess':
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
