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

"""The whole graph (three encoder nodes + fusion node), fed by replaying a generated bag in
real time with stamps shifted to now (live-like, so late/async modes' max_age applies), in
each fusion mode."""

from conftest import wait_until
import pytest

from hybrid_fusion_ros.core.windows import WindowSpec
from hybrid_fusion_ros.nodes.encoder_node import EncoderNode
from hybrid_fusion_ros.nodes.fusion_node import FusionNode
from hybrid_fusion_tools.bags.replay import BagReplayer
from hybrid_fusion_tools.evaluation.evaluator import LabelEvaluator

pytestmark = pytest.mark.slow  # a bag replayed in real time through the graph per mode

SENSORS = ('/camera/image_raw', '/imu/data', '/audio/chunk')
SECONDS = 12.0  # real time per mode: long enough for two activities, short for the suite


@pytest.fixture(scope='module')
def graph_bag(tmp_path_factory):
    from hybrid_fusion_tools.data.demo_data import generate_bag

    return generate_bag(tmp_path_factory.mktemp('bags') / 'graph12', seconds=SECONDS, seed=11)


@pytest.mark.parametrize('mode', ['early', 'late', 'async'])
def test_replayed_bag_is_labelled_through_the_node_graph(ros, graph_bag, mode):
    for m in ('camera', 'imu', 'audio'):
        ros.add(EncoderNode(f'{m}_encoder', **ros.kwargs(input_queue_depth=100)))
    fusion = ros.add(FusionNode('fusion_node', **ros.kwargs(fusion_mode=mode)))
    node = ros.node('replayer')
    ns = ros.namespace
    topic_map = {t: ns + t for t in (*SENSORS, '/activity_ground_truth')}
    replayer = BagReplayer(node, graph_bag, rate=1.0, restamp=True, topic_map=topic_map)
    evaluator = LabelEvaluator(node, f'{ns}/activity', f'{ns}/activity_ground_truth')
    wait_until(
        lambda: all(replayer.publisher_for(t).get_subscription_count() > 0 for t in SENSORS),
        what='encoder subscriptions',
    )
    replayer.run()
    expected = 21  # grid windows fully inside the 12 s recording
    wait_until(
        lambda: len({round(r.stamp, 3) for r in evaluator.labels}) >= int(0.95 * expected),
        timeout=15,
        what='labels for 95% of windows',
    )
    start = (replayer.start_ns + replayer.shift_ns) / 1e9
    summary = evaluator.summary(WindowSpec(), start, (replayer.end_ns + replayer.shift_ns) / 1e9)
    assert summary['expected_windows'] == expected
    assert summary['coverage'] >= 0.95, summary
    assert summary['accuracy'] >= 0.7, summary  # chance is 1/6
    if mode == 'early':
        assert fusion.pipeline.sync.stats.matched == summary['labels']
    else:
        assert (
            summary['labels'] > summary['expected_windows']
        )  # labels at fusion_rate_hz, not per window
