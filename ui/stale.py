"""No blinking (issue 28, item 4): while a view's new points are not computed yet, the
page keeps its previous figure on screen, dimmed and marked as stale, instead of
replacing it with "No point computed yet" (which also made the page jump).

The figure is kept per page in the session as Plotly JSON (no pickling).
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

STALE_NOTE = ("Previous settings' figure, dimmed: the new one replaces it as its points "
              "are computed.")
STALE_OPACITY = 0.3


def _key(page: str) -> str:
    return f"_last_figure_{page}"


def remember(page: str, fig: Any) -> None:
    """Keep ``fig`` (a Plotly figure) as ``page``'s last drawn figure."""
    st.session_state[_key(page)] = fig.to_json()


def dimmed(fig_json: str) -> Any:
    """The figure of ``fig_json`` with every trace faded and a "stale" title (pure)."""
    import plotly.graph_objects as go
    fig = go.Figure(json.loads(fig_json))
    for trace in fig.data:
        trace.opacity = STALE_OPACITY
    fig.update_layout(clickmode="none", hovermode=False)
    return fig


def show(page: str, *, key: str, note: str = STALE_NOTE) -> bool:
    """Draw ``page``'s last figure dimmed, with ``note`` above it; False when there is
    none (the page then says that nothing is computed yet)."""
    from . import teach
    saved = st.session_state.get(_key(page))
    if not saved:
        return False
    st.caption(":material/hourglass_top: " + note)
    teach.chart(st, dimmed(saved), key=key)
    return True
