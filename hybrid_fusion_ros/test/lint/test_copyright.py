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

"""Every Python file carries the copyright line and the Apache-2.0 notice of package.xml's
licence. With ament_copyright installed (ROS from apt) it checks; it is not on PyPI, so
elsewhere the same header is checked here, line for line."""
import importlib.util
from pathlib import Path
import re

import pytest

PACKAGE = Path(__file__).resolve().parents[2]
# Both wings of the project: the runtime (this package) and the offline tools beside it.
PACKAGES = [PACKAGE, PACKAGE.parent / 'hybrid_fusion_tools']
NOTICE = [
    '#',
    '# Licensed under the Apache License, Version 2.0 (the "License");',
    '# you may not use this file except in compliance with the License.',
    '# You may obtain a copy of the License at',
    '#',
    '#     http://www.apache.org/licenses/LICENSE-2.0',
    '#',
    '# Unless required by applicable law or agreed to in writing, software',
    '# distributed under the License is distributed on an "AS IS" BASIS,',
    '# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.',
    '# See the License for the specific language governing permissions and',
    '# limitations under the License.',
]


def _sources(package: Path = PACKAGE):
    return sorted(p for p in package.rglob('*.py')
                  if not any(part.startswith(('.', '_')) and part != '__init__.py'
                             for part in p.relative_to(package).parts))


def header_problem(path: Path):
    lines = path.read_text().splitlines()
    if lines and lines[0].startswith('#!'):
        lines = lines[1:]
    if not lines or not re.fullmatch(r'# Copyright \d{4}(-\d{4})? \S.*', lines[0]):
        return 'no "# Copyright YEAR HOLDER" first line'
    if lines[1:1 + len(NOTICE)] != NOTICE:
        return 'the Apache-2.0 notice under the copyright line is missing or altered'
    return None


@pytest.mark.copyright
@pytest.mark.linter
@pytest.mark.parametrize('package', PACKAGES, ids=lambda p: p.name)
def test_copyright(monkeypatch, package):
    if importlib.util.find_spec('ament_copyright') is not None:
        from ament_copyright.main import main
        monkeypatch.chdir(package)
        assert main(argv=['.']) == 0, 'copyright or licence header errors (see above)'
    problems = {str(p.relative_to(package)): header_problem(p) for p in _sources(package)}
    bad = {p: why for p, why in problems.items() if why}
    assert len(problems) > 20 and not bad, bad


def test_the_header_check_finds_a_missing_or_altered_notice(tmp_path):
    good = '# Copyright 2026 Someone\n' + '\n'.join(NOTICE) + '\n\nx = 1\n'
    (tmp_path / 'good.py').write_text('#!/usr/bin/env python3\n' + good)
    (tmp_path / 'none.py').write_text('x = 1\n')
    (tmp_path / 'altered.py').write_text(good.replace('License, Version 2.0', 'License'))
    assert header_problem(tmp_path / 'good.py') is None
    assert 'Copyright' in header_problem(tmp_path / 'none.py')
    assert 'notice' in header_problem(tmp_path / 'altered.py')
