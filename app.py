"""noisealign dashboard: `streamlit run app.py` (or `make run`).

The entry point is a router (``ui/router.py``): it sets up the page, shows what is
common to every page (the device, the job queue) and runs the page chosen in the
navigation. Pages live in ``pages/``; the science lives in ``engine/`` (this app only
presents it).
"""

from __future__ import annotations

# `streamlit run app.py` puts this file's folder first on sys.path, so the checkout's
# noisealign/ (whose search path holds engine/ and ui/) is found whether or not the
# package is installed.
from noisealign.ui import router

router.main()
