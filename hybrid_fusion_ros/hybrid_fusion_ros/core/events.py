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

"""Activity events (started / ongoing / ended) from the per-window label stream. ROS-free.

The fusion node labels one window every hop (a class, or ``unknown`` when the model is
unsure); behaviour code wants events ("waving started", "the fall ended") that do not
flicker with every doubtful window. :class:`EventTracker` turns the label stream into events
by *hysteresis with a minimum duration*:

- **start**: a class label that holds, as the arg-max of consecutive windows, for
  ``min_duration`` seconds, at a mean confidence over those windows of at least
  ``enter_confidence``, starts an event. The event starts *retroactively*, at the start of the
  first window of that run: the run is what the activity looked like from its beginning,
  only the decision waited. A run that lasts long enough at too low a confidence keeps
  growing (its mean is over the whole run) and starts the event if the mean rises to the
  threshold. ``unknown`` never starts an event.
- **stay**: once started, an event needs no confidence to go on: every window of its label
  extends it (its ``end`` and its mean confidence), and a shorter interruption by other
  labels or ``unknown`` is ignored. That asymmetry (entering is hard, staying is easy) is
  the hysteresis which keeps a borderline activity from flickering on and off.
- **end**: the event ends when windows that are *not* its label (another class, ``unknown``,
  or a mix of them) hold for ``min_duration``; its ``end`` is then the end of its last
  window. If another class held those windows at the entry confidence, its event starts in
  the same update: the tracker returns ``ENDED`` (old) then ``STARTED`` (new).
- **gap**: when no label comes for more than ``max_gap`` seconds of sensor time (a sensor
  dropped, the graph stalled), the open event ends at its last window, either at the next
  label or at :meth:`EventTracker.expire`, which the node calls on a timer. A silence
  shorter than ``max_gap`` neither ends nor extends an event: the labels after it decide.
- **ongoing**: with ``ongoing_period`` > 0, the open event is repeated as ``ONGOING`` every
  ``ongoing_period`` seconds (for consumers that join late or missed the start).

*Durations* are measured as count x hop, from the stamps themselves: each window counts for
the sensor time it adds past the window before it (``window_end - previous window_end``, the
hop on a regular grid), at most its own length (windows missing inside a run leave their time
to the next window). So a run of n windows on a hop-h grid lasts n x h: with hop 0.5 s,
``min_duration`` 1.0 needs two windows and 1.5 needs three; ``min_duration`` 0 makes every
label change an event at once (one window starts an event, one other window ends it). The
first window after a break (the first label, a flush, a gap, a restarted bag) has no window
before it and counts for the last hop measured (0 before any: at the very start a run needs
one window more). Overlapping windows (hop < length) are ordered by their ends.

*Confidence* is the label's confidence as published (a NaN counts as 0, values are clipped to
[0, 1]); an event carries the mean over its supporting windows so far.

*Time* is sensor time in integer nanoseconds throughout. A window end equal to the previous
one is a second label for the same window and is ignored; one that goes backwards (a bag
replay restarted) ends the open event (decided at the newest stamp of the old stream) and
restarts the tracker cleanly on the new stream.

Cost: an update is a few comparisons and additions on running sums (no lists, no per-window
objects); memory does not grow with the stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields
import math
from typing import List, Optional

STARTED, ONGOING, ENDED = 'started', 'ongoing', 'ended'
UNKNOWN = 'unknown'


@dataclass(frozen=True)
class EventSettings:
    """How labels become events (see the module docstring); times in seconds."""

    # Time (count x hop) a label must hold as the arg-max (not 'unknown') before it starts an
    # event; also how long other labels (or unknown) must hold to end the open one.
    min_duration: float = 1.0
    # Mean confidence over those windows needed to start an event, in [0, 1].
    enter_confidence: float = 0.5
    # Sensor time without any label after which the open event ends (at its last window);
    # 0 or inf: never (only labels and flushes end events).
    max_gap: float = 2.0
    # Time between 'ongoing' repeats of the open event; 0: none.
    ongoing_period: float = 0.0

    def check(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f'event settings: {f.name} must be a number, got {value!r}'
                )
            if math.isnan(value) or value < 0:
                raise ValueError(f'event settings: {f.name} must be >= 0, got {value}')
        for name in ('min_duration', 'ongoing_period'):
            if math.isinf(getattr(self, name)):
                raise ValueError(
                    f'event settings: {name} must be finite (seconds), got {getattr(self, name)}'
                )
        if self.enter_confidence > 1.0:
            raise ValueError(
                'event settings: enter_confidence must lie in [0, 1], got '
                f'{self.enter_confidence}'
            )


DEFAULT_SETTINGS = EventSettings()


@dataclass(frozen=True)
class ActivityEvent:
    """One event decision: an activity started, goes on, or ended."""

    label: str
    class_id: int
    start: int  # ns, sensor time: start of the first window of the run that started it
    end: int  # ns: end of the newest window supporting it (for ENDED: its last window)
    confidence: float  # mean confidence of its supporting windows so far
    state: str  # STARTED / ONGOING / ENDED
    stamp: int  # ns, sensor time at which it was decided (end of the window that triggered it)


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


class EventTracker:
    """Hysteresis with a minimum duration over one label stream (see the module docstring).

    Not thread-safe: feed it from one callback (or under the caller's lock)."""

    __slots__ = (
        '_settings', '_min_ns', '_gap_ns', '_period_ns', '_enter', '_unknown',
        '_last_end', '_hop',
        '_c_label', '_c_id', '_c_start', '_c_dur', '_c_sum', '_c_n',
        '_e_label', '_e_id', '_e_start', '_e_end', '_e_sum', '_e_n', '_e_said',
        '_x_dur',
    )

    def __init__(
        self, settings: EventSettings = DEFAULT_SETTINGS, unknown_label: str = UNKNOWN
    ) -> None:
        self._unknown = unknown_label
        self.set_settings(settings)
        self._hop = 0  # the last hop measured (ns); 0 before any
        self._reset_runs()
        self._e_label: Optional[str] = None
        self._e_id = -1
        self._e_start = self._e_end = self._e_said = 0
        self._e_sum = 0.0
        self._e_n = 0
        self._x_dur = 0

    # -- settings ---------------------------------------------------------------------------

    @property
    def settings(self) -> EventSettings:
        return self._settings

    def set_settings(self, settings: EventSettings) -> None:
        """Take new settings at run time (checked first; a refused one changes nothing). The
        open event and the current runs go on, judged by the new thresholds from the next
        label on."""
        settings.check()
        self._settings = settings
        self._min_ns = _ns(settings.min_duration)
        gap = settings.max_gap
        self._gap_ns = 0 if gap == 0 or math.isinf(gap) else _ns(gap)
        self._period_ns = _ns(settings.ongoing_period)
        self._enter = float(settings.enter_confidence)

    # -- the stream -------------------------------------------------------------------------

    def update(
        self, window_start: int, window_end: int, label: str, class_id: int, confidence: float
    ) -> List[ActivityEvent]:
        """Take the label of one window (ns stamps, sensor time); return the events it
        decides, in order (an ENDED then a STARTED when one activity follows another)."""
        out: List[ActivityEvent] = []
        end = int(window_end)
        length = end - int(window_start)
        if not confidence >= 0.0:  # NaN too
            confidence = 0.0
        elif confidence > 1.0:
            confidence = 1.0
        last = self._last_end
        if last is not None:
            if end == last:
                return out  # a second label for the same window
            if end < last:  # the stream restarted (bag replay): close the old one
                out += self.flush(last)
                last = None
            elif self._gap_ns and end - last > self._gap_ns:
                if self._e_label is not None:
                    out.append(self._close(end))
                self._reset_runs()
                last = None
        # What this window adds to a run (count x hop, see the module docstring).
        if last is None:
            credit = self._hop if length <= 0 or self._hop <= length else length
        else:
            credit = end - last
            if length <= 0 or credit <= length:
                self._hop = credit
            else:
                credit = length
        self._last_end = end

        is_class = class_id >= 0 and label != self._unknown and bool(label)
        # The current run of one class label (the start candidate).
        if not is_class:
            self._c_label = None
        elif label == self._c_label:
            self._c_dur += credit
            self._c_sum += confidence
            self._c_n += 1
        else:
            self._c_label = label
            self._c_id = int(class_id)
            self._c_start = int(window_start)
            self._c_dur = credit
            self._c_sum = confidence
            self._c_n = 1

        if self._e_label is not None:
            if is_class and label == self._e_label:
                self._e_end = end
                self._e_sum += confidence
                self._e_n += 1
                self._x_dur = 0
            else:
                self._x_dur += credit
                if self._x_dur >= self._min_ns:
                    out.append(self._close(end))

        if self._e_label is None:
            if (
                self._c_label is not None
                and self._c_dur >= self._min_ns
                and self._c_sum >= self._enter * self._c_n
            ):
                self._e_label = self._c_label
                self._e_id = self._c_id
                self._e_start = self._c_start
                self._e_end = end
                self._e_sum = self._c_sum
                self._e_n = self._c_n
                self._e_said = end
                self._x_dur = 0
                out.append(self._event(STARTED, end))
        elif self._period_ns and end - self._e_said >= self._period_ns:
            self._e_said = end
            out.append(self._event(ONGOING, end))
        return out

    def flush(self, stamp: int) -> List[ActivityEvent]:
        """End the open event now, decided at ``stamp`` (ns; graph reset, model swap,
        shutdown), and forget the current runs: the next label starts afresh."""
        out = [self._close(int(stamp))] if self._e_label is not None else []
        self._reset_runs()
        return out

    def expire(self, now: int) -> List[ActivityEvent]:
        """Sensor time ``now`` (ns): end the open event, decided at ``now``, if no label came
        for more than ``max_gap``; the runs are forgotten too."""
        last = self._last_end
        if last is None or not self._gap_ns or int(now) - last <= self._gap_ns:
            return []
        return self.flush(now)

    @property
    def current(self) -> Optional[ActivityEvent]:
        """The open event as it stands (state ONGOING, stamped at the newest window), or
        None."""
        if self._e_label is None:
            return None
        return self._event(ONGOING, self._e_end if self._last_end is None else self._last_end)

    # -- internals --------------------------------------------------------------------------

    def _reset_runs(self) -> None:
        self._last_end: Optional[int] = None
        self._c_label: Optional[str] = None
        self._c_id = -1
        self._c_start = 0
        self._c_dur = 0
        self._c_sum = 0.0
        self._c_n = 0
        self._x_dur = 0

    def _event(self, state: str, stamp: int) -> ActivityEvent:
        return ActivityEvent(
            self._e_label,
            self._e_id,
            self._e_start,
            self._e_end,
            self._e_sum / self._e_n if self._e_n else 0.0,
            state,
            stamp,
        )

    def _close(self, stamp: int) -> ActivityEvent:
        event = self._event(ENDED, stamp)
        self._e_label = None
        self._x_dur = 0
        return event
