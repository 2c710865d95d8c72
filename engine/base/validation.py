"""Parameter rules checked in one place: the helpers every validator uses.

A bad value raises ``ValueError`` naming the field, the value given (shortened: see
:func:`show`) and what is allowed, e.g. ``width=0 is invalid: allowed an integer in
[1, 16384]``. ``noisealign.engine.pipeline.spec`` (experiment fields) and ``noisealign.engine.pipeline.datasets`` (dataset
parameters) both check through these, so a message reads the same wherever it comes
from. Bounds that the dashboard shows next to a control (for example :func:`max_k`)
live here too, so a page never retypes a limit.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .errors import SpecError

# The most characters of a message shown back to a user (dashboard error boxes, notes).
MESSAGE_LIMIT = 600
# Every ASCII punctuation character: CommonMark lets a backslash make any of them literal,
# and between them they start every construct that could fetch or link something
# (images, links, autolinks "https://" and "www.", raw HTML, Streamlit's ":color[...]"
# directives, LaTeX "$...$") or restyle the box (headings, lists, tables, emphasis).
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
# GFM's autolink literals (what Streamlit's frontend adds to CommonMark) are found in the
# *text* after escapes are resolved (mdast-util-gfm-autolink-literal), so a backslash
# before ':' does not stop "https://x" becoming a link. An invisible WORD JOINER (U+2060)
# inside "://", after "www" and before "@" does: the text reads the same.
WORD_JOINER = "\u2060"
_AUTOLINKS = re.compile(r"(?i)(?<=https:)(?=//)|(?<=http:)(?=//)|(?<=www)(?=\.)|(?=@)")


def show(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages.

    Never raises: hostile input (a 10**5000-digit int, whose repr Python refuses, or a
    megabyte string) must still give a short, clear message.
    """
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        if isinstance(value, int):
            return f"<an integer of {value.bit_length()} bits>"
        if isinstance(value, (list, tuple)) and len(value) <= 8:
            text = ", ".join(show(v, limit) for v in value)
            text = f"[{text}]" if isinstance(value, list) else f"({text})"
            return text if len(text) <= limit else text[:limit - 3] + "..."
        return f"<a {type(value).__name__} that cannot be shown>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def for_markdown(message: Any, limit: int = MESSAGE_LIMIT) -> str:
    """``message`` as markdown that shows exactly its text: one line, at most ``limit``
    characters (the rest cut, saying how much), every punctuation character escaped.

    Messages echo what a user typed or a link carried (``?xs=![p](http://...)``); shown
    as markdown unescaped, such a value would make the browser fetch an image or show a
    live link inside an error box, and a 100 000-character value a 200 KB alert. Every
    value the dashboard shows back goes through this one function (``noisealign.ui.page_support``).
    Never raises.
    """
    try:
        text = str(message)
    except Exception:  # a hostile __str__; the type still says what it was
        text = f"<a {type(message).__name__} that cannot be shown>"
    text = " ".join(text.split())  # newlines would start headings, lists, tables
    if len(text) > limit:
        cut = len(text) - (limit - 40)
        text = f"{text[:limit - 40]}... ({cut} more characters not shown)"
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", _AUTOLINKS.sub(WORD_JOINER, text))


def fail(name: str, value: Any, allowed: str) -> None:
    """Raise :class:`noisealign.engine.base.errors.SpecError` (a ValueError) for ``name``."""
    raise SpecError(name, value, allowed, f"{name}={show(value)} is invalid: allowed {allowed}")


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        isinstance(value, float) and value.is_integer()
    ):
        fail(name, value, f"an integer in [{lo}, {hi}]")
    value = int(value)
    if not lo <= value <= hi:
        fail(name, value, f"an integer in [{lo}, {hi}]")
    return value


def check_float(name: str, value: Any, lo: float, hi: float, *, allow_inf: bool = False,
                 lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        fail(name, value, f"a number in {'(' if lo_open else '['}{lo}, {hi}]")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float range
        fail(name, value, f"a number in {'(' if lo_open else '['}{lo}, {hi}]")
    if math.isnan(value):
        fail(name, value, f"a number in {'(' if lo_open else '['}{lo}, {hi}], not NaN")
    if value == math.inf and allow_inf:
        return value
    bad = value < lo or value > hi or (lo_open and value == lo)
    if bad or math.isinf(value):
        extra = " or inf" if allow_inf else ""
        fail(name, value, f"a number in {'(' if lo_open else '['}{lo}, {hi}]{extra}")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        fail(name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value


def max_k(n_points: int) -> int:
    """The largest neighbour count ``k`` the measures accept on ``n_points`` points.

    Ranks are taken among the other ``N - 1`` points, and the k-th neighbour must leave
    at least one point beyond it for a rank to mean anything, so ``k <= N - 2``. Pages
    show this bound next to their k controls; :func:`check_k` enforces it.
    """
    return int(n_points) - 2


def check_k(k: Any, n_points: int, name: str = "k") -> int:
    """``k`` as an int in ``[1, max_k(n_points)]``, else ``ValueError`` naming ``name``."""
    import numbers
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        fail(name, k, "an integer >= 1")
    k = int(k)
    if k > max_k(n_points):
        allowed = f"1 to N - 2 = {max_k(n_points)}"
        raise SpecError(name, k, allowed, f"{name}={k} is invalid for N={n_points} points: "
                        f"allowed {allowed}")
    return k
