"""The findings report's figures as one-click presets.

- ``catalog``: ``PRESETS``, the settings of every figure (data only).
- ``shipped``: their precomputed summaries, shipped in ``data/`` so presets draw at once
  on a fresh install.
"""

from ..base.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {"PRESETS": "catalog"})
