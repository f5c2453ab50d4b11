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

"""The fusion node's run-time policy, with no ROS and no torch in it.

:class:`FusionRuntime` decides everything the fusion node does between a feature arriving and a
label leaving. As message_filters' policies are, it is driven by plain values: a modality's
feature vector with its stamps (:class:`Feature`), the current time, parameter changes. It
returns what to publish (:class:`LabelRecord`). The node converts messages, runs timers and
publishes; this module is tested without rclpy.

Modes (setting ``fusion_mode``):

- ``early``: features go through an ApproximateTime synchronizer (core/sync.py); every matched
  set is one step of the primary model and one label. An input silent while the others moved
  on by more than ``input_timeout`` seconds of stamp time is left out of the sets (masked)
  until it speaks again;
- ``late``: each feature advances its own modality's state of the ``late`` model at once
  (``late_update``); on every timer tick the modalities whose latest feature is at most
  ``max_age`` old are fused (``decide``);
- ``async``: on every timer tick the latest feature of each modality at most ``max_age`` old is
  fused, the others masked; the model steps only when a used feature is new since its last
  step, so one step is still one window, as in training.

What a label says: the probabilities are the model's, calibrated with the checkpoint's
temperature (core/calibration.py); a window whose highest probability is below the rejection
threshold (``unknown_threshold``, negative: the checkpoint's) is labelled unknown (class id -1).
The labels feed an :class:`~.events.EventTracker` (``event_*`` settings), whose activity events
the node publishes beside them.

Which features are fused: only those of the runtime's own model (``model_id``): a feature
stamped with another model's id (an encoder restarted on another checkpoint) is dropped as
``foreign_model``, so its input is masked as a silent one would be, and the ids are reported;
a feature without an id (an encoder older than model ids) is fused and counted.

Also decided here: out-of-order features (dropped, counted), a feature stamped more than
``jump_threshold`` before its modality's last one (a clock jump back: everything restarts), a
gap longer than ``reset_after`` between fused stamps (state reset), features that are not what
the model takes (wrong length, non-finite values, another modality's: dropped as ``invalid``),
and run-time parameter changes, refused with a reason when invalid, NaN and inf included.
:func:`build_fusion` sets a runtime up from the node's parameters: the model from the chosen
backend, a negative ``reset_after`` replaced by the checkpoint's state contract
(core/contract.py), the ``modalities`` asked for checked against the model's.

The model is reached through :class:`FusionStepper` (and :class:`LateFusionStepper` for the
late model): core/fusion_backend.py implements it with torch, and any other backend (ONNX
Runtime) can implement it without.

Times: stamps and ``now`` are int nanoseconds (as rclpy's ``Time.nanoseconds``), so a label
keeps its window's stamp to the nanosecond; settings are in seconds. ``monotonic`` (seconds)
measures feature rates and silences for diagnostics; it decides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields
from dataclasses import replace
import logging
import math
import threading
import time
from typing import (Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Protocol, Sequence,
                    Tuple)

import numpy as np

from .calibration import Calibration
from .calibration import UNKNOWN_CLASS_ID
from .contract import StateContract
from .events import EventSettings
from .events import EventTracker
from .model_info import ModelDescription
from .stats import DropCounter
from .stats import LatencyWindow
from .stats import RateMeter
from .sync import ApproximateTimeSynchronizer
from .sync import Input

NS_PER_S = 1_000_000_000
FUSION_MODES = ('early', 'late', 'async')
POSITIVE = ('slop', 'fusion_rate_hz', 'max_age')
NON_NEGATIVE = (
    'event_min_duration',
    'event_max_gap',
    'event_ongoing_period',
    'input_timeout',
    'reset_after',
    'jump_threshold',
    'stale_timeout',
    'stale_error_timeout',
    'latency_warn_ms',
    'latency_error_ms',
)
START_UP_ONLY = ('queue_size', 'input_timeout')

# Six hops of the default grid (1 s windows every 0.5 s): a microphone that stops for good costs
# three seconds of labels, not all of them. Shorter would mask inputs that are slow, not dead:
# the fast evaluator lets encoders drift up to 2.5 s of stamp time apart (4 windows ahead, plus
# one hop), and a deterministic replay must not mask its slowest encoder.
DEFAULT_INPUT_TIMEOUT = 3.0

Log = Callable[[str, str, str], None]
"""``log(level, cause, text)``: level ``'info'`` or ``'warning'``; ``cause`` keys throttling
(``''``: a message that is logged every time)."""


@dataclass
class FusionSettings:
    """The fusion parameters, in seconds (names as the node's parameters)."""

    fusion_mode: str = 'early'
    slop: float = 0.05
    queue_size: int = 10
    input_timeout: float = DEFAULT_INPUT_TIMEOUT
    fusion_rate_hz: float = 10.0
    max_age: float = 1.0
    reset_after: float = 5.0
    jump_threshold: float = 1.0
    stale_timeout: float = 2.0
    stale_error_timeout: float = 10.0
    latency_warn_ms: float = 250.0
    latency_error_ms: float = 1000.0
    unknown_threshold: float = -1.0  # negative: the checkpoint's calibration
    event_min_duration: float = EventSettings.min_duration
    event_enter_confidence: float = EventSettings.enter_confidence
    event_max_gap: float = EventSettings.max_gap
    event_ongoing_period: float = EventSettings.ongoing_period

    def event_settings(self) -> EventSettings:
        return EventSettings(
            float(self.event_min_duration),
            float(self.event_enter_confidence),
            float(self.event_max_gap),
            float(self.event_ongoing_period),
        )


SETTING_NAMES = tuple(f.name for f in fields(FusionSettings))


def check_setting(name: str, value: Any) -> Optional[str]:
    """Why ``value`` is refused for the setting ``name``, or None when it is accepted."""
    if name == 'fusion_mode':
        return (
            None
            if value in FUSION_MODES
            else f'fusion_mode must be one of {list(FUSION_MODES)}, got {value!r}'
        )
    if name == 'queue_size':
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        return None if ok else f'queue_size must be an integer >= 1, got {value!r}'
    # NaN passes every comparison below, and inf breaks timers and ages: both are refused.
    number = (
        isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    )
    if name in POSITIVE and not (number and value > 0):
        return f'{name} must be a finite number > 0'
    if name in NON_NEGATIVE and not (number and value >= 0):
        return f'{name} must be a finite number >= 0'
    if name == 'unknown_threshold' and not (number and (value == -1 or 0 <= value <= 1)):
        return f"unknown_threshold must be in [0, 1], or -1 for the checkpoint's, got {value!r}"
    if name == 'event_enter_confidence' and not (number and 0 <= value <= 1):
        return f'event_enter_confidence must be in [0, 1], got {value!r}'
    return None


class StepResult(NamedTuple):
    """What a stepper returns for one window."""

    scores: np.ndarray  # (C,): logits; the label's probabilities are their softmax
    weights: Optional[np.ndarray]  # (M,): each modality's contribution, or None
    state: Any  # opaque to the runtime; passed back on the next call


class FusionStepper(Protocol):
    """One fusion model stepped window by window: all the runtime needs of a backend.

    ``features[i]`` is modality i's float32 vector ``(feature_dims[i],)``, zeros where masked;
    ``mask`` is float32 ``(M,)``, 1.0 where the modality is present, 0.0 where masked. ``state``
    is what the previous call returned, or None for a fresh state; the runtime never looks
    inside it. One runtime calls its steppers from one thread at a time.
    """

    modalities: Sequence[str]
    feature_dims: Sequence[int]

    def step(self, features: Sequence[np.ndarray], mask: np.ndarray, state: Any) -> StepResult:
        """One window: logits ``(C,)``, per-modality weights ``(M,)`` or None, new state."""
        ...


class LateFusionStepper(FusionStepper, Protocol):
    """The late (decision-level) model: one state per modality, fused on demand."""

    def late_update(self, features: Sequence[np.ndarray], mask: np.ndarray, state: Any) -> Any:
        """Advance the states of the modalities present in ``mask`` only; the new state."""
        ...

    def decide(self, state: Any, mask: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Fuse the current states of the modalities in ``mask`` without stepping:
        log-probabilities ``(C,)`` and per-modality weights ``(M,)``."""
        ...


@dataclass(frozen=True)
class Feature:
    """One window's feature vector from one input."""

    values: np.ndarray  # (D,) as the encoder sent it
    stamp: int  # window end (ns)
    newest_sample: int  # newest sensor sample inside the window (ns)
    modality: str = ''  # what the sender says it is; '' when it does not say
    model_id: str = ''  # the model whose encoder made it; '' when the sender does not say


@dataclass(frozen=True)
class LabelRecord:
    """A label to publish."""

    stamp: int  # ns: the window end (early), the newest one used (timers)
    probabilities: np.ndarray  # (C,) float32, calibrated
    class_id: int  # -1: unknown (the highest probability is below the threshold)
    modalities_used: List[str]
    weights: Optional[np.ndarray]  # one per modality used, in that order; None: model has none
    fusion_mode: str
    newest_sample: int  # ns: newest sensor sample of the evidence (for latency)

    @property
    def confidence(self) -> float:
        """The label's probability; for an unknown label, the highest one."""
        if self.class_id >= 0:
            return float(self.probabilities[self.class_id])
        return float(np.max(self.probabilities)) if len(self.probabilities) else 0.0


@dataclass
class InputHealth:
    """What diagnostics say about one input."""

    modality: str
    received: int  # features accepted since start-up
    rate_hz: float
    age: float  # s since the last accepted feature; inf if none yet
    silent_for: float  # s since the last accepted feature, or since start-up
    masked: bool  # left out of fusion now (timed out, or stale)
    latest_stamp: Optional[int]  # ns
    drops: Dict[str, int]
    latency_ms: Dict[str, float]  # sensor to feature percentiles
    foreign_model: str = ''  # the id of the other model its dropped features came from, if any
    without_model_id: int = 0  # features fused that carried no model id


@dataclass
class _Latest:
    stamp: int
    newest_sample: int
    values: np.ndarray
    seq: int  # arrival counter: a new feature from one already used

    @property
    def header(self) -> '_Latest':
        """The synchronizer reads ``msg.header.stamp``: here, this feature's stamp (ns)."""
        return self


def softmax(scores: np.ndarray) -> np.ndarray:
    """Probabilities (float32) from logits or log-probabilities."""
    z = np.asarray(scores, dtype=np.float64).reshape(-1)
    e = np.exp(z - z.max())
    return (e / e.sum()).astype(np.float32)


def _python_log(level: str, cause: str, text: str) -> None:
    logging.getLogger(__name__).log(logging.INFO if level == 'info' else logging.WARNING, text)


class _Synchronizer(ApproximateTimeSynchronizer):
    """The ApproximateTime policy, where a silent input times out only when the synchronizer
    says so (the newest stamp is more than its timeout past the input's newest) and the others
    have also moved on that far since the first feature they sent after the input's newest.

    The second rule keeps the first from firing where nothing was silent: after a pause of
    every input (a paused bag, a gap in a recording), the first feature back is far past all
    the others' newest stamps; and an encoder that is slow but still delivers (behind the
    others in stamp time, in a replay faster than real time) resets it with each feature."""

    def __init__(
        self,
        inputs: Sequence[Input],
        queue_size: int,
        slop: float,
        timeouts: Sequence[Optional[float]],
        moved_on: Callable[[], List[bool]],
    ) -> None:
        self._moved_on = moved_on
        super().__init__(inputs, queue_size, slop, timeouts=timeouts)

    def timed_out(self) -> List[bool]:
        return [a and b for a, b in zip(super().timed_out(), self._moved_on())]


class FusionRuntime:
    """The fusion policy (see the module docstring); thread-safe, one lock for everything.

    ``steppers`` maps strategy names to models, the checkpoint's primary first; ``model`` picks
    the one for early and async modes ('' the primary); ``'late'``, if present, serves late
    mode. Raises ``ValueError`` with a message for the operator on an invalid set-up.
    """

    def __init__(
        self,
        steppers: Mapping[str, FusionStepper],
        classes: Sequence[str],
        settings: Optional[FusionSettings] = None,
        *,
        model: str = '',
        model_id: str = '',
        calibration: Optional[Calibration] = None,
        monotonic: Callable[[], float] = time.monotonic,
        log: Optional[Log] = None,
    ) -> None:
        self.settings = replace(settings) if settings is not None else FusionSettings()
        for name in SETTING_NAMES:
            error = check_setting(name, getattr(self.settings, name))
            if error:
                raise ValueError(error)
        self.strategies = list(steppers)
        self.primary_name = model or (self.strategies[0] if self.strategies else '')
        if self.primary_name not in steppers or self.primary_name == 'late':
            raise ValueError(
                f"model '{self.primary_name}' cannot serve early/async modes; the "
                f'checkpoint has {self.strategies} (late is used by fusion_mode '
                'late)'
            )
        self.primary = steppers[self.primary_name]
        self.late: Optional[LateFusionStepper] = steppers.get('late')  # type: ignore[assignment]
        error = self._mode_error(self.settings.fusion_mode)
        if error:
            raise ValueError(error)
        self.classes = list(classes)
        self.model_id = model_id
        self.calibration = calibration or Calibration()
        self.events = EventTracker(self.settings.event_settings())
        self.modalities = list(self.primary.modalities)
        self.feature_dims = [int(d) for d in self.primary.feature_dims]
        self._mono = monotonic
        self._log = log or _python_log
        self._lock = threading.RLock()
        self._started = monotonic()
        self._state: Any = None
        self._last_output: Optional[Tuple[np.ndarray, Optional[np.ndarray]]] = None
        self._last_step_seq: Dict[str, int] = {}
        self._last_fused_stamp: Optional[int] = None
        self._seq = 0
        self._pending: List[LabelRecord] = []
        self.latest: Dict[str, _Latest] = {}
        self.state_resets = 0
        self.drops = {m: DropCounter() for m in self.modalities}
        # modality -> the other model's id its features last came from, and when (monotonic)
        self.foreign_models: Dict[str, Tuple[str, float]] = {}
        self.without_model_id = dict.fromkeys(self.modalities, 0)
        self.fusion_drops = DropCounter()
        self.rates = {m: RateMeter() for m in self.modalities}
        self.feature_latency = {m: LatencyWindow() for m in self.modalities}
        self.step_ms = LatencyWindow()
        self.sync = self._new_synchronizer()

    # --- set-up and parameters ------------------------------------------------------------
    @property
    def timer_period(self) -> float:
        """Seconds between ``on_timer`` calls (late and async modes)."""
        return 1.0 / self.settings.fusion_rate_hz

    @property
    def unknown_threshold(self) -> float:
        """The rejection threshold in use: the parameter's, or the checkpoint's."""
        own = self.settings.unknown_threshold
        return float(own) if own >= 0 else float(self.calibration.threshold)

    def _mode_error(self, mode: Any) -> Optional[str]:
        error = check_setting('fusion_mode', mode)
        if error is None and mode == 'late' and self.late is None:
            return (
                "fusion_mode late needs a 'late' model in the checkpoint; it has "
                f'{self.strategies}'
            )
        return error

    def _new_synchronizer(self) -> _Synchronizer:
        n = len(self.modalities)
        self.inputs = [Input() for _ in range(n)]
        self._newest: List[Optional[int]] = [None] * n
        self._first_after: List[Optional[int]] = [None] * n
        timeout = self.settings.input_timeout or None  # 0: wait for every input
        sync = _Synchronizer(
            self.inputs,
            self.settings.queue_size,
            self.settings.slop,
            [timeout] * n,
            self._moved_on,
        )
        sync.registerCallback(self._on_matched)
        return sync

    def _restart_sync(self) -> None:
        """Queued features leave (counted as dropped); stamp-time silences start again, as
        they must after a jump back. The counts carry on."""
        stats = self.sync.stats
        self.sync.reset()
        self.sync = self._new_synchronizer()
        self.sync.stats = stats

    def set_parameters(self, changes: Mapping[str, Any]) -> Optional[str]:
        """Apply ``changes`` (name -> value; names that are not settings are ignored) all or
        none: returns why they are refused, or None when applied."""
        with self._lock:
            for name, value in changes.items():
                if name not in SETTING_NAMES:
                    continue
                if name in START_UP_ONLY:
                    if value != getattr(self.settings, name):
                        return f'{name} is set at start-up only'
                    continue
                error = (
                    self._mode_error(value)
                    if name == 'fusion_mode'
                    else check_setting(name, value)
                )
                if error:
                    return error
            for name, value in changes.items():
                if name not in SETTING_NAMES or name in START_UP_ONLY:
                    continue
                if name != 'fusion_mode':
                    setattr(self.settings, name, float(value))
                    if name == 'slop':
                        self.sync.slop = float(value)
                    if name.startswith('event_'):
                        self.events.set_settings(self.settings.event_settings())
                elif value != self.settings.fusion_mode:
                    self.settings.fusion_mode = value
                    self._restart_sync()
                    self.reset(f'fusion_mode changed to {value}')
        return None

    def reset(self, reason: str) -> None:
        """Start the model from a fresh state."""
        with self._lock:
            self._state = None
            self._last_output = None
            self._last_step_seq.clear()
            self._last_fused_stamp = None
            self.state_resets += 1
        self._log('info', 'reset', f'LSTM state reset: {reason}')

    # --- inputs -----------------------------------------------------------------------------
    def drop(self, modality: str, cause: str, text: str = '') -> None:
        """Count a feature of ``modality`` dropped for ``cause``; log ``text`` if given."""
        self.drops[modality].add(cause)
        if text:
            self._log('warning', cause, text)

    def _validate(self, index: int, feature: Feature) -> Optional[np.ndarray]:
        """The feature's values as the model takes them, or None (dropped as invalid, or as
        another model's)."""
        modality = self.modalities[index]
        if feature.model_id != self.model_id and self.model_id:
            if not feature.model_id:  # an encoder older than model ids: fused, counted
                self.without_model_id[modality] += 1
            else:
                self.foreign_models[modality] = (feature.model_id, self._mono())
                self.drop(
                    modality,
                    'foreign_model',
                    f'dropped {modality} features of model {feature.model_id}: this node runs '
                    f'model {self.model_id} (an encoder on another checkpoint? swap the whole '
                    'graph with ~/load_model, or restart that encoder on this checkpoint)',
                )
                return None
        if feature.modality and feature.modality != modality:
            self.drop(
                modality,
                'invalid',
                f"feature on the {modality} input says modality '{feature.modality}'",
            )
            return None
        values = np.array(feature.values, dtype=np.float32).reshape(-1)
        dim = self.feature_dims[index]
        if values.size != dim:  # another model's encoder on this topic
            self.drop(
                modality,
                'invalid',
                f'dropped {modality} feature: it has {values.size} values, the model takes {dim}',
            )
            return None
        if not np.isfinite(values).all():
            self.drop(modality, 'invalid', f'dropped {modality} feature: NaN or inf values')
            return None
        return values

    def on_feature(self, modality: str, feature: Feature, now: int) -> List[LabelRecord]:
        """A feature arrived on ``modality``'s input at ``now``; the labels it completes."""
        index = self.modalities.index(modality)
        with self._lock:
            values = self._validate(index, feature)
            if values is None:
                return []
            last = self.latest.get(modality)
            if last is not None and feature.stamp <= last.stamp:
                back = (last.stamp - feature.stamp) / NS_PER_S
                if back <= self.settings.jump_threshold:
                    self.drop(
                        modality,
                        'out_of_order',
                        f'dropped {modality} feature stamped {feature.stamp / NS_PER_S:.3f}:'
                        f' not after the last one ({last.stamp / NS_PER_S:.3f})',
                    )
                    return []
                self._restart_sync()
                self.latest.clear()
                self.reset(f'{modality} time jumped back {back:.2f}s')
            self.rates[modality].tick(self._mono())
            self.feature_latency[modality].add((now - feature.newest_sample) / 1e6)
            mode = self.settings.fusion_mode
            if mode != 'early' and now - feature.stamp > self.settings.max_age * NS_PER_S:
                self.drops[modality].add('late')
                return []
            self._seq += 1
            latest = _Latest(feature.stamp, feature.newest_sample, values, self._seq)
            self.latest[modality] = latest
            if mode == 'late':
                self._late_update(index)
            if mode != 'early':
                return []
            self._track(index, feature.stamp)
            self._pending = []
            self.inputs[index].add(latest)  # a matched set comes back through _on_matched
            out, self._pending = self._pending, []
            return out

    def _track(self, index: int, stamp: int) -> None:
        """Early mode's record of who moved on: per input, its newest stamp and the first
        stamp another input sent after it."""
        if self._newest[index] is None or stamp > self._newest[index]:
            self._newest[index] = stamp
            self._first_after[index] = None
        for i, newest in enumerate(self._newest):
            if i != index and self._first_after[i] is None and (newest is None or stamp > newest):
                self._first_after[i] = stamp

    def _moved_on(self) -> List[bool]:
        """Per input: the others' newest stamp is more than ``input_timeout`` past the first
        one they sent after this input's newest (or after the start, if it never spoke)."""
        known = [s for s in self._newest if s is not None]
        timeout = self.settings.input_timeout * NS_PER_S
        return [
            bool(known) and first is not None and max(known) - first > timeout
            for first in self._first_after
        ]

    # --- fusing -----------------------------------------------------------------------------
    def _zeros(self, index: int) -> np.ndarray:
        return np.zeros(self.feature_dims[index], dtype=np.float32)

    def _check_gap(self, stamp: int) -> None:
        previous = self._last_fused_stamp
        if previous is not None and stamp - previous > self.settings.reset_after * NS_PER_S:
            self.reset(f'gap of {(stamp - previous) / NS_PER_S:.2f}s between features')
        self._last_fused_stamp = stamp

    def _on_matched(self, *matched: Optional[_Latest]) -> None:
        """A synchronized set (early mode); ``None`` stands for a timed-out input."""
        present = [m for m in matched if m is not None]
        stamp = present[0].stamp
        self._check_gap(stamp)
        feats = [self._zeros(i) if m is None else m.values for i, m in enumerate(matched)]
        mask = np.array([m is not None for m in matched], dtype=np.float32)
        used = [name for name, m in zip(self.modalities, matched) if m is not None]
        newest = max(m.newest_sample for m in present)
        self._pending.append(self._step(feats, mask, stamp, newest, used))

    def _late_update(self, index: int) -> None:
        assert self.late is not None  # fusion_mode late is refused without a late model
        feats = [
            self.latest[self.modalities[i]].values if i == index else self._zeros(i)
            for i in range(len(self.modalities))
        ]
        mask = np.zeros(len(self.modalities), dtype=np.float32)
        mask[index] = 1.0
        start = time.perf_counter()
        self._state = self.late.late_update(feats, mask, self._state)
        self.step_ms.add((time.perf_counter() - start) * 1e3)

    def _step(
        self, feats: List[np.ndarray], mask: np.ndarray, stamp: int, newest: int, used: List[str]
    ) -> LabelRecord:
        start = time.perf_counter()
        result = self.primary.step(feats, mask, self._state)
        self.step_ms.add((time.perf_counter() - start) * 1e3)
        self._state = result.state
        self._last_output = (self.calibration.probabilities(result.scores), result.weights)
        return self._label(*self._last_output, stamp, newest, used)

    def _label(
        self,
        probs: np.ndarray,
        weights: Optional[np.ndarray],
        stamp: int,
        newest: int,
        used: List[str],
    ) -> LabelRecord:
        if weights is not None:  # the contributions of the modalities used, in their order
            weights = np.array([weights[self.modalities.index(m)] for m in used], np.float32)
        class_id = int(np.argmax(probs))
        if probs[class_id] < self.unknown_threshold:
            class_id = UNKNOWN_CLASS_ID
        return LabelRecord(
            stamp,
            probs,
            class_id,
            list(used),
            weights,
            self.settings.fusion_mode,
            newest,
        )

    def _fresh(self, now: int) -> List[str]:
        max_age = self.settings.max_age * NS_PER_S
        return [
            m
            for m in self.modalities
            if m in self.latest and now - self.latest[m].stamp <= max_age
        ]

    def on_timer(self, now: int) -> List[LabelRecord]:
        """A tick at ``fusion_rate_hz`` (late and async modes; nothing in early mode)."""
        with self._lock:
            mode = self.settings.fusion_mode
            if mode == 'early':
                return []
            fresh = self._fresh(now)
            if not fresh:
                if self.latest:
                    self.fusion_drops.add('no_fresh_input')
                return []
            latest = self.latest
            stamp = max(latest[m].stamp for m in fresh)
            self._check_gap(stamp)
            newest = max(latest[m].newest_sample for m in fresh)
            mask = np.array([m in fresh for m in self.modalities], dtype=np.float32)
            if mode == 'late':
                if self._state is None:
                    return []
                assert self.late is not None
                start = time.perf_counter()
                logp, weights = self.late.decide(self._state, mask)
                self.step_ms.add((time.perf_counter() - start) * 1e3)
                probs = self.calibration.probabilities(logp)
                return [self._label(probs, weights, stamp, newest, fresh)]
            if self._last_output is not None and all(
                latest[m].seq == self._last_step_seq.get(m) for m in fresh
            ):
                return [self._label(*self._last_output, stamp, newest, fresh)]
            feats = [
                latest[m].values if m in fresh else self._zeros(i)
                for i, m in enumerate(self.modalities)
            ]
            self._last_step_seq = {m: latest[m].seq for m in fresh}
            return [self._step(feats, mask, stamp, newest, fresh)]

    # --- health -----------------------------------------------------------------------------
    def masked(self, now: int) -> List[bool]:
        """Per input: left out of fusion now (early: timed out; late, async: stale)."""
        with self._lock:
            if self.settings.fusion_mode == 'early':
                return self.sync.timed_out()
            fresh = self._fresh(now)
            return [m not in fresh for m in self.modalities]

    def input_drops(self, modality: str) -> Dict[str, int]:
        """Drops of ``modality``'s input by cause, the synchronizer's ``unmatched`` included."""
        out = self.drops[modality].snapshot()
        unmatched = self.sync.stats.dropped[self.modalities.index(modality)]
        if unmatched:
            out['unmatched'] = unmatched
        return out

    def _foreign_model(self, modality: str, mono: float) -> str:
        """The other model whose features ``modality`` dropped in the last
        ``stale_error_timeout`` seconds, or ''."""
        model_id, when = self.foreign_models.get(modality, ('', -math.inf))
        return model_id if mono - when <= self.settings.stale_error_timeout else ''

    def input_health(self, now: int) -> List[InputHealth]:
        """What diagnostics report about each input at ``now``."""
        with self._lock:
            mono = self._mono()
            masked = self.masked(now)
            out = []
            for m, is_masked in zip(self.modalities, masked):
                rate, latest = self.rates[m], self.latest.get(m)
                out.append(
                    InputHealth(
                        m,
                        rate.count,
                        rate.rate(mono),
                        rate.age(mono),
                        mono - (self._started if rate.last is None else rate.last),
                        is_masked,
                        None if latest is None else latest.stamp,
                        self.input_drops(m),
                        self.feature_latency[m].percentiles(),
                        self._foreign_model(m, mono),
                        self.without_model_id[m],
                    )
                )
            return out


# --- set-up from the node's parameters ------------------------------------------------------
@dataclass
class FusionSetup:
    """A runtime built from parameters, the checkpoint's state contract and the backend's
    warnings (a slower execution provider than asked for, say)."""

    runtime: FusionRuntime
    contract: StateContract
    warnings: List[str]
    description: ModelDescription


def resolve_reset_after(values: Mapping[str, Any], contract: StateContract) -> Dict[str, Any]:
    """Parameter values with a negative ``reset_after`` replaced by the checkpoint's."""
    value = values.get('reset_after')
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        return {**values, 'reset_after': contract.reset_after}
    return dict(values)


def load_fusion(
    backend: str,
    checkpoint: str = '',
    threads: int = 1,
    onnx_options: Optional[Mapping[str, Any]] = None,
) -> Tuple[List[str], Dict[str, FusionStepper], ModelDescription]:
    """The checkpoint's classes, its fusion steppers from ``backend`` ('torch' or
    'onnxruntime') and its description (id, state contract, calibration); only the torch
    backend imports torch. Raises ``ValueError`` with the loader's message."""
    if backend == 'torch':
        from .checkpoint import CheckpointError
        from .fusion_backend import load_torch_fusion

        try:
            return load_torch_fusion(checkpoint, threads)
        except CheckpointError as exc:
            raise ValueError(str(exc)) from exc
    from .onnx_backend import load_onnx_fusion
    from .onnx_backend import OnnxBackendError

    try:
        return load_onnx_fusion(checkpoint or None, int(threads), **(onnx_options or {}))
    except OnnxBackendError as exc:
        raise ValueError(str(exc)) from exc


def build_fusion(
    values: Mapping[str, Any],
    backend: str = 'torch',
    onnx_options: Optional[Mapping[str, Any]] = None,
    log: Optional[Log] = None,
) -> FusionSetup:
    """The runtime the fusion node's parameter ``values`` describe (names as the node's
    parameters; ``modalities`` None when unset); says on ``log`` what the backend warns about
    and when the state will be reset, and why. Raises ``ValueError`` with a message for the
    operator."""
    log = log or _python_log
    classes, steppers, description = load_fusion(
        backend, values.get('checkpoint', ''), values.get('torch_threads', 1), onnx_options
    )
    contract = StateContract.from_dict(description.runtime)
    try:
        calibration = Calibration.from_dict(description.calibration)
    except ValueError as exc:
        raise ValueError(f'checkpoint {description.checkpoint}: calibration: {exc}') from exc
    settings = {name: values[name] for name in SETTING_NAMES if name in values}
    rt = FusionRuntime(
        steppers,
        classes,
        FusionSettings(**resolve_reset_after(settings, contract)),
        model=values.get('model', ''),
        model_id=description.model_id,
        calibration=calibration,
        log=log,
    )
    warnings = sorted({w for st in steppers.values() for w in getattr(st, 'warnings', [])})
    for warning in warnings:
        log('warning', '', warning)
    wanted = values.get('modalities')
    if wanted and list(wanted) != rt.modalities:
        raise ValueError(
            f"modalities {list(wanted)} do not match the checkpoint's fusion "
            f'model {rt.modalities}'
        )
    own = values.get('reset_after', -1.0) >= 0
    why = 'reset_after parameter' if own else f'checkpoint: {contract.why}'
    log('info', '', f'state: reset after {rt.settings.reset_after:g} s without features ({why})')
    return FusionSetup(rt, contract, warnings, description)


__all__ = [
    'DEFAULT_INPUT_TIMEOUT',
    'FUSION_MODES',
    'Feature',
    'FusionRuntime',
    'FusionSettings',
    'FusionSetup',
    'FusionStepper',
    'InputHealth',
    'LabelRecord',
    'LateFusionStepper',
    'StepResult',
    'build_fusion',
    'check_setting',
    'load_fusion',
    'resolve_reset_after',
    'softmax',
]
