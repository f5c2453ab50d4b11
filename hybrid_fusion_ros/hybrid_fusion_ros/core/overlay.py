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

"""The debug overlay: the newest camera frame with the fused label, the class probabilities and
the per-modality weights drawn over it, for rqt_image_view, RViz or Foxglove (ROS-free).

:func:`to_bgr8` turns a decoded ``sensor_msgs/Image`` array of any supported encoding (colour,
mono or depth) into BGR; :func:`render_overlay` draws the overlay on it, or on a dark canvas when
there is no frame. Everything is drawn with OpenCV primitives into an image of a fixed size, and
only the panel and footer regions are blended, so one render of 640x480 costs about half a
millisecond. OpenCV is imported inside the functions: importing this module needs only numpy.
"""

from __future__ import annotations

import math
from typing import List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

# Colours (BGR). Public so that tests and callers can find what was drawn. The canvas is grey,
# so it is filled per byte (numpy broadcasts a 3-vector two orders of magnitude slower).
BACKGROUND_LEVEL = 24
BACKGROUND_COLOUR = (BACKGROUND_LEVEL,) * 3
LABEL_COLOUR = (110, 230, 110)  # a known label: green
UNKNOWN_COLOUR = (0, 170, 255)  # 'unknown': amber
TEXT_COLOUR = (235, 235, 235)
BAR_COLOUR = (235, 165, 50)  # class probabilities: blue
WEIGHT_COLOUR = (200, 110, 225)  # modality weights: violet
TRACK_COLOUR = (72, 72, 72)  # the unfilled part of a bar

COLOUR_ENCODINGS = ('bgr8', 'rgb8', 'bgra8', 'rgba8', 'mono8')
# Depth encodings: 16UC1 and mono16 in millimetres (as ros/conversions.py reads mono16), 32FC1
# in metres. The unit does not matter here: depth is normalised to its own robust range.
DEPTH_ENCODINGS = ('16UC1', 'mono16', '32FC1')
# The depth range shown: these percentiles of the valid pixels, so a few outliers (a speck at
# 60 m, a reflection at 1 mm) do not squash the colour map.
DEPTH_PERCENTILES = (1.0, 99.0)
# The percentiles are estimated on a strided sample of at most about this many pixels.
_DEPTH_SAMPLE = 10_000
# Types cv2.resize takes as they are.
_CV_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64))
# The smallest text and bar scale (1 at 640x480).
_MIN_SCALE = 0.6
# Panel and footer: the frame keeps this share of its brightness under them.
_PANEL_KEEP = 0.35
_PANEL_TINT = (1.0 - _PANEL_KEEP) * 16.0


def to_bgr8(frame: Optional[np.ndarray], encoding: str) -> Optional[np.ndarray]:
    """``(H, W, 3)`` uint8 BGR for a frame decoded from a ``sensor_msgs/Image``; None for None.

    ``encoding`` names the array's layout: ``bgr8``, ``rgb8``, ``bgra8``, ``rgba8`` (``HxWx3`` or
    ``HxWx4``), ``mono8`` (``HxW`` or ``HxWx1``), or the depth encodings ``16UC1``/``mono16``
    (millimetres) and ``32FC1`` (metres), ``HxW``. Depth is normalised to the 1st-99th percentile
    of its valid pixels (finite and > 0) and colour-mapped (TURBO where OpenCV has it, else JET);
    invalid pixels are black. A contiguous uint8 ``bgr8`` frame is returned as it is, not copied.
    An unknown encoding or an array that does not fit it raises :class:`ValueError`.
    """
    if frame is None:
        return None
    import cv2

    if encoding not in COLOUR_ENCODINGS and encoding not in DEPTH_ENCODINGS:
        raise ValueError(
            f"debug image: encoding '{encoding}' is not supported; use one of "
            f"{', '.join(COLOUR_ENCODINGS + DEPTH_ENCODINGS)}"
        )
    image = np.asarray(frame)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if encoding in DEPTH_ENCODINGS:
        if image.ndim != 2:
            raise ValueError(
                f"debug image: a '{encoding}' frame must be HxW, got shape {image.shape}"
            )
        return _depth_to_bgr(image)
    channels = {'bgr8': 3, 'rgb8': 3, 'bgra8': 4, 'rgba8': 4, 'mono8': 1}[encoding]
    got = 1 if image.ndim == 2 else (image.shape[2] if image.ndim == 3 else -1)
    if got != channels:
        want = 'HxW' if channels == 1 else f'HxWx{channels}'
        raise ValueError(
            f"debug image: a '{encoding}' frame must be {want}, got shape {image.shape}"
        )
    image = np.ascontiguousarray(_to_uint8(image))
    if encoding == 'bgr8':
        return image
    code = {
        'rgb8': cv2.COLOR_RGB2BGR,
        'bgra8': cv2.COLOR_BGRA2BGR,
        'rgba8': cv2.COLOR_RGBA2BGR,
        'mono8': cv2.COLOR_GRAY2BGR,
    }[encoding]
    return cv2.cvtColor(image, code)


def render_overlay(
    frame: Optional[np.ndarray],
    label: str,
    confidence: float,
    class_names: Sequence[str],
    probabilities: Sequence[float],
    modalities: Sequence[str] = (),
    weights: Sequence[float] = (),
    top_k: int = 5,
    size: Tuple[int, int] = (480, 640),
    unknown: bool = False,
    footer: str = '',
) -> np.ndarray:
    """The debug image, ``(H, W, 3)`` uint8 BGR of exactly ``size = (H, W)``.

    ``frame`` (``HxWx3`` uint8 BGR; mono, BGRA or other dtypes are coerced, an unusable array is
    ignored) is letterboxed into the image, aspect kept; without it the canvas is dark. A
    semi-transparent panel at the top left holds the label and confidence (in amber when
    ``unknown``), bars for the ``top_k`` most probable classes (name, bar, percentage) and, when
    ``weights`` are given, bars for the per-modality weights (without weights, a line naming the
    ``modalities``); ``footer`` is a line at the bottom. Lists of different lengths, NaN values
    and tiny sizes are drawn as well as they can be; only a size below 1x1 raises ValueError.
    """
    import cv2

    height, width = _checked_size(size)
    canvas = np.full((height, width, 3), BACKGROUND_LEVEL, np.uint8)
    _letterbox_into(canvas, frame)

    font = cv2.FONT_HERSHEY_SIMPLEX
    # Text and bars grow with the image from 640x480 on; below 0.6 of it text would be too small
    # to read, so a small image shows less of the panel (rows that do not fit are left out).
    scale = min(max(min(height / 480.0, width / 640.0), _MIN_SCALE), 4.0)
    margin = max(2, round(8 * scale))
    gap = max(1, round(6 * scale))
    big, big_thick = 0.9 * scale, max(1, round(2 * scale))
    small, small_thick = 0.45 * scale, 1
    row_h = max(4, round(20 * scale))
    name_w, bar_w, value_w = round(110 * scale), round(150 * scale), round(58 * scale)
    spare = width - (2 * margin + 2 * gap + value_w)
    if spare < name_w + bar_w:  # a narrow image: names and bars share what is left
        name_w = max(0, spare * 2 // 5)
        bar_w = max(0, spare - name_w)
    (_, small_h), _ = cv2.getTextSize('Ag', font, small, small_thick)

    footer_text = _printable(footer)
    footer_h = min(height, row_h + 2) if footer_text else 0

    # What the panel holds.
    title = _printable(label) or '-'
    conf = _as_float(confidence)
    conf_text = f'  {conf * 100:.0f}%' if math.isfinite(conf) else '  --%'
    title_w = cv2.getTextSize(title, font, big, big_thick)[0][0]
    conf_w = cv2.getTextSize(conf_text, font, big, big_thick)[0][0]
    (_, title_h), title_base = cv2.getTextSize('Ag', font, big, big_thick)
    class_rows = _top_rows(class_names, probabilities, top_k, 'class')
    weight_values = _floats(weights)
    modality_names = _names(modalities)
    weight_rows = _rows(modality_names, weight_values, 'modality') if weight_values else []
    modality_line = ''
    if not weight_rows and modality_names:
        modality_line = 'modalities: ' + ', '.join(_printable(m) for m in modality_names)

    bars_w = margin + name_w + gap + bar_w + gap + value_w + margin
    panel_w = min(width, max(bars_w, margin + title_w + conf_w + margin))
    panel_h = margin + title_h + title_base + margin
    panel_h += len(class_rows) * row_h
    if weight_rows:
        panel_h += gap + len(weight_rows) * row_h
    if modality_line:
        panel_h += gap + row_h
    panel_h = min(height - footer_h, panel_h + margin)
    if panel_h > 0 and panel_w > 0:
        _shade(canvas, 0, panel_h, 0, panel_w)

    # Title: the label in its colour, the confidence after it in white.
    y = margin + title_h
    if y <= panel_h:
        room = panel_w - 2 * margin
        # A long label is cut to leave room for the confidence, unless that leaves too little.
        shown = _fit(title, room - conf_w if conf_w <= room * 2 // 3 else room, big, big_thick)
        colour = UNKNOWN_COLOUR if unknown else LABEL_COLOUR
        cv2.putText(canvas, shown, (margin, y), font, big, colour, big_thick, cv2.LINE_AA)
        shown_w = cv2.getTextSize(shown, font, big, big_thick)[0][0] if shown else 0
        rest = _fit(conf_text, room - shown_w, big, big_thick)
        if rest:
            cv2.putText(
                canvas, rest, (margin + shown_w, y), font, big, TEXT_COLOUR, big_thick,
                cv2.LINE_AA,
            )
    top = margin + title_h + title_base + margin

    # Bars: the class probabilities, then the modality weights.
    grid = _Grid(margin, name_w, gap, bar_w, value_w, row_h, small, small_h, panel_h)
    for name, value in class_rows:
        text = f'{min(max(value, 0.0), 1.0) * 100:.1f}%' if math.isfinite(value) else '--'
        _bar_row(canvas, top, grid, name, value, text, BAR_COLOUR)
        top += row_h
    if weight_rows:
        top += gap
        finite = [abs(v) for _, v in weight_rows if math.isfinite(v)]
        full = max([1.0] + finite)  # weights above 1 are drawn relative to the largest
        for name, value in weight_rows:
            text = f'{value:.2f}' if math.isfinite(value) else '--'
            _bar_row(canvas, top, grid, name, value / full, text, WEIGHT_COLOUR)
            top += row_h
    if modality_line:
        top += gap
        y = top + (row_h + small_h) // 2
        if y <= panel_h:
            shown = _fit(modality_line, panel_w - 2 * margin, small, small_thick)
            cv2.putText(
                canvas, shown, (margin, y), font, small, TEXT_COLOUR, small_thick, cv2.LINE_AA
            )

    if footer_h:
        _shade(canvas, height - footer_h, height, 0, width)
        shown = _fit(footer_text, width - 2 * margin, small, small_thick)
        y = height - (footer_h - small_h) // 2
        cv2.putText(canvas, shown, (margin, y), font, small, TEXT_COLOUR, small_thick, cv2.LINE_AA)
    return canvas


# --- frames ---------------------------------------------------------------------------------
def _depth_to_bgr(depth: np.ndarray) -> np.ndarray:
    import cv2

    values = depth.astype(np.float32, copy=False)
    with np.errstate(invalid='ignore'):
        valid = np.isfinite(values) & (values > 0)
    if not valid.any():
        return np.zeros(values.shape + (3,), np.uint8)
    step = max(1, int(math.sqrt(values.size / _DEPTH_SAMPLE)))
    sample = values[::step, ::step][valid[::step, ::step]]
    if sample.size == 0:
        sample = values[valid]
    lo, hi = (float(v) for v in np.percentile(sample, DEPTH_PERCENTILES))
    span = hi - lo if hi > lo else 1.0
    shifted = np.where(valid, values, np.float32(lo)) - np.float32(lo)
    np.maximum(shifted, 0, out=shifted)  # below the range: its first colour
    index = cv2.convertScaleAbs(shifted, alpha=255.0 / span)  # saturates above the range
    colour = cv2.applyColorMap(index, getattr(cv2, 'COLORMAP_TURBO', cv2.COLORMAP_JET))
    # No reading: black (the mask is the bool array's bytes, 0 or 1).
    return cv2.bitwise_and(colour, colour, mask=valid.view(np.uint8))


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """uint8 as is; other types clipped to 0..255 (NaN -> 0)."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.bool_:
        return image.astype(np.uint8) * np.uint8(255)
    values = np.nan_to_num(image.astype(np.float32), nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(values, 0, 255).astype(np.uint8)


def _letterbox_into(canvas: np.ndarray, frame: Optional[np.ndarray]) -> None:
    """Fit ``frame`` into ``canvas`` centred, aspect kept; an unusable frame draws nothing."""
    import cv2

    if frame is None:
        return
    image = np.asarray(frame)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.size == 0 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (3, 4))):
        return
    height, width = canvas.shape[:2]
    src_h, src_w = image.shape[:2]
    ratio = min(height / src_h, width / src_w)
    new_w = min(width, max(1, round(src_w * ratio)))
    new_h = min(height, max(1, round(src_h * ratio)))
    # A frame over twice the output size is first cut to twice it by sampling (nearest), which
    # reads only the pixels it keeps; the area resize below then averages 2x2 at most. Sampling
    # comes before any conversion, so a 4K frame costs about what a 720p one does.
    if ratio < 0.5:
        pre_w, pre_h = min(src_w, 2 * new_w), min(src_h, 2 * new_h)
        if image.dtype in _CV_DTYPES:
            image = cv2.resize(image, (pre_w, pre_h), interpolation=cv2.INTER_NEAREST)
        else:
            image = image[:: max(1, src_h // pre_h), :: max(1, src_w // pre_w)]
    image = image[:, :, :3] if image.ndim == 3 else image
    image = np.ascontiguousarray(_to_uint8(image))
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[:2] != (new_h, new_w):
        shrink = new_w < image.shape[1]
        image = cv2.resize(
            image, (new_w, new_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
    y0, x0 = (height - new_h) // 2, (width - new_w) // 2
    canvas[y0:y0 + new_h, x0:x0 + new_w] = image


def _checked_size(size: Tuple[int, int]) -> Tuple[int, int]:
    try:
        height, width = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f'debug image: size must be (height, width), got {size!r}') from None
    if height < 1 or width < 1:
        raise ValueError(f'debug image: size must be at least (1, 1), got {size!r}')
    return height, width


# --- drawing --------------------------------------------------------------------------------
def _shade(canvas: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> None:
    """Darken a region (the panel or footer): blends only that region."""
    import cv2

    region = canvas[y0:y1, x0:x1]
    if region.size:
        canvas[y0:y1, x0:x1] = cv2.convertScaleAbs(region, alpha=_PANEL_KEEP, beta=_PANEL_TINT)


class _Grid(NamedTuple):
    """Where a bar row's parts go (pixels) and its font scale."""

    margin: int
    name_w: int
    gap: int
    bar_w: int
    value_w: int
    row_h: int
    scale: float
    text_h: int
    bottom: int  # the panel's lower edge: a row that would cross it is not drawn


def _bar_row(
    canvas: np.ndarray,
    top: int,
    grid: _Grid,
    name: str,
    fraction: float,
    text: str,
    colour: Tuple[int, int, int],
) -> None:
    """One row: the name, a bar filled to ``fraction`` (0..1, NaN = empty) and ``text``."""
    import cv2

    margin, name_w, gap, bar_w, value_w, row_h, scale, text_h, bottom = grid
    if top + row_h > bottom:
        return  # the panel is cut off here (a small image): the row would overflow it
    font = cv2.FONT_HERSHEY_SIMPLEX
    baseline = top + (row_h + text_h) // 2
    cv2.putText(
        canvas, _fit(name, name_w, scale, 1), (margin, baseline), font, scale, TEXT_COLOUR, 1,
        cv2.LINE_AA,
    )
    x0 = margin + name_w + gap
    pad = max(1, row_h // 5)
    y0, y1 = top + pad, top + row_h - pad - 1
    if bar_w > 0:
        cv2.rectangle(canvas, (x0, y0), (x0 + bar_w - 1, y1), TRACK_COLOUR, cv2.FILLED)
    filled = round(min(max(fraction, 0.0), 1.0) * bar_w) if math.isfinite(fraction) else 0
    if filled > 0 and y1 >= y0:
        cv2.rectangle(canvas, (x0, y0), (x0 + filled - 1, y1), colour, cv2.FILLED)
    cv2.putText(
        canvas, _fit(text, value_w, scale, 1), (x0 + bar_w + gap, baseline), font, scale,
        TEXT_COLOUR, 1, cv2.LINE_AA,
    )


def _fit(text: str, width: int, scale: float, thickness: int) -> str:
    """``text``, cut and ended with '..' where it is wider than ``width`` pixels."""
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX

    def wide(s: str) -> int:
        return cv2.getTextSize(s, font, scale, thickness)[0][0]

    if not text or width <= 0:
        return ''
    if wide(text) <= width:
        return text
    lo, hi = 0, len(text) - 1
    while lo < hi:  # the longest prefix that fits with '..' after it
        mid = (lo + hi + 1) // 2
        if wide(text[:mid] + '..') <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + '..' if lo else ''


def _printable(text: object) -> str:
    """One line of ASCII (the Hershey fonts have no other glyphs): others become '?'."""
    if text is None:
        return ''
    line = ' '.join(str(text).split())
    return line.encode('ascii', 'replace').decode('ascii')


# --- values ---------------------------------------------------------------------------------
def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _floats(values: Sequence[float]) -> List[float]:
    if values is None:
        return []
    return [_as_float(v) for v in np.asarray(values, dtype=object).ravel()]


def _names(names: Optional[Sequence[str]]) -> List[str]:
    return [] if names is None else list(names)


def _rows(names: Sequence[str], values: List[float], kind: str) -> List[Tuple[str, float]]:
    """(name, value) per value; a value without a name is called '<kind> <index>'."""
    names = _names(names)
    return [
        (_printable(names[i]) if i < len(names) else f'{kind} {i}', value)
        for i, value in enumerate(values)
    ]


def _top_rows(
    names: Sequence[str], values: Sequence[float], top_k: int, kind: str
) -> List[Tuple[str, float]]:
    """The ``top_k`` rows of highest value, descending; NaN ranks last."""
    rows = _rows(names, _floats(values), kind)
    rows.sort(key=lambda row: -row[1] if math.isfinite(row[1]) else math.inf)
    return rows[: max(0, int(top_k))]
