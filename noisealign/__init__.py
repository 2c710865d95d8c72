"""noisealign: how noise, sample size and width shape what networks learn inside.

The import name of this project. Its parts:

- ``noisealign.engine``: the science and its services (no streamlit): spec -> data ->
  noise -> batched model -> training -> representations -> measures, the linear theory,
  the results cache, sweeps and jobs, presets, your own models, the CLI.
- ``noisealign.ui``: the dashboard's presentation helpers (app.py and pages/ use them).

The engine's public names are importable from here too::

    from noisealign import ExperimentSpec, run_experiment, compare

In a checkout, ``engine/`` and ``ui/`` are top-level folders beside this one, and this
package's search path includes the checkout's root so that ``noisealign.engine`` is that
folder; an installed wheel holds them inside ``noisealign/``. Either way there is one
copy of every module, under one name.
"""

from __future__ import annotations

import os as _os
from typing import Any

_HERE = _os.path.dirname(_os.path.abspath(__file__))
_CHECKOUT = _os.path.dirname(_HERE)
if (not _os.path.isdir(_os.path.join(_HERE, "engine"))
        and _os.path.isfile(_os.path.join(_CHECKOUT, "engine", "__init__.py"))):
    __path__.append(_CHECKOUT)  # type: ignore[name-defined]  # a checkout

from noisealign.engine import __all__ as _ENGINE_ALL  # noqa: E402
from noisealign.engine import __version__ as __version__  # noqa: E402

__all__ = list(_ENGINE_ALL)


def __getattr__(name: str) -> Any:
    if name in _ENGINE_ALL:
        from noisealign import engine
        value = getattr(engine, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'noisealign' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
