"""Values shown back to a user are text, not markdown (issue 13, case 3).

A link's values reach error boxes; unescaped, ``?xs=![p](http://...)`` made the browser
fetch an image and showed a live link, and a 100 000-character value a 200 KB alert.
The messages are rendered here with a CommonMark renderer (markdown-it, what Streamlit's
own stack parses by) and checked for anything but text.
"""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from noisealign.engine.base.validation import MESSAGE_LIMIT, WORD_JOINER, for_markdown
from tests.app.test_app import open_app

INJECTION = "![p](http://127.0.0.1:9/pixel.png) [click here](https://example.invalid/login)"
HOSTILE = [
    INJECTION,
    "<img src=x onerror=alert(1)> <a href='https://e.invalid'>x</a>",
    "www.example.invalid and mail@example.invalid and https://e.invalid/x?a=1&b=2",
    "# heading\n- list\n| a | b |\n|---|---|\n> quote",
    "**bold** _em_ `code` ~~strike~~ :red[colour] :material/error: $x^2$ \\[x\\]",
    "[ref]: https://e.invalid\n[ref]",
    "&lt;entity&gt; &#x41; \\ backslash at the end \\",
]


def text_only(markdown: str) -> str:
    """The rendered HTML of ``markdown``, which must be a single plain paragraph."""
    html = MarkdownIt("commonmark").render(markdown)
    assert html.startswith("<p>") and html.endswith("</p>\n"), html
    inner = html[3:-5].replace(WORD_JOINER, "")  # invisible: breaks GFM's autolinks
    assert "<" not in inner, html  # no tag at all: no img, a, em, code...
    # GFM (which Streamlit adds) links bare URLs and www. names: none survive as such.
    assert not re.search(r"https?://|www\.|\w@\w", markdown), markdown
    return inner


def shown(text: str) -> str:
    return (" ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


@pytest.mark.parametrize("value", HOSTILE)
def test_for_markdown_shows_exactly_the_text(value):
    assert text_only(for_markdown(value)) == shown(value)


def test_for_markdown_bounds_the_length():
    out = for_markdown("x" * 100_000)
    visible = text_only(out)
    assert len(visible) <= MESSAGE_LIMIT
    assert visible.endswith("(99440 more characters not shown)")


def alignment_errors(**params: str) -> list[str]:
    at = open_app(auto="false", **params)
    assert not at.exception, [e.message for e in at.exception]
    return [e.value for e in at.error]


def test_a_link_cannot_put_an_image_or_a_link_in_an_error_box():
    boxes = alignment_errors(xs=INJECTION)
    assert boxes, "the invalid xs should be explained"
    for body in boxes:
        text_only(body)
    # The message names the field by its label ("x values", ui/labels.py) and shows the
    # hostile value only as text.
    assert any("x values" in text_only(b) and "pixel.png" in text_only(b) for b in boxes)


def test_a_huge_value_gives_a_bounded_message():
    for value in ("x" * 100_000, "1," * 50_000):
        boxes = alignment_errors(xs=value)
        assert boxes
        for body in boxes:
            assert len(text_only(body)) <= MESSAGE_LIMIT, len(body)
