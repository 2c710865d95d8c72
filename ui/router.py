"""The dashboard's router (run by ``app.py``): page setup, the navigation, what every page
shows in the sidebar (device, job queue), then the page chosen by the URL."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from . import hostguard, jobs_view, teach, url_state
from . import page_support as common
from . import report_links as presets

# Shipped with the app: a material-icon favicon made every page fetch it from an
# outside host (the only outside request, issue 29).
FAVICON = str(Path(__file__).resolve().parent / "static" / "favicon.png")


def main() -> None:
    st.set_page_config(page_title="noisealign", page_icon=FAVICON,
                       layout="wide", initial_sidebar_state="expanded")
    hostguard.install()  # Host/Origin checks and anti-framing headers for what follows
    if not hostguard.session_allowed(st.context.headers):
        # This session's own handshake named another host (DNS rebinding) or origin: it
        # may have connected before the guard was installed; it gets nothing.
        st.error("This server answers only to its own address.")
        st.stop()
    pages = [
        st.Page("pages/alignment.py", title="Alignment explorer", icon=":material/hub:",
                url_path="alignment", default=True),
        st.Page("pages/information.py", title="Information content",
                icon=":material/label_off:", url_path="information"),
        st.Page("pages/theory.py", title="Linear theory", icon=":material/functions:",
                url_path="theory"),
        st.Page("pages/runs.py", title="Runs", icon=":material/table_rows:",
                url_path="runs"),
        st.Page("pages/compare.py", title="Compare representations",
                icon=":material/compare_arrows:", url_path="compare"),
        st.Page("pages/report.py", title="Findings report", icon=":material/article:",
                url_path="report"),
    ]
    common.drop_infinite_query_params()  # before any bound control reads them
    page = st.navigation(pages, position="sidebar")
    with st.sidebar:
        st.caption(f":material/memory: Device: **{common.device_label()}**")
        jobs_view.sidebar()  # live job count, and this tab's jobs with their Cancel
    presets.report_sidebar()
    teach.sidebar()  # presentation mode (URL present=true)
    link = st.sidebar.container()  # the link box, filled once the page's controls ran
    common.heartbeat()
    try:
        page.run()
    except BaseException as e:
        # A run cut short for a rerun drew nothing final; st.stop() and errors did.
        if type(e).__name__ != "RerunException":
            common.mark_page_drawn()
            # every control in the URL (ui.url_state)
            url_state.reconcile(stopping=type(e).__name__ == "StopException")
            teach.share_box(link)
        raise
    common.mark_page_drawn()
    url_state.reconcile()
    teach.share_box(link)


def ensure_router() -> None:
    """Make a page opened by a deep link (``/theory?...``) go through the router.

    Streamlit decides at the first session whether the app uses the legacy ``pages/``
    directory (it exists here) and keeps that until some session calls
    ``st.navigation``; until then a deep link runs the page file alone, with the
    directory's file names as navigation and without the router. Every page calls this
    first: in that case it switches Streamlit to ``st.navigation`` mode and runs the
    router, which runs this page again (by the same URL path), then stops the outer run.
    No rerun: a button click that caused this run is not lost.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a Streamlit without this internal
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        main()
        st.stop()
