"""Lazy public names for a package ``__init__`` (PEP 562), so importing a package is instant.

Every subpackage of the engine re-exports its public names from the modules that define
them, but importing ``noisealign.engine.pipeline`` must not import torch: a module is
loaded on the first access of one of its names, and the value is then kept in the
package's namespace so later lookups skip :func:`exports`' ``__getattr__``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping


def exports(package: str, names: Mapping[str, str]
            ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    names
        Public name -> the module that defines it, relative to ``package``
        (``{"ExperimentSpec": "spec"}``) or absolute (starting with ``noisealign.``).
    """
    def module_of(name: str) -> str:
        where = names[name]
        return where if where.startswith("noisealign.") else f"{package}.{where}"

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of(name)), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return sorted(names), __getattr__, __dir__
