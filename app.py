"""noisealign dashboard: `streamlit run app.py` (or `make run`).

The entry point is a router: it sets up the page, shows what is common to every page
(the device, the job queue) and runs the page chosen in the navigation. Pages live in
``pages/``; the science lives in ``engine/`` (this app only presents it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # `streamlit run` from elsewhere: find engine/ and ui/
    sys.path.insert(0, str(ROOT))

from ui import common  # noqa: E402

st.set_page_config(page_title="noisealign", page_icon=":material/scatter_plot:",
                   layout="wide", initial_sidebar_state="expanded")

PAGES = [
    st.Page("pages/alignment.py", title="Alignment explorer", icon=":material/hub:",
            url_path="alignment", default=True),
    st.Page("pages/information.py", title="Information content", icon=":material/label_off:",
            url_path="information"),
    st.Page("pages/theory.py", title="Linear theory", icon=":material/functions:",
            url_path="theory"),
    st.Page("pages/runs.py", title="Runs", icon=":material/table_rows:", url_path="runs"),
]

page = st.navigation(PAGES, position="sidebar")

with st.sidebar:
    cache, manager = common.services()
    stats = manager.stats()
    st.caption(f":material/memory: Device: **{common.device_label()}**  \n"
               f"Jobs: {stats['running']} running, {stats['queued']} queued "
               f"({stats['workers']} workers)")
common.heartbeat()

page.run()
