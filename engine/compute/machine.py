"""What memory this machine has: available now and in all, from /proc/meminfo and the cgroup.

Apart from :mod:`noisealign.engine.compute.guard`, which compares its estimates with
these: reading the operating system's figures is a job of its own (Linux files, the
cgroup v2 limits, ``math.inf`` where neither can be read). The guard re-exports both.
"""

from __future__ import annotations

import math


def available_memory_bytes() -> float:
    """Memory this process can still take: ``MemAvailable`` of /proc/meminfo, lowered
    to the cgroup's remaining allowance (``memory.max - memory.current``) when one is
    set; ``math.inf`` where neither can be read (not Linux)."""
    avail = math.inf
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = float(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            cap = f.read().strip()
        if cap != "max":
            with open("/sys/fs/cgroup/memory.current") as f:
                used = float(f.read().strip())
            avail = min(avail, max(0.0, float(cap) - used))
    except (OSError, ValueError):
        pass
    return avail


def total_memory_bytes() -> float:
    """All the memory this process could ever have: ``MemTotal`` of /proc/meminfo,
    lowered to the cgroup's ``memory.max`` when one is set; ``math.inf`` if unknown."""
    total = math.inf
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    total = float(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f:
            cap = f.read().strip()
        if cap != "max":
            total = min(total, float(cap))
    except (OSError, ValueError):
        pass
    return total
