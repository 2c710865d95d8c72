"""Where the engine keeps its files: inside a checkout, or per user when installed.

Run from a checkout of the project (``make run``, ``pip install -e .``), the results
cache and the data files stay beside the code, in ``cache/`` and ``data/``, as the
README describes. Installed as a package (``pip install noisealign``), the code lives in
site-packages, which is no place for results: the cache and data then go to the user's
own directories (``platformdirs``: ``~/.cache/noisealign`` and
``~/.local/share/noisealign`` on Linux). ``$NOISEALIGN_CACHE_DIR`` and
``$NOISEALIGN_DATA_DIR`` override both. Nothing here creates a directory.
"""

from __future__ import annotations

from pathlib import Path

APP_NAME = "noisealign"
# engine/base/paths.py -> the folder that holds engine/ (a checkout's root)
_PACKAGE_PARENT = Path(__file__).resolve().parents[2]


def checkout_root() -> Path | None:
    """The project checkout this engine runs from, or ``None`` when installed.

    A checkout is recognised by its ``pyproject.toml`` naming this project next to the
    ``engine/`` folder, which a site-packages directory never has.
    """
    marker = _PACKAGE_PARENT / "pyproject.toml"
    try:
        if marker.is_file() and f'name = "{APP_NAME}"' in marker.read_text(errors="replace"):
            return _PACKAGE_PARENT
    except OSError:
        pass
    return None


def default_cache_root() -> Path:
    """``<checkout>/cache`` or the per-user cache directory."""
    root = checkout_root()
    if root is not None:
        return root / "cache"
    import platformdirs
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def default_data_root() -> Path:
    """``<checkout>/data`` or the per-user data directory."""
    root = checkout_root()
    if root is not None:
        return root / "data"
    import platformdirs
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def dashboard_script() -> Path:
    """The Streamlit script that serves the dashboard (what ``noisealign app`` runs).

    A checkout's top-level ``app.py`` (beside ``pages/``); installed, the package's own
    ``noisealign/app.py``, whose ``pages/`` the wheel ships beside it.
    """
    root = checkout_root()
    if root is not None:
        return root / "app.py"
    return _PACKAGE_PARENT / "app.py"


def dashboard_config() -> Path:
    """The dashboard's Streamlit settings (the safe defaults: 127.0.0.1, XSRF, upload caps).

    A checkout's ``.streamlit/config.toml``, which ``streamlit run app.py`` reads; the wheel
    ships the same file as ``noisealign/_streamlit/config.toml`` (``noisealign app`` passes
    it on as flags, since an installed package is not Streamlit's working directory).
    """
    root = checkout_root()
    if root is not None:
        return root / ".streamlit" / "config.toml"
    return _PACKAGE_PARENT / "_streamlit" / "config.toml"
