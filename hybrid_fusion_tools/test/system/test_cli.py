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

"""The ``hybrid-fusion`` command as ros2cli's: commands from both packages' entry points, loaded
when run; the listing imports neither torch nor rclpy; ``bench`` verbs, and the old names as
aliases that say their new one."""

import json
import subprocess
import sys

import pytest

from hybrid_fusion_ros.cli import main
from hybrid_fusion_tools.cli.bench import verb_registry

HEAVY = ('torch', 'rclpy', 'cv2', 'sklearn', 'matplotlib', 'rosbags', 'aeon')


def _modules_after(argv):
    """The heavy modules a fresh interpreter holds after ``hybrid-fusion ARGV``, and its output."""
    code = (
        'import json, sys\n'
        'from hybrid_fusion_ros.cli import main\n'
        'try:\n'
        f'    main({argv!r})\n'
        'except SystemExit:\n'
        '    pass\n'
        f'print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))'
    )
    out = subprocess.run(
        [sys.executable, '-c', code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stdout


def test_the_listing_imports_no_torch_and_names_every_command():
    loaded, text = _modules_after(['--help'])
    assert loaded == [], loaded
    for command in ('launch', 'swap', 'teach', 'train', 'eval', 'inspect', 'demo', 'bench'):
        assert f'    {command} ' in text, command
    # the old names run, but are listed apart
    assert 'bench-latency' in text.split('old names')[1]


def test_a_command_loads_only_itself():
    loaded, text = _modules_after(['launch', '--help'])
    assert 'torch' not in loaded and 'usage: hybrid-fusion launch' in text


def test_bench_lists_its_verbs(capsys):
    assert main(['bench']) == 2
    out = capsys.readouterr().out
    names = verb_registry.names()
    assert names == sorted(
        [
            'ablate',
            'basicmotions',
            'dataset',
            'inference',
            'labels',
            'latency',
            'replay',
            'scale',
            'soak',
            'teach',
            'train',
            'watch',
        ]
    )
    for name in names:
        assert f'  {name} ' in out, name


def test_an_unknown_bench_verb_is_a_clear_error(capsys):
    assert main(['bench', 'nonsense']) == 2
    err = capsys.readouterr().err
    assert "unknown bench verb 'nonsense'" in err and 'latency' in err


@pytest.mark.parametrize(
    'old, verb', [('bench-latency', 'latency'), ('watch-benchmark', 'watch'), ('ablate', 'ablate')]
)
def test_an_old_name_runs_its_verb_and_says_its_new_one(old, verb, capsys):
    with pytest.raises(SystemExit) as done:
        main([old, '--help'])
    assert done.value.code == 0
    captured = capsys.readouterr()
    assert f'usage: hybrid-fusion {old}' in captured.out
    assert f'`hybrid-fusion {old}` is deprecated: now `hybrid-fusion bench {verb}`' in captured.err
    assert verb_registry.load(verb).help.split()[0] in captured.out


def test_a_parameter_after_the_options_is_taken_as_one(tmp_path, capsys):
    # `eval BAG --out DIR reset_after:=0.9` once failed with "unrecognized arguments"; it now
    # reaches eval, which names the missing bag.
    missing = tmp_path / 'no_such_bag'
    code = _exit_code(['eval', str(missing), '--out', str(tmp_path / 'e'), 'reset_after:=0.9'])
    err = capsys.readouterr().err
    assert code != 0 and 'unrecognized' not in err and 'no_such_bag' in err, err
    with pytest.raises(SystemExit):
        main(['eval', str(missing), '--out', str(tmp_path / 'e'), '--no-such-option'])
    assert 'unrecognized arguments: --no-such-option' in capsys.readouterr().err


@pytest.mark.parametrize('command', ['eval', 'demo'])
def test_a_parameter_no_node_has_is_refused_before_anything_starts(
    command, demo_bag, tmp_path, capsys
):
    argv = [command, str(demo_bag)] if command == 'eval' else [command, '--bag', str(demo_bag)]
    argv += ['--out', str(tmp_path / 'e')] if command == 'eval' else []
    with pytest.raises(SystemExit) as done:
        main([*argv, 'fusion_mod:=late'])
    assert "no node of the graph has parameter(s) ['fusion_mod']" in str(done.value)
    assert "'fusion_mode'" in str(done.value)
    assert not (tmp_path / 'e').exists()


def _exit_code(argv) -> int:
    try:
        return main(argv)
    except SystemExit as done:
        print(done.code, file=sys.stderr)
        return 2 if done.code else 0
