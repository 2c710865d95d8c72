"""The stored form of one cache entry's metadata: its fields, their JSON types, and the
SHA-256 framing that :class:`noisealign.engine.store.cache.ResultCache` writes and verifies.

Apart from the cache itself: what an entry *is* (format :data:`ENTRY_FORMAT`, part of every
key) is one rule, read by anyone who wonders what is on disk, independent of how the cache
opens, locks and evicts. :mod:`noisealign.engine.store.cache` re-exports
:data:`ENTRY_FORMAT` and :func:`json_default`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import zlib
from typing import Any

import numpy as np

from ..pipeline.spec import ExperimentSpec

ENTRY_FORMAT = 2  # layout of one entry; part of the key, bump when it changes

# Metadata fields every entry has, and the JSON types they must have.
_META_TYPES: dict[str, tuple[type, ...]] = {
    "spec": (dict,), "spec_json": (str,), "summary": (dict,), "result_meta": (str,),
    "created": (int, float), "npz_bytes": (int,), "npz_crc32": (int,),
    "has_representations": (bool,),
}


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars and arrays (summaries, metadata)."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable")


def new_meta(key: str, spec: ExperimentSpec, meta_bytes: bytes, npz: bytes, summary: dict,
             extra: dict) -> dict:
    """The metadata of a new entry: ``meta_bytes`` and ``npz`` from ``Result.to_bytes``,
    ``extra`` the fields a cache adds to every entry (``ResultCache._entry_extra``)."""
    result_meta = json.loads(meta_bytes.decode())
    meta = {
        "format": ENTRY_FORMAT, "key": key, "spec": result_meta["spec"],
        "spec_json": spec.to_json(), "summary": summary, "created": time.time(),
        "result_meta": meta_bytes.decode(), "npz_bytes": len(npz),
        # CRC-32 detects corruption (not tampering: whoever can write the directory
        # can rewrite the metadata too) at 3x the speed of SHA-256 on large entries.
        "npz_crc32": zlib.crc32(npz),
        "has_representations": bool(result_meta.get("has_representations")),
        **extra,
    }
    return meta


def frame(meta: dict) -> bytes:
    """The stored bytes of ``meta``: its JSON, prefixed by the JSON's SHA-256 (hex) and a newline."""
    body = json.dumps(meta, default=json_default).encode()
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def verify(raw: bytes, key: str, spec: ExperimentSpec | None) -> Any:
    """The metadata dict framed in ``raw``, checked to be a complete entry of ``key`` (and
    of ``spec`` unless None); ValueError or UnicodeDecodeError saying what is wrong."""
    digest, _, body = raw.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        raise ValueError("metadata checksum mismatch")
    meta = json.loads(body.decode())
    if not isinstance(meta, dict) or meta.get("format") != ENTRY_FORMAT:
        raise ValueError("unknown entry format")
    if meta.get("key") != key:
        raise ValueError("metadata belongs to another key")
    if spec is not None and meta.get("spec_json") != spec.to_json():
        raise ValueError("metadata belongs to another spec")
    for field, kinds in _META_TYPES.items():
        if field not in meta:
            raise ValueError(f"metadata lacks {field!r}")
        v = meta[field]
        # A field of the wrong type (with a valid checksum: whoever can write
        # the directory can recompute it) would fail far from here, in a sort
        # or a page; it is a damaged entry like any other.
        if not isinstance(v, kinds) or (bool not in kinds and isinstance(v, bool)):
            raise ValueError(f"metadata field {field!r} is a {type(v).__name__}: "
                             f"allowed {' or '.join(k.__name__ for k in kinds)}")
        if field == "created" and not math.isfinite(meta[field]):
            raise ValueError(f"metadata field 'created' is {v}: allowed a finite time")
        if field == "npz_bytes" and meta[field] < 0:
            raise ValueError(f"metadata field 'npz_bytes' is {v}: allowed >= 0")
    return meta
