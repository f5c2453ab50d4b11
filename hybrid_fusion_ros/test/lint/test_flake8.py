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

"""ament_flake8 over the package, as ROS packages run it (ament_lint's configuration with
the additions explained in test/lint/ament_flake8.ini)."""
from pathlib import Path

from ament_flake8.main import main_with_errors
import pytest

PACKAGE = Path(__file__).resolve().parents[2]
# Both wings of the project, with this package's configuration: the runtime and the tools.
PACKAGES = [PACKAGE, PACKAGE.parent / 'hybrid_fusion_tools']


@pytest.mark.flake8
@pytest.mark.linter
@pytest.mark.parametrize('package', PACKAGES, ids=lambda p: p.name)
def test_flake8(monkeypatch, package):
    monkeypatch.chdir(package)
    config = Path(__file__).with_name('ament_flake8.ini')
    rc, errors = main_with_errors(argv=['--config', str(config)])
    assert rc == 0, f'{len(errors)} code style error(s):\n' + '\n'.join(errors[:50])
