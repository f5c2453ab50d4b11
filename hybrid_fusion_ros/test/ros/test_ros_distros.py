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

"""What keeps the package working on ROS 2 Humble and Jazzy as well as Kilted: the Fast DDS
profile that matches the installed Fast DDS, bags Humble's ``ros2 bag`` opens, discovery
limited to the host on every distro, a pytest that launch_testing accepts, and package.xml
declaring what the code imports."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
import subprocess
import sys
import xml.etree.ElementTree as ET

from packaging.requirements import Requirement
from packaging.version import Version
import pytest
import yaml

PKG = Path(__file__).resolve().parents[2]
REPO = PKG.parent
PROFILE_VARS = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')


# --- 1. Fast DDS profile per major version ---------------------------------------------------


@pytest.mark.parametrize(
    'distro, variable, name',
    [
        ('humble', 'FASTRTPS_DEFAULT_PROFILES_FILE', 'fastdds2_replay.xml'),
        ('jazzy', 'FASTRTPS_DEFAULT_PROFILES_FILE', 'fastdds2_replay.xml'),
        ('kilted', 'FASTDDS_DEFAULT_PROFILES_FILE', 'fastdds_replay.xml'),
    ],
)
def test_replay_profile_matches_the_distros_fast_dds(monkeypatch, distro, variable, name):
    from hybrid_fusion_tools.evaluation.runner import use_replay_dds_profile

    for var in PROFILE_VARS:
        # setenv first, so that undo removes what the code under test sets (a delenv of an
        # absent variable records nothing, and the profile leaked into later tests' nodes).
        monkeypatch.setenv(var, '')
        monkeypatch.delenv(var)
    monkeypatch.setenv('ROS_DISTRO', distro)
    profile = use_replay_dds_profile()
    assert profile is not None and Path(profile).name == name and Path(profile).is_file()
    assert os.environ[variable] == profile
    other = next(v for v in PROFILE_VARS if v != variable)
    assert other not in os.environ


def test_a_profile_the_user_set_is_kept(monkeypatch, tmp_path):
    from hybrid_fusion_tools.evaluation.runner import use_replay_dds_profile

    for var in PROFILE_VARS:
        # setenv first, so that undo removes what the code under test sets (a delenv of an
        # absent variable records nothing, and the profile leaked into later tests' nodes).
        monkeypatch.setenv(var, '')
        monkeypatch.delenv(var)
    monkeypatch.setenv('ROS_DISTRO', 'humble')
    mine = tmp_path / 'mine.xml'
    monkeypatch.setenv('FASTRTPS_DEFAULT_PROFILES_FILE', str(mine))
    assert use_replay_dds_profile() == str(mine)
    assert 'FASTDDS_DEFAULT_PROFILES_FILE' not in os.environ


def _tags(path: Path) -> dict:
    """Local tag name -> the element's text (the last one of a name wins)."""
    return {el.tag.split('}')[-1]: (el.text or '').strip() for el in ET.parse(path).iter()}


def _duration_ns(root: ET.Element, tag: str) -> int:
    el = next(e for e in root.iter() if e.tag.split('}')[-1] == tag)
    parts = {c.tag.split('}')[-1]: int(c.text) for c in el}
    return parts.get('sec', 0) * 10**9 + parts.get('nanosec', 0)


def test_fast_dds_2_profile_uses_the_2x_tags_and_the_same_settings():
    v2, v3 = PKG / 'config' / 'fastdds2_replay.xml', PKG / 'config' / 'fastdds_replay.xml'
    tags2, tags3 = _tags(v2), _tags(v3)
    for tag in (
        'heartbeatPeriod',
        'initialHeartbeatDelay',
        'leaseAnnouncement',
        'initialAnnouncements',
    ):
        assert tag in tags2, tag
    assert 'heartbeat_period' not in tags2 and 'initial_heartbeat_delay' not in tags2
    assert 'heartbeat_period' in tags3 and 'heartbeatPeriod' not in tags3
    r2, r3 = ET.parse(v2).getroot(), ET.parse(v3).getroot()
    for t2, t3 in [
        ('heartbeatPeriod', 'heartbeat_period'),
        ('initialHeartbeatDelay', 'initial_heartbeat_delay'),
        ('leaseAnnouncement', 'leaseAnnouncement'),
        ('period', 'period'),
    ]:
        assert _duration_ns(r2, t2) == _duration_ns(r3, t3), t2
    assert tags2['count'] == tags3['count']


# --- 2. bags Humble's rosbag2 reads ---------------------------------------------------------


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_bags_are_written_in_a_metadata_version_humble_reads(tmp_path, storage):
    from hybrid_fusion_ros.ros import conversions as conv
    from hybrid_fusion_tools.bags.bag import BagWriter
    from hybrid_fusion_tools.bags.bag import open_reader
    from hybrid_fusion_tools.bags.bag import read_messages

    path = tmp_path / 'bag'
    with BagWriter(path, storage=storage) as writer:
        for i in range(3):
            t = 1_700_000_000 * 10**9 + i * 10**7
            writer.write(
                '/imu', conv.row_to_imu([i, 0, 9.8, 0, 0, 0], conv.sec_to_stamp(t / 1e9)), t
            )
    info = yaml.safe_load((path / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert info['version'] == 8
    for topic in info['topics_with_message_count']:
        qos = topic['topic_metadata']['offered_qos_profiles']
        # Humble decodes this field with as<std::string>(): a list (version 9) is an error.
        assert isinstance(qos, str)
    reader = open_reader(path)
    msgs = list(read_messages(reader))
    reader.close()
    assert [m.topic for m in msgs] == ['/imu'] * 3


def test_metadata_version_9_stays_available(tmp_path):
    from hybrid_fusion_ros.ros import conversions as conv
    from hybrid_fusion_tools.bags.bag import BagWriter

    with BagWriter(tmp_path / 'bag', storage='sqlite3', metadata_version=9) as writer:
        writer.write('/imu', conv.row_to_imu([0, 0, 9.8, 0, 0, 0], conv.sec_to_stamp(1.0)), 10**9)
    info = yaml.safe_load((tmp_path / 'bag' / 'metadata.yaml').read_text())[
        'rosbag2_bagfile_information'
    ]
    assert info['version'] == 9
    with pytest.raises(ValueError, match='metadata_version'):
        BagWriter(tmp_path / 'other', metadata_version=5)


# --- 3. discovery on the host only, on every distro -----------------------------------------


def _conftest_environment(distro: str | None) -> dict:
    """The discovery variables after conftest.py's defaults, in a fresh process."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ('ROS_DISTRO', 'ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_LOCALHOST_ONLY')
    }
    if distro:
        env['ROS_DISTRO'] = distro
    code = (
        'import json, os, runpy, sys; runpy.run_path(sys.argv[1]); print(json.dumps({k:'
        ' os.environ.get(k) for k in ("ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY")}))'
    )
    out = subprocess.run(
        [sys.executable, '-c', code, str(PKG.parent / 'conftest.py')],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_discovery_is_limited_to_the_host_on_humble_and_later():
    assert os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE')  # this test process (Iron and later)
    humble = _conftest_environment('humble')
    assert humble == {'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST', 'ROS_LOCALHOST_ONLY': '1'}
    # Kilted (ROS_DISTRO set, or unset with the PyPI wheels): the range alone, no deprecation
    # warning.
    for distro in ('kilted', None):
        assert _conftest_environment(distro) == {
            'ROS_AUTOMATIC_DISCOVERY_RANGE': 'LOCALHOST',
            'ROS_LOCALHOST_ONLY': None,
        }


# --- 4. a pytest that Humble's and Jazzy's launch_testing plugin accepts --------------------


def _requirements(name: str) -> list:
    """The requirements of requirements/<name>, without comments and ``-r`` includes."""
    lines = [
        line.split('#')[0].strip()
        for line in (REPO / 'requirements' / name).read_text().splitlines()
    ]
    return [Requirement(line) for line in lines if line and not line.startswith('-')]


@pytest.mark.parametrize('name', ['python.txt', 'core-py310.txt'])
def test_pytest_requirement_excludes_pytest_9(name):
    pytest_req = next(r for r in _requirements(name) if r.name == 'pytest')
    assert Version('8.3.5') in pytest_req.specifier
    assert not pytest_req.specifier.contains(Version('9.0.0'), prereleases=True)


def test_jazzy_lane_installs_the_jazzy_twin_of_every_kilted_ros_wheel():
    # An unpinned ros-* wheel beside Jazzy's rclpy pulls Kilted's version, and node creation fails.
    kilted = {r.name for r in _requirements('ros-pypi.txt') if r.name.startswith('ros-')}
    jazzy = _requirements('ros-pypi-jazzy.txt')
    assert all(r.name.startswith('ros-jazzy-') and len(r.specifier) == 1 for r in jazzy), jazzy
    twins = {'ros-' + r.name[len('ros-jazzy-') :] for r in jazzy}
    # Kilted's ros-ament-cmake-ros-core has no Jazzy wheel, and the Jazzy build does not need it.
    assert twins == kilted - {'ros-ament-cmake-ros-core'}
    others = {r.name for r in _requirements('colcon.txt')}
    assert 'colcon-core' in others and not any(n.startswith('ros-') for n in others)


# --- 5. package.xml declares what the code imports ------------------------------------------


TOOLS = PKG.parent / 'hybrid_fusion_tools'
# What a robot must not be made to install for the runtime: the offline tools' packages.
TOOLS_ONLY_KEYS = {'python3-sklearn', 'python3-matplotlib', 'python3-tqdm', 'python3-rosbags-pip'}


def _package_deps(package: Path = PKG) -> dict:
    root = ET.parse(package / 'package.xml').getroot()
    deps: dict = {}
    for el in root:
        if el.tag.endswith('depend'):
            deps.setdefault(el.text.strip(), set()).add(el.tag)
    return deps


RUN_TAGS = {'depend', 'exec_depend'}
TEST_TAGS = {'depend', 'test_depend'}

# Python modules that are ROS packages of the same name (message packages are found by their
# .msg / .srv / .action submodule).
ROS_PYTHON_PACKAGES = {
    'rclpy',
    'rcl_interfaces',
    'ament_index_python',
    'launch',
    'launch_ros',
    'launch_testing',
    'launch_testing_ros',
    'message_filters',
    'cv_bridge',
    'rosbag2_py',
    'tf2_ros',
    'builtin_interfaces',
}


def _imports(folder: Path) -> set:
    found = set()
    for path in folder.rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
    return found


def _ros_packages(modules: set) -> set:
    out = set()
    for mod in modules:
        parts = mod.split('.')
        if parts[0] in ROS_PYTHON_PACKAGES or (
            len(parts) > 1 and parts[1] in ('msg', 'srv', 'action')
        ):
            out.add(parts[0])
    return out


def test_package_xml_declares_the_rosdep_keys_the_code_needs():
    deps = _package_deps()
    for key in ('rcl_interfaces', 'python3-torch', 'launch', 'launch_ros'):
        assert deps.get(key, set()) & RUN_TAGS, key
    assert deps.get('python3-pytest', set()) & TEST_TAGS
    tools = _package_deps(TOOLS)
    for key in ('hybrid_fusion_ros', 'python3-rosbags-pip', 'python3-sklearn', 'python3-tqdm'):
        assert tools.get(key, set()) & RUN_TAGS, key


def test_the_runtime_names_none_of_the_tools_packages():
    # A robot installs hybrid_fusion_ros with rosdep: none of the offline tools' keys.
    assert not TOOLS_ONLY_KEYS & set(_package_deps()), TOOLS_ONLY_KEYS & set(_package_deps())


@pytest.mark.parametrize('package', [PKG, TOOLS], ids=lambda p: p.name)
def test_every_imported_ros_package_is_declared(package):
    deps = _package_deps(package)
    code = _ros_packages(_imports(package / package.name) | _imports(package / 'launch'))
    assert {'rclpy', 'sensor_msgs'} <= code
    missing = sorted(p for p in code - {package.name} if not deps.get(p, set()) & RUN_TAGS)
    assert not missing, f'imported but not an exec dependency in package.xml: {missing}'
    tests = _ros_packages(_imports(package / 'test')) - {package.name}
    missing = sorted(p for p in tests if not deps.get(p, set()) & (RUN_TAGS | TEST_TAGS))
    assert not missing, f'imported by the tests but not declared in package.xml: {missing}'


if __name__ == '__main__':
    sys.exit(pytest.main([__file__, '-q']))
