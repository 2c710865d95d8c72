"""noisealign dashboard: `streamlit run app.py` (or `make run`).

The entry point is a router (``ui/router.py``): it sets up the page, shows what is
common to every page (the device, the job queue) and runs the page chosen in the
navigation. Pages live in ``pages/``; the science lives in ``engine/`` (this app only
presents it).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # `streamlit run` from elsewhere: find engine/ and ui/
    sys.path.insert(0, str(ROOT))

from ui import router  # noqa: E402

router.main()
