"""What memory this machine has: available now and in all, from /proc/meminfo and the cgroup.

Apart from :mod:`noisealign.engine.compute.guard`, which compares its estimates with
these: reading the operating system's figures is a job of its own (Linux files, the
cgroup v2 limits, ``math.inf`` where neither can be read). The guard re-exports both.
"""

from __future__ import annotations

import math


def _meminfo(key: str) -> float:
    """A /proc/meminfo value in bytes (``math.inf`` where it cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(f"{key}:"):
                    return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return math.inf


def _cgroup(name: str) -> float:
    """A cgroup v2 memory file in bytes (``math.inf`` for "max" or where unreadable)."""
    try:
        with open(f"/sys/fs/cgroup/{name}") as f:
            text = f.read().strip()
        return math.inf if text == "max" else float(text)
    except (OSError, ValueError):
        return math.inf


def available_memory_bytes() -> float:
    """Memory this process can still take: ``MemAvailable`` of /proc/meminfo, lowered
    to the cgroup's remaining allowance (``memory.max - memory.current``) when one is
    set; ``math.inf`` where neither can be read (not Linux)."""
    cap = _cgroup("memory.max")
    if math.isfinite(cap):
        used = _cgroup("memory.current")
        if math.isfinite(used):
            return min(_meminfo("MemAvailable"), max(0.0, cap - used))
    return _meminfo("MemAvailable")


def total_memory_bytes() -> float:
    """All the memory this process could ever have: ``MemTotal`` of /proc/meminfo,
    lowered to the cgroup's ``memory.max`` when one is set; ``math.inf`` if unknown."""
    return min(_meminfo("MemTotal"), _cgroup("memory.max"))
