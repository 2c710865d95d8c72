"""The command line, in its own package: the library never imports it.

- ``commands``: ``noisealign`` / ``python -m noisealign`` (every spec field is a flag).
- ``handoff``: a dashboard view as a CLI line or a Python script.
"""

from ..base.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {"main": "commands", "build_parser": "commands"})
