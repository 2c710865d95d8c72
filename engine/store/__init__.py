"""The results cache: every experiment a user has seen comes back instantly.

- ``cache``: :class:`ResultCache` (layout and rationale in its opening docstring),
  :func:`spec_key`; ``entry``: an entry's stored metadata; ``locks``: the compute locks;
  ``diskcache_adapter``: every reach into diskcache's internals; ``files``: owner-only files.
- ``labels``: the rules and stored form of run names and tags.
"""

from ..base.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "ResultCache": "cache", "spec_key": "cache", "default_cache_dir": "cache",
})
