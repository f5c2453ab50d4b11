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

"""The debug overlay (core/overlay.py), judged by its pixels, and the Foxglove layout that
shows it. Needs numpy and OpenCV only (no torch, no rclpy)."""

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from hybrid_fusion_ros.core import overlay
from hybrid_fusion_ros.core.overlay import BACKGROUND_COLOUR
from hybrid_fusion_ros.core.overlay import BAR_COLOUR
from hybrid_fusion_ros.core.overlay import LABEL_COLOUR
from hybrid_fusion_ros.core.overlay import render_overlay
from hybrid_fusion_ros.core.overlay import to_bgr8
from hybrid_fusion_ros.core.overlay import TRACK_COLOUR
from hybrid_fusion_ros.core.overlay import UNKNOWN_COLOUR
from hybrid_fusion_ros.core.overlay import WEIGHT_COLOUR

PACKAGE = Path(__file__).resolve().parents[2]
LAYOUT = PACKAGE / 'config' / 'foxglove_layout.json'
CLASSES = ['walking', 'running', 'sitting', 'standing']
RED = (0, 0, 255)


def render(frame=None, probabilities=(0.1, 0.6, 0.3, 0.0), **kw):
    args = {'label': 'running', 'confidence': 0.6, 'class_names': CLASSES}
    args.update(kw)
    return render_overlay(frame, probabilities=probabilities, **args)


def mask(image, colour):
    return np.all(image == np.array(colour, np.uint8), axis=2)


def bands(rows_hit):
    """(first, last) row of each run of consecutive True rows."""
    out, start = [], None
    for y, hit in enumerate(list(rows_hit) + [False]):
        if hit and start is None:
            start = y
        elif not hit and start is not None:
            out.append((start, y - 1))
            start = None
    return out


def bar_lengths(image, colour):
    """The filled length (pixels) of each bar of ``colour``, top to bottom."""
    hit = mask(image, colour)
    return [int(hit[a:b + 1].sum(axis=1).max()) for a, b in bands(hit.any(axis=1))]


# --- size and frame -------------------------------------------------------------------------
@pytest.mark.parametrize(
    'size', [(480, 640), (640, 480), (720, 1280), (64, 64), (1, 1), (37, 501)]
)
@pytest.mark.parametrize('frame_shape', [None, (480, 640), (100, 400), (400, 100), (3, 3)])
def test_the_output_has_exactly_the_size_asked(size, frame_shape):
    frame = None if frame_shape is None else np.full(frame_shape + (3,), 128, np.uint8)
    image = render(frame, size=size, footer='model 3f2a9c1b07de  latency 7.2 ms')
    assert image.shape == size + (3,) and image.dtype == np.uint8


def test_a_same_size_frame_shows_unchanged_outside_the_panel_and_footer():
    frame = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    before = frame.copy()
    image = render(frame, footer='model x')
    np.testing.assert_array_equal(image[300:440, 400:], frame[300:440, 400:])
    np.testing.assert_array_equal(frame, before)  # the caller's frame is not drawn on


def test_the_panel_and_footer_darken_what_lies_under_them():
    image = render(np.full((480, 640, 3), 200, np.uint8), footer='model x')
    assert (image[:3, :300] < 100).all()  # the panel's top margin
    assert (image[-1, :] < 100).all()  # the footer's bottom edge
    assert (image[300:440, 400:] == 200).all()


def test_a_wide_frame_is_letterboxed_above_and_below():
    image = render(np.full((100, 400, 3), RED, np.uint8))  # 4:1 into 640x480: 640x160
    assert mask(image[170:310, 400:620], RED).all()
    assert mask(image[330:440, 400:620], BACKGROUND_COLOUR).all()  # the bar below the frame
    assert not mask(image, RED)[:150].any() and not mask(image, RED)[330:].any()


def test_a_tall_frame_is_pillarboxed_left_and_right():
    image = render(np.full((400, 100, 3), RED, np.uint8))  # 1:4 into 640x480: 120x480
    red = mask(image, RED)
    columns = np.flatnonzero(red[300:440].any(axis=0))
    assert columns.min() == 260 and columns.max() == 379
    assert mask(image[300:440, 400:], BACKGROUND_COLOUR).all()


@pytest.mark.parametrize('shape', [(3000, 4000, 3), (2160, 3840, 4), (4000, 300)])
def test_a_huge_frame_is_scaled_down_into_the_image(shape):
    frame = np.zeros(shape, np.uint8)
    frame[..., 2 if len(shape) == 3 else slice(None)] = 255  # red, or white when mono
    image = render(frame, size=(240, 320))
    assert image.shape == (240, 320, 3)
    centre = image[150:200, 200:300] if shape[0] < shape[1] else image[150:200, 155:165]
    expected = RED if len(shape) == 3 else (255, 255, 255)
    assert mask(centre, expected).all()


def test_no_frame_draws_on_a_dark_canvas():
    image = render(None)
    assert mask(image[300:, 400:], BACKGROUND_COLOUR).all()


# --- what the panel says --------------------------------------------------------------------
def test_class_bars_are_sorted_and_as_long_as_their_probability():
    image = render(None, probabilities=(0.1, 0.6, 0.3, 0.0))
    lengths = bar_lengths(image, BAR_COLOUR)
    assert len(lengths) == 3  # a probability of 0 fills nothing
    top, second, third = lengths
    assert top > second > third > 0
    assert abs(top / second - 2.0) < 0.1 and abs(top / third - 6.0) < 0.5


def test_a_more_probable_top_class_draws_a_longer_bar():
    sure = bar_lengths(render(None, probabilities=(0.95, 0.05, 0, 0)), BAR_COLOUR)[0]
    unsure = bar_lengths(render(None, probabilities=(0.4, 0.35, 0.25, 0)), BAR_COLOUR)[0]
    assert sure > 2 * unsure


def test_top_k_limits_the_bars():
    probabilities = (0.4, 0.3, 0.2, 0.1)
    assert len(bar_lengths(render(None, probabilities=probabilities, top_k=2), BAR_COLOUR)) == 2
    assert len(bar_lengths(render(None, probabilities=probabilities), BAR_COLOUR)) == 4
    assert not mask(render(None, probabilities=probabilities, top_k=0), BAR_COLOUR).any()


def test_modality_weights_get_their_own_bars_below_the_classes():
    image = render(None, modalities=['camera', 'imu'], weights=[0.75, 0.25])
    weight_rows = np.flatnonzero(mask(image, WEIGHT_COLOUR).any(axis=1))
    class_rows = np.flatnonzero(mask(image, BAR_COLOUR).any(axis=1))
    assert weight_rows.min() > class_rows.max()
    first, second = bar_lengths(image, WEIGHT_COLOUR)
    assert abs(first / second - 3.0) < 0.2
    # Without weights there are no weight bars (the modalities are named in a line instead).
    assert not mask(render(None, modalities=['camera', 'imu']), WEIGHT_COLOUR).any()


def near(image, colour, tolerance=12):
    return int((np.abs(image.astype(int) - np.array(colour)).max(axis=2) <= tolerance).sum())


def greenish(image):
    b, g, r = (image[..., i].astype(int) for i in range(3))
    return int(((g > r + 40) & (g > b + 40)).sum())


def test_an_unknown_label_is_drawn_in_its_own_colour():
    title = (slice(0, 45), slice(0, 200))
    known = render(None, label='running')[title]
    unknown = render(None, label='unknown', unknown=True)[title]
    assert near(known, LABEL_COLOUR) > 50 and near(known, UNKNOWN_COLOUR) == 0
    assert near(unknown, UNKNOWN_COLOUR) > 50 and near(unknown, LABEL_COLOUR) == 0


def test_text_stays_inside_a_small_image_and_its_panel():
    # A long label and footer in a narrow image: cut to fit, with the confidence kept.
    image = render(None, label='x' * 200, confidence=0.5, footer='y' * 500, size=(200, 160))
    assert image.shape == (200, 160, 3)
    title = image[:30]
    assert greenish(title) > 20  # the label
    white = (title.min(axis=2) > 120).sum(axis=0)
    assert white[80:].sum() > 20  # and the confidence after it, in white
    # The bars shrink to leave room for the percentages at the right.
    track = np.flatnonzero(mask(image, TRACK_COLOUR).any(axis=0))
    assert track.size and track.max() < 160 - 25


# --- robustness -----------------------------------------------------------------------------
NAN = float('nan')


@pytest.mark.parametrize(
    'kw',
    [
        {'probabilities': [0.2, 0.3, 0.1, 0.3, 0.05, 0.05]},  # more probabilities than names
        {'probabilities': [0.9]},  # fewer
        {'probabilities': [NAN, 0.5, NAN, 0.5]},
        {'probabilities': [], 'class_names': []},
        {'probabilities': [2.0, -1.0, math.inf, -math.inf]},
        {'probabilities': np.array([0.25, 0.25, 0.25, 0.25], np.float32)},
        {'probabilities': None, 'class_names': None, 'modalities': None, 'weights': None},
        {'confidence': NAN, 'label': ''},
        {'confidence': 'high', 'label': None},
        {'label': 'gehen \u00fcber die Stra\u00dfe \u2713\nnext line'},
        {'modalities': ['camera', 'imu', 'audio'], 'weights': [0.5]},
        {'modalities': [], 'weights': [0.5, NAN, 7.0]},
        {'modalities': ['camera'], 'weights': [NAN]},
        {'top_k': -3},
        {'top_k': 1000},
        {'size': (64, 64), 'footer': 'model 3f2a9c1b07de  latency 7.2 ms'},
        {'size': (1, 1), 'footer': 'f', 'modalities': ['a'], 'weights': [1.0]},
        {'size': (2, 900)},
        {'size': (900, 2)},
        {'size': (2000, 3000)},
        {'frame': np.zeros((0, 0, 3), np.uint8)},
        {'frame': np.full((48, 64), 200, np.uint8)},
        {'frame': np.full((48, 64, 1), 200, np.uint8)},
        {'frame': np.full((48, 64, 4), 200, np.uint8)},
        {'frame': np.full((48, 64, 3), NAN, np.float32)},
        {'frame': np.ones((48, 64, 3), bool)},
        {'frame': np.ones((48, 64, 2), np.uint8)},  # unusable: ignored
        {'frame': np.ones((4, 4, 4, 4), np.uint8)},  # unusable: ignored
        {'frame': np.ones((2, 5000, 3), np.int64)},
        {'frame': np.ones((3000, 4000, 4), np.uint8)[::-1, :, 1:]},  # a reversed, sliced view
        {'frame': np.ones((100, 200, 3), np.uint8)[:, ::-1]},
    ],
)
def test_odd_inputs_never_raise(kw):
    kw = dict(kw)
    frame = kw.pop('frame', None)
    size = kw.get('size', (480, 640))
    image = render(frame, **kw)
    assert image.shape == tuple(size) + (3,) and image.dtype == np.uint8


@pytest.mark.parametrize('size', [(0, 10), (10, 0), (-1, 5), (1,), 'big'])
def test_a_size_below_one_pixel_is_an_error(size):
    with pytest.raises(ValueError, match='size'):
        render(None, size=size)


# --- to_bgr8 --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    'encoding, pixel',
    [
        ('bgr8', (10, 20, 30)),
        ('rgb8', (30, 20, 10)),
        ('bgra8', (10, 20, 30, 255)),
        ('rgba8', (30, 20, 10, 255)),
    ],
)
def test_colour_encodings_become_bgr(encoding, pixel):
    frame = np.empty((4, 6, len(pixel)), np.uint8)
    frame[:] = pixel
    out = to_bgr8(frame, encoding)
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8
    assert mask(out, (10, 20, 30)).all()


@pytest.mark.parametrize('shape', [(4, 6), (4, 6, 1)])
def test_mono8_becomes_grey(shape):
    out = to_bgr8(np.full(shape, 77, np.uint8), 'mono8')
    assert out.shape == (4, 6, 3) and mask(out, (77, 77, 77)).all()


def test_none_stays_none():
    assert to_bgr8(None, 'bgr8') is None


def test_an_unknown_encoding_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'yuv422' is not supported.*16UC1"):
        to_bgr8(np.zeros((4, 4, 2), np.uint8), 'yuv422')


@pytest.mark.parametrize(
    'encoding, shape', [('bgr8', (4, 4)), ('rgba8', (4, 4, 3)), ('mono8', (4, 4, 3)),
                        ('16UC1', (4, 4, 3))],
)
def test_a_frame_that_does_not_fit_its_encoding_is_an_error(encoding, shape):
    with pytest.raises(ValueError, match=encoding):
        to_bgr8(np.zeros(shape, np.uint8), encoding)


def depth_ramp(dtype, invalid):
    """60x80 depth rising left to right; the left quarter is ``invalid``."""
    depth = np.tile(np.linspace(0.5, 4.0, 80), (60, 1))
    if dtype == np.uint16:
        depth = depth * 1000.0
    depth = depth.astype(dtype)
    depth[:, :20] = invalid
    return depth


@pytest.mark.parametrize(
    'encoding, dtype, invalid',
    [('16UC1', np.uint16, 0), ('mono16', np.uint16, 0), ('32FC1', np.float32, 0.0),
     ('32FC1', np.float32, np.nan), ('32FC1', np.float32, np.inf),
     ('32FC1', np.float32, -1.0)],
)
def test_depth_is_colour_mapped_and_no_reading_is_black(encoding, dtype, invalid):
    out = to_bgr8(depth_ramp(dtype, invalid), encoding)
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    assert (out[:, :20] == 0).all()
    valid = out[:, 20:]
    assert (valid.max(axis=2) > 0).all()
    assert not (valid[..., 0] == valid[..., 1]).all()  # coloured, not grey
    assert len({tuple(p) for p in valid[0]}) > 30  # the range is spread over the colour map
    assert tuple(valid[0, 0]) != tuple(valid[0, -1])  # near and far differ


def test_depth_outliers_do_not_squash_the_colour_map():
    depth = depth_ramp(np.float32, 0.0)
    depth[0, 30] = 1000.0  # one speck at 1 km
    out = to_bgr8(depth, '32FC1')
    assert len({tuple(p) for p in out[10, 20:]}) > 30


@pytest.mark.parametrize('depth', [np.zeros((6, 8), np.uint16), np.full((6, 8), 1500, np.uint16)])
def test_depth_without_readings_or_range_does_not_raise(depth):
    out = to_bgr8(depth, '16UC1')
    assert out.shape == (6, 8, 3)
    assert (out == 0).all() if not depth.any() else (out.max(axis=2) > 0).all()


def test_a_depth_frame_renders_through_the_overlay():
    image = render(to_bgr8(depth_ramp(np.uint16, 0), '16UC1'), size=(120, 160))
    assert image.shape == (120, 160, 3)


# --- the module and the layout --------------------------------------------------------------
def test_importing_the_module_needs_no_cv2_torch_or_ros():
    tree = ast.parse(Path(overlay.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name.split('.')[0] for n in top if isinstance(n, ast.Import) for a in n.names}
    names |= {(n.module or '').split('.')[0] for n in top if isinstance(n, ast.ImportFrom)}
    assert not names & {'cv2', 'torch', 'rclpy', 'sensor_msgs'}, names


def leaves(node):
    if isinstance(node, str):
        return [node]
    assert node['direction'] in ('row', 'column') and 0 < node['splitPercentage'] < 100
    return leaves(node['first']) + leaves(node['second'])


def test_the_foxglove_layout_shows_the_four_topics():
    layout = json.loads(LAYOUT.read_text())
    assert {'configById', 'globalVariables', 'userNodes', 'playbackConfig', 'layout'} <= set(
        layout
    )
    panels = layout['configById']
    assert sorted(leaves(layout['layout'])) == sorted(panels)
    by_type = {key.split('!')[0]: config for key, config in panels.items()}
    assert set(by_type) == {'Image', 'Plot', 'RawMessages', 'DiagnosticSummary'}
    assert by_type['Image']['imageMode']['imageTopic'] == '/fusion_node/debug_image'
    paths = [p['value'] for p in by_type['Plot']['paths']]
    assert paths[0] == '/activity.confidence'
    assert paths[1:] == [f'/activity.probabilities[{i}]' for i in range(4)]
    assert by_type['RawMessages']['topicPath'] == '/activity_events'
    assert by_type['DiagnosticSummary']['topicToRender'] == '/diagnostics'
