"""How quantities read: one format for bytes and one for durations, everywhere.

Bytes are decimal (kB, MB, GB), as the memory limits are given (``NOISEALIGN_MAX_MEMORY``
in GB, noisealign.engine.compute.guard); durations read "about 40 s", "about 12.5 min", "about 3.5 h".
noisealign.engine.compute.guard's messages, the CLI and the dashboard's pages use these.
"""

from __future__ import annotations

import math


def format_bytes(n: float) -> str:
    """Decimal units: 3.2 GB, 450 MB, 12 kB, 512 B."""
    if n >= 1e9:
        return f"{n / 1e9:.1f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.0f} MB"
    if n >= 1e3:
        return f"{n / 1e3:.0f} kB"
    return f"{max(n, 0):.0f} B"


def format_seconds(s: float) -> str:
    """about 40 s, about 12.5 min, about 45 min, about 3.5 h (under 1 s; "?" when not
    finite)."""
    if not math.isfinite(s):
        return "?"
    if s < 90:
        return f"about {s:.0f} s" if s >= 1 else "under 1 s"
    if s < 1200:  # one decimal: "10.4 min" over a limit of "10.0 min" reads right
        return f"about {s / 60:.1f} min"
    if s < 5400:
        return f"about {s / 60:.0f} min"
    return f"about {s / 3600:.1f} h"


def format_clock(s: float | None) -> str:
    """A duration as a clock, for progress lines: 0:12, 12:05, 1:02:03 ("?" when unknown)."""
    if s is None or not math.isfinite(s):
        return "?"
    t = int(round(s))
    return f"{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}" if t >= 3600 else \
        f"{t // 60}:{t % 60:02d}"
