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

from setuptools import find_packages
from setuptools import setup

package_name = 'hybrid_fusion_tools'

setup(
    name=package_name,
    version='0.2.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['py.typed']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=False,
    maintainer='hybrid_fusion_ros maintainers',
    maintainer_email='maintainers@hybrid-fusion-ros.dev',
    description='Offline tools of hybrid_fusion_ros: bags, training, evaluation, benchmarks.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'evaluator_node = hybrid_fusion_tools.evaluation.evaluator_node:main',
        ],
        # The offline commands of `hybrid-fusion`, in the runtime's command group (as ros2topic
        # adds `ros2 topic` to ros2cli).
        'hybrid_fusion_ros.commands': [
            'demo = hybrid_fusion_tools.cli.demo:DemoCommand',
            'generate = hybrid_fusion_tools.cli.generate:GenerateCommand',
            'train = hybrid_fusion_tools.cli.train:TrainCommand',
            'replay = hybrid_fusion_tools.cli.replay:ReplayCommand',
            'export = hybrid_fusion_tools.cli.export:ExportCommand',
            'eval = hybrid_fusion_tools.cli.eval:EvalCommand',
            'real-bag = hybrid_fusion_tools.cli.real_bag:RealBagCommand',
            'inspect = hybrid_fusion_tools.cli.inspect_bags:InspectCommand',
            'teach = hybrid_fusion_tools.cli.teach:TeachCommand',
            'bench = hybrid_fusion_tools.cli.bench:BenchCommand',
            # The names of the last release, now bench verbs; removed in the next one.
            'bench-latency = hybrid_fusion_tools.cli.bench:BenchLatencyAlias',
            'bench-replay = hybrid_fusion_tools.cli.bench:BenchReplayAlias',
            'bench-soak = hybrid_fusion_tools.cli.bench:BenchSoakAlias',
            'bench-dataset = hybrid_fusion_tools.cli.bench:BenchDatasetAlias',
            'watch-benchmark = hybrid_fusion_tools.cli.bench:WatchBenchmarkAlias',
            'basicmotions-benchmark = hybrid_fusion_tools.cli.bench:BasicMotionsAlias',
            'ablate = hybrid_fusion_tools.cli.bench:AblateAlias',
        ],
        # Verbs of `hybrid-fusion bench`.
        'hybrid_fusion_tools.bench_verbs': [
            'latency = hybrid_fusion_tools.bench.latency:BenchLatencyCommand',
            'replay = hybrid_fusion_tools.bench.replay:BenchReplayCommand',
            'soak = hybrid_fusion_tools.bench.soak:BenchSoakCommand',
            'dataset = hybrid_fusion_tools.bench.dataset:BenchDatasetCommand',
            'inference = hybrid_fusion_tools.bench.inference:BenchCommand',
            'watch = hybrid_fusion_tools.bench.watch:WatchBenchmarkCommand',
            'basicmotions = hybrid_fusion_tools.bench.basicmotions:BasicMotionsCommand',
            'ablate = hybrid_fusion_tools.bench.ablate:AblateCommand',
            'labels = hybrid_fusion_tools.bench.labels:BenchLabelsCommand',
            'teach = hybrid_fusion_tools.bench.teach:BenchTeachCommand',
            'train = hybrid_fusion_tools.bench.train:BenchTrainCommand',
            'scale = hybrid_fusion_tools.bench.scale:BenchScaleCommand',
        ],
    },
)
