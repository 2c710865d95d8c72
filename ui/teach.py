"""Teaching widgets: presentation mode, a copy-link button, and "Reproduce this view".

- :func:`sidebar` (called by the router on every page): the *Presentation mode* toggle
  (URL ``present=true``, so a lecturer can bookmark the large view); :func:`share_box`
  (the router, after the page ran): the page's link with a copy button.
- :func:`chart`: ``st.plotly_chart`` for the pages' figures, restyled with large text,
  thick lines and big markers in presentation mode (:func:`ui.plots.presentation_style`).
- :func:`reproduce`: an expander with the CLI line and the Python script that compute
  what the page shows (:mod:`noisealign.engine.cli.handoff`), so a what-if becomes a full sweep on a
  bigger machine or a cluster.
- :func:`control_row`, :func:`wrapping_columns`: rows that wrap onto several lines on a
  narrow screen instead of squeezing every label to two letters.

The pure parts (:func:`page_url`) are testable without Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

PRESENT_KEY = "present"  # the URL / session key of the presentation toggle

# Presentation mode: larger page text, and the expert parts out of the way: the
# alignment page's Training options (its expander has key "training") are hidden; the
# help boxes, downloads and reproduce box are not drawn at all (noisealign.ui.page_support.help_box /
# downloads and reproduce ask presenting()).
_PRESENT_CSS = """
<style>
  .stMainBlockContainer { font-size: 1.2rem; }
  .stMainBlockContainer h1 { font-size: 3rem; }
  .stMainBlockContainer [data-testid="stCaptionContainer"] { font-size: 1.05rem; }
  .stMainBlockContainer [data-testid="stWidgetLabel"] p { font-size: 1.1rem; }
  .st-key-training { display: none; }
</style>
"""


def presenting() -> bool:
    """Whether this tab is in presentation mode (the sidebar toggle, or ``?present=true``)."""
    return bool(st.session_state.get(PRESENT_KEY, False))


def sidebar() -> None:
    """The presentation toggle (every page's sidebar) and, when on, the larger page text."""
    if PRESENT_KEY not in st.session_state and \
            st.query_params.get(PRESENT_KEY, "").lower() in ("1", "yes", "on"):
        st.session_state[PRESENT_KEY] = True  # a hand-written bookmark: ?present=1
    with st.sidebar:
        st.toggle("Presentation mode", key=PRESENT_KEY, bind="query-params",
                  help="Large plot text and lines for a projector; the help boxes, "
                  "downloads, training options and the reproduce box are hidden. The link "
                  "keeps it (present=true).")
    if presenting():
        st.html(_PRESENT_CSS)


def switch_page(page: str) -> None:
    """``st.switch_page(page)`` that works in presentation mode (and never stops it).

    With no ``query_params``, ``st.switch_page`` *clears* the query parameters, and
    Streamlit refuses to clear one bound to a widget (``present``, the toggle above):
    "Cannot clear query parameters - the following are bound to widgets: 'present'"
    (issue 27). An empty mapping replaces them instead, which bypasses that check; the
    toggle keeps its session value and puts ``present=true`` back into the address on
    the target page (Streamlit restores a bound widget's non-default value that is
    missing from the URL), so the link still says what is shown. Raises Streamlit's
    rerun exception, like ``st.switch_page``.
    """
    st.switch_page(page, query_params={})


# ----------------------------------------------------------------------------- link


def page_url(address: str, params: Mapping[str, Any]) -> str:
    """The page's full address with ``params`` as its query (replacing any query the
    ``address`` had): what pasting it into a browser opens.

    ``params`` maps keys to a value or a list of values (repeated keys), in order.
    """
    parts = urlsplit(address)
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs += [(str(key), str(v)) for v in values]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(pairs), ""))


def current_url() -> str:
    """This page's address with every control that differs from its default (the
    controls write themselves into the URL: ``bind="query-params"``)."""
    address = st.context.url or ""
    qp = st.query_params
    return page_url(address, {k: qp.get_all(k) for k in qp})


# The copy button runs in the browser: Streamlit has no clipboard API. It copies the
# address bar as it is at the click (the live URL), with a selectable fallback below.
_COPY_HTML = """
<style>body { margin: 0; font-family: "Source Sans 3", "Source Sans Pro", sans-serif; }</style>
<button id="copy" style="font: inherit; font-size: 15px; width: 100%; height: 38px;
  border-radius: 8px; border: 1px solid rgba(49,51,63,0.2); background: white;
  color: rgb(49,51,63); cursor: pointer;">Copy link to this view</button>
<div id="state" style="font-size: 13px; color: #555; margin-top: 2px;"></div>
<script>
const button = document.getElementById("copy"), state = document.getElementById("state");
button.addEventListener("click", async () => {
  const url = window.parent.location.href;
  try {
    await navigator.clipboard.writeText(url);
    state.textContent = "Copied.";
  } catch (e) {
    state.textContent = "Copy refused by the browser: select the link below.";
  }
  button.dataset.copied = url;
});
</script>
"""


def share_box(where: Any = None) -> None:
    """The copy-link button and, in a popover, the link itself (selectable, with its own
    copy icon): the fallback where a browser refuses the clipboard."""
    where = where if where is not None else st.sidebar
    with where:
        st.iframe(_COPY_HTML, height=62)  # static HTML: no user value goes into it
        # a popover, not an expander: presentation mode hides the sidebar's expanders
        with st.popover("Link to this view", icon=":material/link:", width="stretch"):
            st.code(current_url(), language=None, wrap_lines=True)


# ----------------------------------------------------------------------------- plots


def chart(where: Any, fig: Any, **kwargs: Any) -> Any:
    """``where.plotly_chart(fig, **kwargs)``, restyled for a projector in presentation
    mode (:func:`ui.plots.presentation_style`); returns what ``plotly_chart`` returns (the
    selection event with ``on_select``)."""
    from .plots import presentation_style
    if presenting():
        fig = presentation_style(fig)
    kwargs.setdefault("width", "stretch")
    return where.plotly_chart(fig, **kwargs)


# ----------------------------------------------------------------------------- layout


def control_row(gap: str = "small") -> Any:
    """A row of controls that wraps onto the next line when the page is narrow (give
    each control a ``width`` in pixels); ``st.columns`` would squeeze them instead."""
    return st.container(horizontal=True, wrap=True, gap=gap, vertical_alignment="bottom")


def wrapping_columns(widths: Sequence[int | str]) -> list[Any]:
    """Like ``st.columns``, but each column keeps its width (pixels, ``"content"`` or
    ``"stretch"``) and the row wraps onto the next line when the page is too narrow."""
    row = control_row()
    return [row.container(width=w) for w in widths]


# ----------------------------------------------------------------------------- hand-off


def reproduce(base: Any, axes: Mapping[str, Sequence] | None = None,
              replicates: int = 1, *, what: str = "this view") -> None:
    """An expander with the command line and the Python script that compute ``base``
    (no axes) or its sweep over ``axes`` (noisealign.engine.cli.handoff); hidden in presentation mode.
    Code boxes have their own copy button."""
    from noisealign.engine.cli.handoff import cli_block, python_snippet
    if presenting() or base is None:
        return
    with st.expander(f"Reproduce {what} from the command line or Python",
                     icon=":material/terminal:"):
        st.caption("The same specs (the same cache entries): run them on a bigger machine "
                   "or a cluster, with more points or more seeds. Needs this package "
                   "installed there (`pip install .`).")
        tab_cli, tab_py = st.tabs(["Command line", "Python"])
        tab_cli.code(cli_block(base, axes, replicates), language="bash", wrap_lines=True)
        tab_py.code(python_snippet(base, axes, replicates), language="python")

