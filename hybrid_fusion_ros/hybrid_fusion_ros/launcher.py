"""Starts the classifier graph as one process per node from the same YAML that
``ros2 launch hybrid_fusion_ros classifier.launch.py`` uses, for machines without
``ros2 launch`` (the ``launch`` package is not on PyPI)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .graph import CLASSIFIER_GRAPH, NodeSpec


def node_command(spec: NodeSpec, config: Path, overrides: Dict[str, str]) -> List[str]:
    cmd = [sys.executable, '-m', spec.module, '--ros-args', '-r', f'__node:={spec.name}',
           '--params-file', str(config)]
    for key, value in overrides.items():
        cmd += ['-p', f'{key}:={value}']
    return cmd


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
