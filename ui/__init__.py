"""Presentation helpers for the Streamlit dashboard (``app.py`` and ``pages/``).

``ui.plots`` and ``ui.data`` are plain Python (plotly figures and tables from engine
results; no streamlit), ``ui.common`` holds the streamlit glue shared by the pages
(the job manager, the job progress panel, spec validation shown next to the controls).
The science lives in ``engine/``; nothing here computes a measure itself.
"""
