"""How the command line reads a value and writes its lines: flag text to a value, a
user's value shown back, aligned tables, one strict JSON document on stdout.

Shared by the commands (``commands``, ``compare_command``, ``app_command``).
"""

from __future__ import annotations

import json
import math
from typing import Any


def parse_value(text: str) -> Any:
    """CLI text -> bool / int / float / inf / str."""
    low = text.strip().lower()
    if low in ("true", "yes"):
        return True
    if low in ("false", "no"):
        return False
    if low in ("inf", "+inf", "infinity"):
        return math.inf
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def show_value(value: Any) -> str:
    """A user's value shown back: shortened and escaped (base.validation.show)."""
    from ..base.validation import show
    return show(value)


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


def print_json(doc: Any) -> None:
    """One strict JSON document on stdout (NaN as null, infinities as "inf")."""
    from ..compute.export import json_safe
    print(json.dumps(json_safe(doc), allow_nan=False))


def short_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
