"""The dashboard's Streamlit script inside an installed package (``noisealign app``).

A checkout runs its top-level ``app.py``, which is the same two lines; the wheel ships
``pages/`` beside this file, where the router's page paths point.
"""

from noisealign.ui import router

router.main()
