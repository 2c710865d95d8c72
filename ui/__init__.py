"""Presentation helpers for the Streamlit dashboard (``app.py`` and ``pages/``).

- ``ui.plots`` and ``noisealign.ui.tables``: plain Python (Plotly figures, pandas tables from cache
  entries and summaries; no streamlit), testable on their own;
- ``noisealign.ui.page_support``: the streamlit glue shared by the pages (the job manager and cache per
  server, the job progress panel, errors shown next to the control they name);
- ``ui.runview`` / ``ui.infoview``: one run's details and the sweep tables of the
  alignment and information pages (measures at another k are recomputed from the stored
  representations through ``noisealign.engine.measures.summaries`` and memoised);
- ``ui.router``: the navigation and the sidebar every page shares.

The science lives in ``engine/``; nothing here computes a measure itself.
"""
