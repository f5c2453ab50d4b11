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

"""What the fusion node tells the operator on ``/diagnostics``, with no ROS in it.

One status per input: WARN, then ERROR, as its features stop (``stale_timeout``,
``stale_error_timeout``), WARN while it is masked out of fusion, and WARN with its own text
when its topic had a publisher and has none any more (the encoder is gone), and WARN naming
both model ids while its features come from another model than the node's (a graph half
updated to a new checkpoint: that input is masked, the others go on). One status for
the fusion: labels that stop coming are the failure an operator must see, whatever their cause;
then the label latency against ``latency_warn_ms`` and ``latency_error_ms``; an internal error
is ERROR in the period it happened and WARN for ``stale_error_timeout`` after it; a backend
slower than asked for (an execution provider fallen back) is WARN.
"""

from __future__ import annotations

import time
from typing import Callable, List, Mapping, Sequence, Set

from .fusion_runtime import FusionRuntime
from .fusion_runtime import InputHealth
from .fusion_runtime import NS_PER_S
from .health import ERROR
from .health import freshness
from .health import latency_values
from .health import OK
from .health import Status
from .health import WARN
from .stats import LatencyWindow
from .stats import RateMeter


class FusionHealth:
    """The fusion node's statuses from its runtime's counts and the labels published.

    ``topics`` maps each modality to the topic its features come on; times are as the
    runtime's (``now`` int nanoseconds of the node's clock, ``monotonic`` seconds).
    """

    def __init__(
        self,
        runtime: FusionRuntime,
        topics: Mapping[str, str],
        backend: str = 'torch',
        warnings: Sequence[str] = (),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.topics = dict(topics)
        self.backend = backend
        self.warnings = list(warnings)
        self._mono = monotonic
        self.label_latency = LatencyWindow()
        self.label_rate = RateMeter()
        self._errors_reported, self._last_error = 0, -float('inf')
        self._had_publisher: Set[str] = set()

    def published(self, latency_ms: float) -> None:
        """A label left, ``latency_ms`` after the newest sensor sample of its evidence."""
        self.label_latency.add(latency_ms)
        self.label_rate.tick(self._mono())

    def statuses(
        self, now: int, publishers: Callable[[str], int], internal_errors: int = 0
    ) -> List[Status]:
        """Every input's status and the fusion's at ``now``; ``publishers(topic)``: how many
        publishers the topic has; ``internal_errors``: the node's count of failed callbacks."""
        out = [self._input_status(h, now, publishers) for h in self.runtime.input_health(now)]
        out.append(self._fusion_status(self._mono(), internal_errors))
        return out

    def _encoder_gone(self, topic: str, publishers: Callable[[str], int]) -> bool:
        """The topic had a publisher and has none any more."""
        if publishers(topic):
            self._had_publisher.add(topic)
            return False
        return topic in self._had_publisher

    def _input_status(
        self, h: InputHealth, now: int, publishers: Callable[[str], int]
    ) -> Status:
        s, topic = self.runtime.settings, self.topics[h.modality]
        level, text = freshness(
            h.received, h.age, s.stale_timeout, s.stale_error_timeout, 'features'
        )
        if h.masked:
            level, text = max(level, WARN), f'no features for {h.silent_for:.1f}s; masked'
        if self._encoder_gone(topic, publishers):
            level = max(level, WARN)
            text = f'no publisher on {topic} (encoder gone)' + ('; masked' if h.masked else '')
        elif h.foreign_model:
            level = max(level, WARN)
            text = (
                f'features of model {h.foreign_model} dropped ({h.drops.get("foreign_model", 0)}'
                f' so far): this node runs model {self.runtime.model_id}'
                + ('; masked' if h.masked else '')
            )
        return Status(
            f'{topic} topic status',
            h.modality,
            level,
            text,
            {
                'Events since startup': h.received,
                'Actual frequency (Hz)': h.rate_hz,
                'Age of last message (s)': h.age,
                'Masked': h.masked,
                'Latest timestamp delay (s)': (
                    float('inf') if h.latest_stamp is None else (now - h.latest_stamp) / NS_PER_S
                ),
                'Dropped total': sum(h.drops.values()),
                'Foreign model id': h.foreign_model,
                'Features without a model id': h.without_model_id,
                **{f'Dropped ({k})': v for k, v in sorted(h.drops.items())},
                **latency_values('Sensor to feature latency', h.latency_ms),
            },
        )

    def _fusion_status(self, mono: float, errors: int) -> Status:
        rt, s = self.runtime, self.runtime.settings
        lat = self.label_latency.percentiles()
        p95 = lat.get('p95', 0.0)
        # Labels that stop coming (a dead encoder, a stalled input, a model that cannot step)
        # are the failure an operator must see here, whatever its cause.
        level, text = freshness(
            self.label_rate.count,
            self.label_rate.age(mono),
            s.stale_timeout,
            s.stale_error_timeout,
            'labels',
        )
        if level == OK:
            for limit_level, limit in ((ERROR, s.latency_error_ms), (WARN, s.latency_warn_ms)):
                if p95 > limit:
                    level, text = limit_level, f'label latency p95 {p95:.0f} ms > {limit:.0f} ms'
                    break
            else:
                text = f'{self.label_rate.count} labels'
        # An internal error is ERROR in the period it happened, then WARN for
        # stale_error_timeout, so that a reader sees it; its traceback is in the log.
        if errors > self._errors_reported:
            level = ERROR
            text = f'{errors - self._errors_reported} internal error(s) (traceback in the log)'
            self._errors_reported, self._last_error = errors, mono
        elif mono - self._last_error <= s.stale_error_timeout and level < WARN:
            level, text = WARN, f'internal error {mono - self._last_error:.1f}s ago'
        if self.warnings and level < WARN:  # e.g. a slower provider than asked
            level, text = WARN, self.warnings[0]
        return Status(
            'fusion',
            'fusion',
            level,
            text,
            {
                'Inference backend': self.backend,
                'Model id': rt.model_id,
                'Unknown threshold': rt.unknown_threshold,
                'Calibration temperature': rt.calibration.temperature,
                'Fusion mode': s.fusion_mode,
                'Fusion rate (Hz)': s.fusion_rate_hz,
                'Max age (s)': s.max_age,
                'Input timeout (s)': s.input_timeout,
                'Labels': self.label_rate.count,
                'Label frequency (Hz)': self.label_rate.rate(mono),
                'Matched feature sets': rt.sync.stats.matched,
                'Sets with an input masked': rt.sync.stats.partial,
                'State resets': rt.state_resets,
                'Internal errors': errors,
                **{f'Dropped ({k})': v for k, v in sorted(rt.fusion_drops.snapshot().items())},
                **latency_values('Fusion step time', rt.step_ms.percentiles()),
                **latency_values('Sensor to label latency', lat),
            },
        )
