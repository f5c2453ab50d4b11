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

"""The layers of both wings point only down, and the runtime never reaches into the tools.

Runtime (hybrid_fusion_ros): ``core`` (ROS-free policy and models) < ``ros`` (conversions,
QoS, diagnostics, the graph, the launcher) < ``nodes`` < ``cli``. Tools (hybrid_fusion_tools):
``common`` < ``bags`` < ``data`` < ``training`` < ``evaluation`` < ``bench`` < ``cli``; any of
them may use the runtime's ``core`` and ``ros``, and the commands (``bench``, ``cli``) its
``cli`` framework. Every import counts, also one inside a function: a lazy import is still a
dependency. Sibling modules of one layer may use each other."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest

REPO = Path(__file__).resolve().parents[3]
RUNTIME = 'hybrid_fusion_ros'
TOOLS = 'hybrid_fusion_tools'
LAYERS = {
    RUNTIME: ['core', 'ros', 'nodes', 'cli'],
    TOOLS: ['common', 'bags', 'data', 'training', 'evaluation', 'bench', 'cli'],
}
# What each tools layer may use of the runtime.
RUNTIME_FOR_TOOLS = {'core', 'ros'}
RUNTIME_FOR_TOOL_COMMANDS = {'core', 'ros', 'cli'}
# Top-level modules of a package that belong to no layer (nothing but the package docstring).
NO_LAYER = {'__init__'}


def source_root(package: str) -> Path:
    return REPO / package / package


def modules(root: Path) -> Iterator[Tuple[str, Path, bool]]:
    """(dotted module name, file, is a package __init__) for every module under ``root``."""
    for path in sorted(root.rglob('*.py')):
        parts = list(path.relative_to(root.parent).with_suffix('').parts)
        is_init = parts[-1] == '__init__'
        if is_init:
            parts = parts[:-1]
        yield '.'.join(parts), path, is_init


def imported(module: str, path: Path, is_init: bool) -> Iterator[Tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    package = module.split('.') if is_init else module.split('.')[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ''
            yield node.lineno, target
            for alias in node.names:  # ``from pkg import module``
                yield node.lineno, f'{target}.{alias.name}'


def layer_of(module: str) -> Optional[Tuple[str, str]]:
    """(wing, layer) of a project module; None for anything else."""
    parts = module.split('.')
    if parts[0] not in LAYERS or len(parts) < 2:
        return None
    return parts[0], parts[1]


def problem(source: str, target: str) -> Optional[str]:
    """Why ``source`` may not import ``target``, or None."""
    src, dst = layer_of(source), layer_of(target)
    if src is None or dst is None or dst[1] in NO_LAYER:
        return None
    (src_wing, src_layer), (dst_wing, dst_layer) = src, dst
    for wing, layer in (src, dst):
        if layer not in LAYERS[wing] and layer not in NO_LAYER:
            return f'{wing}.{layer} is in no layer of {wing} ({", ".join(LAYERS[wing])})'
    if src_wing == RUNTIME and dst_wing == TOOLS:
        return 'the runtime imports the offline tools, which a robot does not install'
    if src_wing == TOOLS and dst_wing == RUNTIME:
        allowed = (
            RUNTIME_FOR_TOOL_COMMANDS if src_layer in ('bench', 'cli') else RUNTIME_FOR_TOOLS
        )
        if dst_layer not in allowed:
            return f"tools.{src_layer} uses the runtime's {dst_layer} (only {sorted(allowed)})"
        return None
    order = LAYERS[src_wing]
    if src_layer in NO_LAYER:
        return None
    if order.index(dst_layer) > order.index(src_layer):
        return f'{src_layer} imports {dst_layer}, a layer above it'
    return None


def violations(package: str) -> List[str]:
    found = []
    known = {name for name, _, _ in modules(source_root(package))}
    for name, path, is_init in modules(source_root(package)):
        for line, target in imported(name, path, is_init):
            if layer_of(target) and target.split('.')[0] == package and target not in known:
                # ``from pkg import name`` where name is not a module: judged by its package
                continue
            why = problem(name, target)
            if why:
                found.append(f'{path.relative_to(REPO)}:{line}: {target}: {why}')
    return found


@pytest.mark.parametrize('package', [RUNTIME, TOOLS])
def test_imports_point_only_down(package):
    found = violations(package)
    assert not found, '\n'.join(found)


@pytest.mark.parametrize('package', [RUNTIME, TOOLS])
def test_every_module_is_in_a_layer(package):
    stray = sorted(
        name
        for name, _, _ in modules(source_root(package))
        if name.count('.') == 1
        and name.split('.')[1] not in LAYERS[package]
        and name.split('.')[1] not in NO_LAYER
    )
    assert not stray, f'modules outside the layers of {package}: {stray}'


def test_the_runtime_core_imports_no_ros_at_module_level():
    # The core is tested without rclpy (the Python 3.10 lane): a ROS import inside a function is
    # fine (core/sync.py makes rclpy Times when rclpy is there), one at module level is not.
    found = []
    for name, path, _ in modules(source_root(RUNTIME) / 'core'):
        for node in ast.parse(path.read_text()).body:
            names: List[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or '']
            found += [
                f'{name}: {n}' for n in names if n.split('.')[0] == 'rclpy' or '_msgs' in n
            ]
    assert not found, found


def test_the_cache_folder_is_defined_once():
    # Where the cache lies is core/paths.py's to say: no other module spells it out.
    where: Dict[str, List[str]] = {}
    for package in LAYERS:
        for name, path, _ in modules(source_root(package)):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in ('XDG_CACHE_HOME', '.cache'):
                    where.setdefault(node.value, []).append(name)
    assert where == {
        'XDG_CACHE_HOME': [f'{RUNTIME}.core.paths'],
        '.cache': [f'{RUNTIME}.core.paths'],
    }, where


@pytest.mark.parametrize(
    'source, target, expected',
    [
        (f'{RUNTIME}.core.windows', f'{RUNTIME}.ros.qos', 'a layer above'),
        (f'{RUNTIME}.nodes.encoder_node', f'{TOOLS}.bags.bag', 'does not install'),
        (f'{TOOLS}.data.recordings', f'{TOOLS}.cli.demo', 'a layer above'),
        (f'{TOOLS}.data.recordings', f'{RUNTIME}.nodes.encoder_node', 'only'),
        (f'{TOOLS}.training.train', f'{RUNTIME}.cli', 'only'),
        (f'{TOOLS}.training.train', f'{TOOLS}.attic.old', 'no layer'),
        (f'{RUNTIME}.ros.graph', f'{RUNTIME}.core.checkpoint', None),
        (f'{TOOLS}.cli.demo', f'{RUNTIME}.cli', None),
        (f'{TOOLS}.evaluation.runner', f'{TOOLS}.data.plan', None),
        (f'{TOOLS}.data.plan', f'{TOOLS}.data.truth', None),
    ],
)
def test_the_check_tells_down_from_up(source, target, expected):
    why = problem(source, target)
    if expected is None:
        assert why is None, why
    else:
        assert why and expected in why, why
