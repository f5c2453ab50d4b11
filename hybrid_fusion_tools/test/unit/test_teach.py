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

"""Teaching a trained model a new activity on its frozen encoders; forget, rename, merge.

The parent is a small IMU model trained for real on three classes of synthetic windows (the
class is the windows' level); the new activity has a pattern of its own (the accelerometer
channels up, the gyroscope ones down)."""

import dataclasses

import numpy as np
import pytest
import torch

from hybrid_fusion_ros.core.checkpoint import Checkpoint
from hybrid_fusion_ros.core.fusion_runtime import build_fusion
from hybrid_fusion_ros.core.fusion_runtime import Feature
from hybrid_fusion_tools.data.dataset import SequenceData
from hybrid_fusion_tools.data.loading import RecordingSet
from hybrid_fusion_tools.training.teach import forget
from hybrid_fusion_tools.training.teach import Knowledge
from hybrid_fusion_tools.training.teach import merge
from hybrid_fusion_tools.training.teach import parent_knowledge
from hybrid_fusion_tools.training.teach import rename
from hybrid_fusion_tools.training.teach import simulated_teach_benchmark
from hybrid_fusion_tools.training.teach import teach
from hybrid_fusion_tools.training.teach import TeachConfig
from hybrid_fusion_tools.training.teach import TeachError
from hybrid_fusion_tools.training.train import train
from hybrid_fusion_tools.training.train import TrainConfig

SMALL = {'length': 16, 'base_channels': 4, 'feature_dim': 8}
MEANS = np.array([-3.0, 0.0, 3.0])
PATTERN = [0] * 6 + [1] * 6 + [2] * 6
KEYS = (
    'new_class', 'new_accuracy', 'new_windows', 'old_accuracy_parent', 'old_accuracy_child',
    'old_windows', 'per_class', 'thresholds', 'passed', 'reasons',
)


def windows(labels, seed, t0=1000.0):
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    x = rng.normal(size=(len(labels), 6, 16)) + MEANS[labels][:, None, None]
    return SequenceData({'imu': x.astype(np.float32)}, labels, t0 + 0.5 * np.arange(1, len(x) + 1))


def take(n, seed, t0=2000.0):
    """A take of the new activity: accelerometer up, gyroscope down (labels are ignored)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6, 16))
    x[:, :3] += 4.0
    x[:, 3:] -= 4.0
    return SequenceData(
        {'imu': x.astype(np.float32)}, np.full(n, 7, np.int64), t0 + 0.5 * np.arange(1, n + 1)
    )


@pytest.fixture(scope='module')
def data():
    return [windows(PATTERN * 4, s) for s in (1, 2, 3)], [windows(PATTERN * 3, 4)]


@pytest.fixture(scope='module')
def parent(data, tmp_path_factory):
    config = TrainConfig(
        encoders={'imu': 'imu_cnn1d'},
        encoder_configs={'imu': SMALL},
        epochs=6,
        seq_len=8,
        batch_size=2,
        extra_strategies=['late'],
        extra_epochs=2,
    )
    result = train(config, *data, classes=['a', 'b', 'c'], progress=False)
    path = result.checkpoint.save(tmp_path_factory.mktemp('parent') / 'parent.pt')
    return Checkpoint.load(path)


@pytest.fixture(scope='module')
def knowledge(data):
    return Knowledge(data[0], data[1], "the test parent's own windows")


@pytest.fixture(scope='module')
def taught(parent, knowledge):
    takes = [take(20, s, 2000.0 + 100 * s) for s in (10, 11, 12)]
    return teach(parent, 'd', takes, knowledge, TeachConfig(), bags=['x.mcap'])


def published(path, seq):
    """Class ids the fusion runtime of checkpoint ``path`` publishes for ``seq``'s windows."""
    setup = build_fusion({'checkpoint': str(path), 'reset_after': 100.0})
    ckpt = Checkpoint.load(path)
    encoder = ckpt.build_encoder('imu')[0]
    with torch.no_grad():
        feats = encoder(torch.from_numpy(seq.inputs['imu'])).numpy()
    out = []
    for k, f in enumerate(feats):
        stamp = int((1000 + 0.5 * k) * 1e9)
        out += setup.runtime.on_feature('imu', Feature(f, stamp, stamp, 'imu'), stamp)
    return out


def test_teach_adds_a_class_on_bit_identical_encoders(parent, taught, tmp_path):
    child = taught.checkpoint
    assert child.classes == ['a', 'b', 'c', 'd']
    assert child.encoders.keys() == parent.encoders.keys()
    for m, entry in parent.encoders.items():
        got = child.encoders[m]
        assert got['name'] == entry['name'] and got['config'] == entry['config']
        assert got['state_dict'].keys() == entry['state_dict'].keys()
        for key, value in entry['state_dict'].items():
            assert torch.equal(got['state_dict'][key], value), key
            assert got['state_dict'][key] is not value  # a copy, not shared
    assert child.runtime == parent.runtime and child.window == parent.window
    assert child.fusion['config']['num_classes'] == 4
    # The late model was retrained with the new class too (the fusion node's late mode).
    assert child.build_fusion('late').config.num_classes == 4
    assert child.model_id != parent.model_id
    meta = child.metadata
    assert meta['parent_model_id'] == parent.model_id
    assert meta['parent_checkpoint'] == str(parent.path)
    assert meta['lineage'] == [parent.model_id]
    assert meta['train_config'] == parent.metadata['train_config']
    assert meta['taught']['label'] == 'd' and meta['taught']['added'] is True
    assert meta['taught']['bags'] == ['x.mcap'] and meta['taught']['takes'] == 3
    assert meta['taught']['windows'] == 60 and meta['taught']['held_out_windows'] == 20
    assert meta['check'] == taught.check and child.calibration == meta['calibration']
    assert taught.seconds > 0

    check = taught.check
    assert all(key in check for key in KEYS)
    assert check['new_class'] == 'd' and check['new_windows'] == 20
    assert check['old_windows'] == 54
    assert set(check['per_class']) == {'a', 'b', 'c', 'd'}
    assert check['per_class']['d']['support'] == 20
    for key in ('new_accuracy', 'old_accuracy_parent', 'old_accuracy_child'):
        assert 0.0 <= check[key] <= 1.0
    # Learned, not guessed: most of the held-out take is labelled the new class.
    assert check['new_accuracy'] >= 0.5, check
    t = check['thresholds']
    ok = (
        check['new_accuracy'] >= t['min_new_accuracy']
        and check['old_accuracy_parent'] - check['old_accuracy_child'] <= t['max_old_drop']
    )
    assert check['passed'] is ok and (not check['reasons']) is ok

    # Saved, loaded, and run by the fusion runtime: the new class is published.
    path = child.save(tmp_path / 'child.pt')
    loaded = Checkpoint.load(path)
    assert loaded.model_id == child.model_id and loaded.classes == child.classes
    labels = published(path, take(20, 99))
    assert labels and {x.class_id for x in labels} <= {-1, 0, 1, 2, 3}
    assert np.mean([x.class_id == 3 for x in labels]) >= 0.5


def test_teach_refuses_what_it_cannot_do(parent, knowledge):
    takes = [take(20, 1), take(20, 2)]
    with pytest.raises(TeachError, match='add_examples'):
        teach(parent, 'b', takes, knowledge)
    with pytest.raises(TeachError, match='no takes'):
        teach(parent, 'd', [], knowledge)
    empty = SequenceData({'imu': np.zeros((0, 6, 16), np.float32)}, np.zeros(0), np.zeros(0))
    with pytest.raises(TeachError, match=r'take\(s\) \[2\] hold no window'):
        teach(parent, 'd', [take(20, 1), empty], knowledge)
    with pytest.raises(TeachError, match='single take of 1 window'):
        teach(parent, 'd', [take(1, 1)], knowledge)
    wrong = SequenceData({'imu': np.zeros((4, 6, 8), np.float32)}, np.zeros(4), np.arange(4.0))
    with pytest.raises(TeachError, match='encoder takes'):
        teach(parent, 'd', [wrong], knowledge)
    # Trained on neither recordings given nor the simulation: the replay is needed.
    with pytest.raises(TeachError, match=r'--replay BAG'):
        parent_knowledge(parent)


def test_more_examples_of_a_known_class_keep_the_classes(parent, knowledge):
    """Also: a parent without a calibration, and the extra fusion models dropped."""
    uncalibrated = dataclasses.replace(parent, calibration={})
    more = [windows([1] * 16, s, 3000.0 + 100 * s) for s in (5, 6)]
    config = TeachConfig(epochs=3, extra_fusion='drop')
    result = teach(uncalibrated, 'b', more, knowledge, config, add_examples=True)
    child = result.checkpoint
    assert child.classes == parent.classes
    assert child.fusion['config']['num_classes'] == 3
    assert child.metadata['taught']['added'] is False
    assert result.check['new_class'] == 'b' and result.check['new_windows'] == 16
    # The parent is scored with a calibration fitted by the child's rule, not none at all.
    assert result.check['parent_calibration'].startswith('none in the checkpoint')
    assert child.extra_fusion == {} and child.fusion_strategies == ['early']
    assert any('late mode is unavailable' in note for note in child.metadata['notes'])
    with pytest.raises(ValueError, match='extra_fusion'):
        TeachConfig(extra_fusion='some')


def test_parent_knowledge_from_the_replayed_recordings(parent):
    # Recordings labelled with a subset of the parent's classes, in another order.
    recs = [[windows([0] * 6 + [1] * 6, s)] for s in range(4)]
    replay = RecordingSet([], {}, ['c', 'a'], [], recs, spec=parent.window)
    got = parent_knowledge(parent, replay)
    assert len(got.train) == 3 and len(got.val) == 1
    assert set(np.concatenate([s.labels for s in got.train]).tolist()) == {2, 0}
    assert '3 recording(s) replayed, the last 1 for validation' in got.source
    # One recording: its windows split 75/25 by time.
    single = RecordingSet([], {}, ['c', 'a'], [], recs[:1], spec=parent.window)
    one = parent_knowledge(parent, single)
    assert [len(s) for s in one.train] == [9] and [len(s) for s in one.val] == [3]
    assert float(one.train[0].ends[-1]) < float(one.val[0].ends[0])
    with pytest.raises(TeachError, match="class\\(es\\) \\['z'\\]"):
        parent_knowledge(parent, RecordingSet([], {}, ['z'], [], recs, spec=parent.window))


def test_forget_drops_the_class_from_every_fusion_model(parent, tmp_path):
    child = forget(parent, 'b')
    assert child.classes == ['a', 'c']
    assert child.calibration == parent.calibration
    assert child.metadata['forgot'] == 'b' and child.metadata['lineage'] == [parent.model_id]
    for strategy in parent.fusion_strategies:
        old = parent.build_fusion(strategy).state_dict()
        new = child.build_fusion(strategy).state_dict()
        assert child.build_fusion(strategy).config.num_classes == 2
        for key, value in old.items():
            if key.startswith('head.') or key.startswith('heads.'):
                assert torch.equal(new[key], value[[0, 2]]), key
            else:
                assert torch.equal(new[key], value), key
    for key, value in parent.encoders['imu']['state_dict'].items():
        assert torch.equal(child.encoders['imu']['state_dict'][key], value)
    path = child.save(tmp_path / 'forgot.pt')
    labels = published(path, windows(PATTERN * 2, 8))
    assert labels and {x.class_id for x in labels} <= {-1, 0, 1}
    assert all(len(x.probabilities) == 2 for x in labels)
    with pytest.raises(TeachError, match="'z' is not a class"):
        forget(parent, 'z')
    with pytest.raises(TeachError, match='two at least'):
        forget(child, 'a')


def test_rename_changes_the_name_only(parent):
    child = rename(parent, 'b', 'sitting')
    assert child.classes == ['a', 'sitting', 'c']
    assert child.metadata['renamed'] == {'from': 'b', 'to': 'sitting'}
    for key, value in parent.fusion['state_dict'].items():
        assert torch.equal(child.fusion['state_dict'][key], value)
    assert child.calibration == parent.calibration
    with pytest.raises(TeachError, match="'z' is not a class"):
        rename(parent, 'z', 'y')
    with pytest.raises(TeachError, match='already'):
        rename(parent, 'b', 'c')


def test_merge_retrains_with_the_classes_as_one(parent, knowledge):
    result = merge(parent, ['a', 'b'], 'low', knowledge, TeachConfig(epochs=4))
    child = result.checkpoint
    assert child.classes == ['low', 'c']
    assert child.build_fusion('late').config.num_classes == 2
    assert child.metadata['merged']['labels'] == ['a', 'b']
    check = result.check
    assert all(key in check for key in KEYS)
    assert check['new_class'] == 'low' and check['new_windows'] == 36
    assert check['old_windows'] == 54
    drop = check['old_accuracy_parent'] - check['old_accuracy_child']
    assert check['passed'] is (not check['reasons'])
    if drop > check['thresholds']['max_old_drop']:
        assert not check['passed']
    with pytest.raises(TeachError, match='single class'):
        merge(parent, ['a', 'b', 'c'], 'all', knowledge)


def test_simulated_teach_benchmark_runs_at_a_tiny_size():
    figures = simulated_teach_benchmark(
        'waving',
        seconds_of_examples=4.0,
        progress=False,
        train_episodes=3,
        val_episodes=1,
        epochs=1,
        take_seconds=2.0,
        parent_config={'episode_seconds': 40.0, 'seq_len': 8, 'batch_size': 4},
        teach_config=TeachConfig(epochs=1, replay_windows=200),
    )
    assert figures['data'].startswith('SIMULATED')
    assert 'waving' not in figures['parent']['classes']
    assert figures['takes'] == 2 and figures['new_windows'] > 0
    assert 'regenerated' in figures['knowledge']
    for key in ('new_accuracy', 'old_accuracy_parent', 'old_accuracy_child'):
        assert 0.0 <= figures[key] <= 1.0
    assert figures['parent']['train_seconds'] > 0 and figures['teach_seconds'] > 0
    assert isinstance(figures['passed'], bool)
