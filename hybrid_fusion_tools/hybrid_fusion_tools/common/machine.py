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

"""What machine a figure was measured on, for every report that prints one."""

from __future__ import annotations

import os
from pathlib import Path
import platform
from typing import Dict


def cpu_name() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def machine() -> Dict[str, object]:
    return {
        'cpu': cpu_name(),
        'cpus': os.cpu_count(),
        'platform': platform.platform(),
        'python': platform.python_version(),
    }


def machine_line() -> str:
    m = machine()
    return f"{m['cpu']}, {m['cpus']} CPUs, {m['platform']}, Python {m['python']}"
