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

"""The encoder and fusion nodes' own parameters: names (as in config/classifier.yaml),
defaults and what each means, with no ROS in it.

The nodes declare them from these tables with descriptors (node_common.py); the defaults
are those of the runtimes' configurations (:class:`~.encoder_runtime.EncoderConfig`,
:class:`~.fusion_runtime.FusionSettings`). :data:`MODEL_NODE_PARAMETERS` are those every
node that runs a model declares besides its own table (inference backend, executor).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Tuple

from .encoder_runtime import EncoderConfig
from .fusion_runtime import FUSION_MODES
from .fusion_runtime import FusionSettings


class ParameterSpec(NamedTuple):
    """One parameter; ``default`` None declares a string array left unset until given."""

    name: str
    default: Any
    description: str
    read_only: bool = False


_THREADS = 'intra-op threads of the inference backend (torch or onnxruntime) for this process'
_PERIOD = 'seconds between /diagnostics messages'
_CHECKPOINT = 'checkpoint file; empty: the packaged default'

_e = EncoderConfig()
ENCODER_PARAMETERS: Tuple[ParameterSpec, ...] = (
    ParameterSpec(
        'input',
        _e.input,
        "the checkpoint's input this node encodes (e.g. wrist_imu); empty: the node name"
        " without its '_encoder' suffix",
        True,
    ),
    ParameterSpec(
        'encoder',
        _e.encoder,
        "encoder plugin (entry point in group 'hybrid_fusion_ros.encoders'); empty: the "
        "checkpoint's encoder for this input",
        True,
    ),
    ParameterSpec('checkpoint', _e.checkpoint, _CHECKPOINT, True),
    ParameterSpec(
        'input_topic',
        _e.input_topic,
        'sensor topic; empty: <input>/image_raw, <input>/data or <input>/chunk by sensor type',
        True,
    ),
    ParameterSpec(
        'image_transport',
        _e.image_transport,
        "camera only: 'raw' (Image) or 'compressed' (CompressedImage)",
        True,
    ),
    ParameterSpec(
        'feature_topic', _e.feature_topic, 'output topic; empty: features/<input>', True
    ),
    ParameterSpec('torch_threads', _e.torch_threads, _THREADS, True),
    ParameterSpec(
        'input_queue_depth',
        _e.input_queue_depth,
        'subscription queue depth; size it to the sensor rate times the longest stall to'
        ' absorb (0: by sensor type, camera 5, imu 50, audio 10)',
        True,
    ),
    ParameterSpec(
        'max_buffer_chunks',
        _e.max_buffer_chunks,
        'bound on buffered messages (oldest dropped and counted beyond it)',
        True,
    ),
    ParameterSpec(
        'stale_timeout',
        _e.stale_timeout,
        'seconds without input before diagnostics report the input as stale (WARN)',
    ),
    ParameterSpec(
        'input_reliability',
        _e.input_reliability,
        "input QoS reliability: 'best_effort' (SensorDataQoS, for live sensors) or"
        " 'reliable' (offline replay faster than real time: the publisher waits instead of"
        ' losing data)',
        True,
    ),
    ParameterSpec(
        'drain_batch',
        _e.drain_batch,
        'queued input messages handled per callback without returning to the executor'
        ' (0 = one per callback); cuts the per-message executor cost of high-rate sensors',
        True,
    ),
    ParameterSpec(
        'sensor_rate_hz',
        _e.sensor_rate_hz,
        "the sensor's nominal rate (samples/s; audio: sample rate), for gap detection and"
        " a window's minimum fill; 0 = the rate measured in training (else the encoder's)",
        True,
    ),
    ParameterSpec('diagnostics_period', _e.diagnostics_period, _PERIOD, True),
)

_f = FusionSettings()
FUSION_PARAMETERS: Tuple[ParameterSpec, ...] = (
    ParameterSpec('checkpoint', '', _CHECKPOINT, True),
    ParameterSpec('fusion_mode', _f.fusion_mode, f'fusion mode: {", ".join(FUSION_MODES)}'),
    ParameterSpec(
        'model',
        '',
        'fusion model of the checkpoint used in early and async modes, by '
        "strategy (e.g. 'attention', which reports per-modality weights); "
        "empty: the checkpoint's primary model",
        True,
    ),
    ParameterSpec(
        'slop', _f.slop, 'early mode: max stamp spread of one matched feature set (s)'
    ),
    ParameterSpec(
        'queue_size',
        _f.queue_size,
        'early mode: features kept per input while waiting for a match',
        True,
    ),
    ParameterSpec(
        'input_timeout',
        _f.input_timeout,
        'early mode: an input silent this long (s, in stamp time and on the wall clock) is '
        'masked and sets are fused without it until it speaks again; 0: wait for every input',
        True,
    ),
    ParameterSpec('fusion_rate_hz', _f.fusion_rate_hz, 'late and async modes: label rate (Hz)'),
    ParameterSpec(
        'max_age',
        _f.max_age,
        'late and async modes: features older than this (s) are stale and masked',
    ),
    ParameterSpec(
        'feature_topic_prefix', 'features', 'features are read from <prefix>/<input>', True
    ),
    ParameterSpec('label_topic', 'activity', 'topic of the published ActivityLabel', True),
    ParameterSpec(
        'reset_after',
        -1.0,
        'reset the LSTM state after a gap in features longer than this (s); negative: the '
        "checkpoint's state contract, decided in training from its data (5.0 for "
        'checkpoints without one)',
    ),
    ParameterSpec(
        'jump_threshold',
        _f.jump_threshold,
        'a feature stamped this much (s) before the last one is a clock jump (state reset); '
        'less is out of order (dropped, counted)',
    ),
    ParameterSpec(
        'stale_timeout',
        _f.stale_timeout,
        'seconds without a feature (a label) before its input (the fusion status) is WARN',
    ),
    ParameterSpec(
        'stale_error_timeout',
        _f.stale_error_timeout,
        'seconds without a feature (a label) before its input (the fusion status) is ERROR',
    ),
    ParameterSpec('latency_warn_ms', _f.latency_warn_ms, 'label latency p95 above this is WARN'),
    ParameterSpec(
        'latency_error_ms', _f.latency_error_ms, 'label latency p95 above this is ERROR'
    ),
    ParameterSpec(
        'unknown_threshold',
        _f.unknown_threshold,
        "a window whose highest (calibrated) probability is below this is labelled 'unknown'"
        " (class_id -1); in [0, 1] (0: never unknown); -1: the checkpoint's, fitted in training",
    ),
    ParameterSpec('event_topic', 'activity_events', 'topic of the published ActivityEvent', True),
    ParameterSpec(
        'event_min_duration',
        _f.event_min_duration,
        'events: seconds a label must hold before it starts an event, and another label (or '
        "'unknown') before it ends one; 0: every change of label is an event",
    ),
    ParameterSpec(
        'event_enter_confidence',
        _f.event_enter_confidence,
        "events: mean confidence a label's windows need to start an event, in [0, 1]",
    ),
    ParameterSpec(
        'event_max_gap',
        _f.event_max_gap,
        'events: seconds (sensor time) without any label after which the open event ends',
    ),
    ParameterSpec(
        'event_ongoing_period',
        _f.event_ongoing_period,
        "events: seconds between 'ongoing' repeats of an open event; 0: none",
    ),
    ParameterSpec(
        'debug_image',
        False,
        'publish ~/debug_image: the newest camera frame with the label, the top probabilities '
        'and the per-modality weights drawn on it (costs a few ms per label while subscribed)',
        True,
    ),
    ParameterSpec(
        'debug_image_topic',
        '',
        "camera topic (sensor_msgs/Image) drawn on ~/debug_image; empty: the model's first "
        'camera input (<input>/image_raw), or a blank canvas without one',
        True,
    ),
    ParameterSpec('diagnostics_period', 1.0, _PERIOD, True),
    ParameterSpec('torch_threads', 1, _THREADS, True),
    ParameterSpec(
        'modalities', None, "modalities to fuse; unset: the checkpoint's, in its order", True
    ),
)

# Every node that runs a model declares these besides its own table: the inference backend,
# its ONNX Runtime options and the executor. Command lines send them to every node of the graph
# (ros/graph.py's route_parameters).
INFERENCE_BACKENDS: Tuple[str, ...] = ('torch', 'onnxruntime')
BACKEND_PARAMETERS: Tuple[ParameterSpec, ...] = (
    ParameterSpec(
        'inference_backend',
        'torch',
        "'torch' (the checkpoint itself) or 'onnxruntime' (its exported ONNX files: the "
        'process then never imports torch)',
        True,
    ),
    ParameterSpec(
        'onnx_providers',
        ['CPUExecutionProvider'],
        'onnxruntime: execution providers in order of preference, e.g.'
        ' [TensorrtExecutionProvider, CUDAExecutionProvider, CPUExecutionProvider]; falling'
        ' back past the first is a WARN',
        True,
    ),
    ParameterSpec(
        'onnx_dir',
        '',
        'onnxruntime: folder of the exported ONNX files; empty: <checkpoint>.onnx/ beside the '
        'checkpoint, else the cache (~/.cache/hybrid_fusion_ros/onnx/<checkpoint sha256>)',
        True,
    ),
    ParameterSpec(
        'onnx_export',
        True,
        'onnxruntime: when no ONNX files are found, export them once (a child process with '
        'torch) into the cache; false: fail with the export command to run',
        True,
    ),
)
EXECUTOR_PARAMETER = ParameterSpec(
    'executor',
    'single',
    "executor spinning this node: 'single' (SingleThreadedExecutor, default, cheapest per "
    "message) or 'multi' (MultiThreadedExecutor with 2 threads)",
    True,
)
MODEL_NODE_PARAMETERS: Tuple[ParameterSpec, ...] = (*BACKEND_PARAMETERS, EXECUTOR_PARAMETER)
