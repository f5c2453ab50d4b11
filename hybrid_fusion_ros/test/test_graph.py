"""The whole graph (three encoder nodes + fusion node), fed by replaying a generated bag."""
from conftest import wait_until
from hybrid_fusion_ros.core.windows import WindowSpec
from hybrid_fusion_ros.encoder_node import EncoderNode
from hybrid_fusion_ros.evaluator import LabelEvaluator
from hybrid_fusion_ros.fusion_node import FusionNode
from hybrid_fusion_ros.replay import BagReplayer


def test_replayed_bag_is_labelled_through_the_node_graph(ros, demo_bag):
    for m in ('camera', 'imu', 'audio'):
        ros.add(EncoderNode(f'{m}_encoder', **ros.kwargs(modality=m, input_queue_depth=100)))
    fusion = ros.add(FusionNode('fusion_node', **ros.kwargs()))
    node = ros.node('replayer')
    ns = ros.namespace
    replayer = BagReplayer(node, demo_bag, rate=1.0, topic_map={
        '/camera/image_raw': f'{ns}/camera/image_raw', '/imu/data': f'{ns}/imu/data',
        '/audio/chunk': f'{ns}/audio/chunk', '/activity_ground_truth': f'{ns}/activity_ground_truth'})
    evaluator = LabelEvaluator(node, f'{ns}/activity', f'{ns}/activity_ground_truth')
    wait_until(lambda: all(replayer.publisher_for(t).get_subscription_count() > 0
                           for t in ('/camera/image_raw', '/imu/data', '/audio/chunk')), what='encoder subscriptions')
    replayer.run()
    window = WindowSpec()
    expected = 37  # grid windows fully inside the 20 s recording
    wait_until(lambda: len(evaluator.labels) >= int(0.95 * expected), timeout=15, what='labels for 95% of windows')
    summary = evaluator.summary(window, replayer.start_ns / 1e9, replayer.end_ns / 1e9)
    assert summary['expected_windows'] == expected
    assert summary['coverage'] >= 0.95, summary
    assert summary['accuracy'] >= 0.7, summary  # chance is 1/6
    assert fusion.pipeline.sync.stats.matched == summary["labels"]
