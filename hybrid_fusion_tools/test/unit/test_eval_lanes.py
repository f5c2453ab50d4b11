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

"""How ``hybrid-fusion eval --jobs`` shares bags out between node graphs (evaluation/lanes.py)."""

import pytest

from hybrid_fusion_tools.evaluation.lanes import assign_lanes
from hybrid_fusion_tools.evaluation.lanes import job_count
from hybrid_fusion_tools.evaluation.lanes import lane_domains


@pytest.mark.parametrize(
    'seconds, jobs, lanes',
    [
        ([8.0, 8.0, 8.0], 2, [[0, 2], [1]]),
        ([8.0, 8.0, 8.0], 3, [[0], [1], [2]]),
        ([8.0, 8.0, 8.0], 5, [[0], [1], [2]]),  # no empty lane
        ([10.0, 60.0, 20.0, 30.0], 2, [[1], [0, 2, 3]]),  # longest first, least loaded lane
        ([5.0], 4, [[0]]),
        ([5.0, 6.0], 1, [[0, 1]]),  # one lane keeps the given order
    ],
)
def test_bags_go_to_the_least_loaded_lane_and_keep_their_order(seconds, jobs, lanes):
    assert assign_lanes(seconds, jobs) == lanes
    assert sorted(i for lane in lanes for i in lane) == list(range(len(seconds)))


def test_job_count():
    assert job_count(4, 3, realtime=False) == 3  # at most one graph per bag
    assert job_count(4, 1, realtime=False) == 1
    assert job_count(4, 10, realtime=True) == 1  # real time: a graph has the machine alone
    assert 1 <= job_count(0, 100, realtime=False) <= 100  # by the cores


def test_lane_domains_start_at_the_users_and_stay_valid():
    assert lane_domains(3, None) == [0, 1, 2]
    assert lane_domains(3, '7') == [7, 8, 9]
    assert lane_domains(2, '101') == [101, 0]
    assert lane_domains(2, 'junk') == [0, 1]
    with pytest.raises(ValueError):
        lane_domains(200, None)
