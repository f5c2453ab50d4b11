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

"""The node graph on the ONNX Runtime backend: the same bag through `hybrid-fusion eval` with
``inference_backend: torch`` and ``onnxruntime`` gives the same label for every window, with
the same confidence to 1e-4, and no node process of the onnxruntime run imports torch."""

import csv
import subprocess
import sys

import pytest
import yaml

from hybrid_fusion_ros.ros.graph import default_config_path
from hybrid_fusion_tools.data.demo_data import generate_bag

pytestmark = pytest.mark.slow  # two evals of one bag, one per backend


def _eval(bag, out, config, *extra):
    proc = subprocess.run(
        [
            sys.executable,
            '-m',
            'hybrid_fusion_ros.cli',
            'eval',
            str(bag),
            '--out',
            str(out),
            '--config',
            str(config),
            '--verbose-nodes',
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    with (out / 'windows.csv').open() as f:
        rows = list(csv.DictReader(f))
    return {r['end']: (r['label'], float(r['confidence'])) for r in rows}, proc


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp('backends')
    bag = generate_bag(root / 'bag', 10.0, 11, storage='mcap')
    config = yaml.safe_load(default_config_path().read_text())
    # torch from the parameter file; onnxruntime from eval's --backend, which every node must
    # get (an encoder left on torch would import it: see the last test).
    config['/**']['ros__parameters']['inference_backend'] = 'torch'
    path = root / 'torch.yaml'
    path.write_text(yaml.safe_dump(config))
    return {
        'torch': _eval(bag, root / 'torch', path),
        'onnxruntime': _eval(bag, root / 'onnxruntime', path, '--backend', 'onnxruntime'),
    }


def test_onnxruntime_labels_equal_torch_labels(runs):
    torch_windows, _ = runs['torch']
    ort_windows, _ = runs['onnxruntime']
    labelled = [end for end, (label, _) in torch_windows.items() if label]
    assert len(labelled) >= 15, 'the comparison must cover the bag'
    assert set(ort_windows) == set(torch_windows)
    for end in torch_windows:
        (a, pa), (b, pb) = torch_windows[end], ort_windows[end]
        assert a == b, f'window ending {end}: torch says {a!r}, onnxruntime {b!r}'
        if a:
            assert abs(pa - pb) <= 1e-4, f'window ending {end}: confidence {pa} vs {pb}'


def test_onnxruntime_nodes_never_import_torch(runs):
    """Each node says in its start-up line whether torch is in its process."""
    log = runs['onnxruntime'][1].stdout + runs['onnxruntime'][1].stderr
    assert log.count('onnxruntime backend (torch imported: no)') == 4, log[-3000:]
    assert 'torch imported: yes' not in log
    torch_log = runs['torch'][1].stdout + runs['torch'][1].stderr
    assert torch_log.count('torch backend') >= 4 and 'onnxruntime backend' not in torch_log
