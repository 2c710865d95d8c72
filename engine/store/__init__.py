"""The results cache: every experiment a user has seen comes back instantly.

- ``cache``: :class:`ResultCache` (layout and rationale in its opening docstring),
  :func:`spec_key`, the compute locks.
- ``labels``: the rules and stored form of run names and tags.
"""

from noisealign.engine.base.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "ResultCache": "cache", "spec_key": "cache", "default_cache_dir": "cache",
})
