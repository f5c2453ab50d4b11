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

"""The robot install leaves apt's Python alone, and the nodes it builds import the venv's torch.

* requirements/robot.txt (what pip adds on Humble or Jazzy from apt for the runtime) resolves for
  Humble's Python 3.10 with its numpy 1.21 and for Jazzy's Python 3.12 with its numpy 1.26, names
  nothing apt provides and pulls none of the offline tools' packages; with requirements/tools.txt
  (a workstation) the same holds and rosbags comes in. pip resolves from PyPI, as on the robot.
* The console scripts of the install in use have a shebang whose interpreter imports torch.
* scripts/setup.sh with a ROS 2 sourced writes the venv's python into those shebangs, not the
  interpreter of the system's ``colcon`` (apt's /usr/bin/python3, which cannot import the venv's
  torch, so ``ros2 run`` and ``ros2 launch`` would fail).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import sysconfig

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest

PKG = Path(__file__).resolve().parents[2]
REPO = PKG.parent
ROBOT = REPO / 'requirements' / 'robot.txt'
TOOLS = REPO / 'requirements' / 'tools.txt'
# The offline tools' Python packages: a robot's install of the runtime pulls none of them.
TOOLS_ONLY = {'scikit-learn', 'matplotlib', 'tqdm', 'rosbags', 'aeon', 'seglearn'}

# (distro, its Python, apt's numpy there, its glibc: the newest manylinux tag its pip accepts)
APT_PYTHONS = [
    ('humble', '3.10', '1.21.5', 35),  # Ubuntu 22.04: python3-numpy 1:1.21.5
    ('jazzy', '3.12', '1.26.4', 39),  # Ubuntu 24.04: python3-numpy 1:1.26.4
]
# PyPI names of what the package's rosdep keys bring from apt (python3-numpy, python3-opencv, ...).
FROM_APT = {
    'numpy',
    'opencv-python',
    'opencv-python-headless',
    'opencv-contrib-python',
    'opencv-contrib-python-headless',
    'pyyaml',
    'matplotlib',
    'tqdm',
    'scikit-learn',
    'torch',
}


def _resolve(requirements, python: str, numpy: str, glibc_minor: int, tmp_path: Path):
    """pip's resolution of the ``requirements`` files plus ``numpy==<numpy>`` for a Linux x86_64
    machine with that Python and glibc, binary wheels only: (exit code, {name: version}, pip's
    output)."""
    platforms = [
        arg
        for minor in range(17, glibc_minor + 1)
        for arg in ('--platform', f'manylinux_2_{minor}_x86_64')
    ]
    report = tmp_path / f'report-{python}.json'
    cmd = [
        sys.executable,
        '-m',
        'pip',
        'install',
        '--dry-run',
        '--ignore-installed',
        '--target',
        str(tmp_path / 'target'),
        '--only-binary=:all:',
        '--python-version',
        python,
        *platforms,
        '--report',
        str(report),
        '--disable-pip-version-check',
        *(arg for path in requirements for arg in ('-r', str(path))),
        f'numpy=={numpy}',
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    resolved = {}
    if out.returncode == 0:
        for item in json.loads(report.read_text())['install']:
            resolved[canonicalize_name(item['metadata']['name'])] = item['metadata']['version']
    return out.returncode, resolved, out.stdout + out.stderr


def test_pip_resolves_for_another_python():
    # pip before 24.3 checks Requires-Python against the running interpreter in a dry run for
    # another Python, and refuses numpy 1.21 on 3.11; scripts/setup.sh installs a newer one.
    from pip import __version__

    assert tuple(int(p) for p in __version__.split('.')[:2]) >= (24, 3), __version__


@pytest.mark.parametrize(
    'distro, python, numpy, glibc_minor', APT_PYTHONS, ids=[d[0] for d in APT_PYTHONS]
)
def test_robot_requirements_keep_apts_numpy(tmp_path, distro, python, numpy, glibc_minor):
    rc, resolved, output = _resolve([ROBOT], python, numpy, glibc_minor, tmp_path)
    assert (
        rc == 0
    ), f"requirements/robot.txt does not install beside {distro}'s numpy {numpy}:\n{output}"
    assert resolved['numpy'] == numpy
    assert not FROM_APT & (set(resolved) - {'numpy'}), resolved
    assert not TOOLS_ONLY & set(resolved), TOOLS_ONLY & set(resolved)


@pytest.mark.parametrize(
    'distro, python, numpy, glibc_minor', APT_PYTHONS, ids=[d[0] for d in APT_PYTHONS]
)
def test_workstation_requirements_keep_apts_numpy(tmp_path, distro, python, numpy, glibc_minor):
    # A workstation with ROS from apt: the robot's set plus the tools' (scripts/setup.sh).
    rc, resolved, output = _resolve([ROBOT, TOOLS], python, numpy, glibc_minor, tmp_path)
    assert rc == 0, f"requirements/tools.txt does not install beside {distro}'s numpy:\n{output}"
    assert resolved['numpy'] == numpy
    assert 'rosbags' in resolved
    assert not FROM_APT & (set(resolved) - {'numpy'}), resolved


def test_the_resolution_refuses_a_set_that_needs_numpy_2(tmp_path):
    # The failure this guards against: opencv-python-headless 4.12 requires numpy >= 2.
    pulls_numpy_2 = tmp_path / 'numpy2.txt'
    pulls_numpy_2.write_text('opencv-python-headless==4.12.0.88\n')
    rc, _, output = _resolve([pulls_numpy_2], '3.10', '1.21.5', 35, tmp_path)
    assert rc != 0 and 'numpy' in output


def _names(requirements: Path) -> set:
    names = set()
    for line in requirements.read_text().splitlines():
        line = line.split('#')[0].strip()
        if line:
            names.add(canonicalize_name(Requirement(line).name))
    return names


def test_robot_and_tools_requirements_name_nothing_apt_provides():
    robot, tools = _names(ROBOT), _names(TOOLS)
    assert not robot & (FROM_APT | TOOLS_ONLY), robot
    assert tools and not tools & FROM_APT, tools & FROM_APT


# --- console scripts' shebangs ----------------------------------------------------------------


def _entry_scripts(install_prefix: Path) -> list:
    folder = install_prefix / 'lib' / 'hybrid_fusion_ros'
    scripts = sorted(p for p in folder.iterdir() if p.is_file() and p.read_bytes()[:2] == b'#!')
    assert {'encoder_node', 'fusion_node', 'hybrid-fusion'} <= {p.name for p in scripts}, folder
    return scripts


def _interpreter(script: Path) -> str:
    return script.read_text().splitlines()[0][2:].strip().split()[0]


def _imports_torch(interpreter: str, env=None) -> bool:
    return (
        subprocess.run(
            [interpreter, '-c', 'import torch'], env=env, capture_output=True, timeout=120
        ).returncode
        == 0
    )


def test_console_scripts_in_use_run_an_interpreter_that_imports_torch():
    from ament_index_python.packages import get_package_prefix

    scripts = _entry_scripts(Path(get_package_prefix('hybrid_fusion_ros')))
    for interpreter in sorted({_interpreter(s) for s in scripts}):
        users = [s.name for s in scripts if _interpreter(s) == interpreter]
        assert _imports_torch(interpreter), f'{users}: #!{interpreter} cannot import torch'


def _sourced_ros_environment(tmp_path: Path) -> dict:
    """This test run's ROS made to look like a sourced ROS 2 from apt: ROS_DISTRO set, the ROS
    Python packages (and colcon) reached through PYTHONPATH, its libraries through
    LD_LIBRARY_PATH, the ament prefix through AMENT_PREFIX_PATH, and a ``colcon`` on PATH run by
    the base interpreter, as apt's /usr/bin/colcon is run by /usr/bin/python3. No venv is
    active."""
    ros_prefix = Path(sys.prefix)
    system_python = Path(getattr(sys, '_base_executable', sys.executable))
    assert ros_prefix != Path(
        sys.base_prefix
    ), 'expected to run from the venv scripts/setup.sh made'
    fake_bin = tmp_path / 'usr-bin'
    fake_bin.mkdir()
    colcon = fake_bin / 'colcon'
    colcon.write_text(
        f'#!{system_python}\nimport sys\nfrom colcon_core.command import main\nsys.exit(main())\n'
    )
    colcon.chmod(0o755)
    keep_path = [
        p
        for p in os.environ['PATH'].split(os.pathsep)
        if p and not Path(p).resolve().is_relative_to(REPO) and Path(p) != ros_prefix / 'bin'
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(('HF_', 'COLCON_', 'AMENT_', 'CMAKE_', 'PYTHON', 'VIRTUAL_ENV'))
        and k not in ('ROS_DISTRO', 'LD_LIBRARY_PATH')
    }
    # ROS's setup.bash puts <prefix>/lib on the library path; the PyPI wheels keep more libraries
    # in site-packages/ros_*.libs (their bootstrap .pth adds both, but only for its own venv).
    purelib = Path(sysconfig.get_paths()['purelib'])
    libs = [ros_prefix / 'lib', *sorted(purelib.glob('ros_*.libs'))]
    env.update(
        {
            'LD_LIBRARY_PATH': os.pathsep.join(map(str, libs)),
            'ROS_DISTRO': 'kilted' if int(_version('ros-rclpy').split('.')[0]) >= 9 else 'jazzy',
            'PYTHONPATH': str(purelib),
            'AMENT_PREFIX_PATH': str(ros_prefix),
            'CMAKE_PREFIX_PATH': str(ros_prefix),
            'PATH': os.pathsep.join([str(fake_bin), *keep_path]),
            'HF_PYTHON': str(system_python),
            'HF_VENV': str(tmp_path / 'venv'),
            'HF_BUILD_BASE': str(tmp_path / 'build'),
            'HF_INSTALL_BASE': str(tmp_path / 'install'),
            'HF_LOG_BASE': str(tmp_path / 'log'),
        }
    )
    return env


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


@pytest.mark.slow
def test_setup_with_ros_sourced_writes_the_venvs_python_into_the_shebangs(tmp_path):
    if shutil.which('cmake') is None:
        pytest.fail('cmake is needed to build hybrid_fusion_msgs')
    env = _sourced_ros_environment(tmp_path)
    out = subprocess.run(
        ['bash', str(REPO / 'scripts' / 'setup.sh')],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"ROS 2 {env['ROS_DISTRO']} is sourced" in out.stderr, out.stderr
    venv_python = Path(env['HF_VENV']) / 'bin' / 'python'
    for script in _entry_scripts(tmp_path / 'install' / 'hybrid_fusion_ros'):
        interpreter = _interpreter(script)
        assert (
            Path(interpreter) == venv_python
        ), f"{script.name}: #!{interpreter}, not the venv's python"
    # The venv sees the system site (apt's numpy, cv_bridge): --system-site-packages, not a copy.
    assert 'include-system-site-packages = true' in (tmp_path / 'venv' / 'pyvenv.cfg').read_text()
    assert _imports_torch(str(venv_python), env)
