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

"""ament_pep257 over the package: ament's convention, less the summary-line rules the house
docstring style does not follow (a summary may run over two lines and need not be a command;
the same codes are left out of test/lint/ament_flake8.ini)."""
from pathlib import Path

from ament_pep257.main import main
import pytest

PACKAGE = Path(__file__).resolve().parents[2]
PACKAGES = [PACKAGE, PACKAGE.parent / 'hybrid_fusion_tools']
HOUSE_STYLE = ['D205', 'D209', 'D213', 'D301', 'D400', 'D401', 'D402', 'D403', 'D413', 'D415']


@pytest.mark.linter
@pytest.mark.pep257
@pytest.mark.parametrize('package', PACKAGES, ids=lambda p: p.name)
def test_pep257(monkeypatch, package):
    monkeypatch.chdir(package)
    rc = main(argv=['.', '--add-ignore', *HOUSE_STYLE])
    assert rc == 0, 'docstring style errors: see the output above'
