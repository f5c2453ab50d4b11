"""What machine a figure was measured on, for every report that prints one."""
from __future__ import annotations

import os
import platform
from pathlib import Path
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
    return {'cpu': cpu_name(), 'cpus': os.cpu_count(), 'platform': platform.platform(),
            'python': platform.python_version()}


def machine_line() -> str:
    m = machine()
    return f"{m['cpu']}, {m['cpus']} CPUs, {m['platform']}, Python {m['python']}"
