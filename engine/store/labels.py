"""Names and tags of cached runs: the rules, and their stored form.

A user can give a run in the results cache a name ("baseline, wide") and tags
("lecture 3", "label noise") to find it again. :class:`noisealign.engine.store.cache.ResultCache` stores
them next to the run (``set_label`` / ``label`` / ``labels``) as the item ``l/<key>`` of
its own database, so a label is written in one SQLite transaction, is private to the
cache's owner like every other file of the cache, and goes away with its run (deletion,
eviction, ``clear``). This module holds what does not need the database:

- :func:`check_label` validates a name and tags as typed (a comma-separated string or a
  list): a name of at most :data:`NAME_MAX` printable characters (empty: no name), at
  most :data:`TAGS_MAX` tags of 1 to :data:`TAG_MAX` printable characters without
  commas (blank ones dropped, repeats ignored regardless of case). A bad value raises
  ``ValueError`` naming the field by its label and the allowed range.
- :func:`encode` / :func:`decode`: the stored bytes, JSON prefixed by its SHA-256 as the
  cache's entries are. :func:`decode` checks what it reads again, so a tampered row
  gives no label rather than a 10 MB name on a page.

Labels are plain text: pages show them escaped (:func:`noisealign.engine.base.validation.for_markdown`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from ..base.validation import show

NAME_MAX = 80  # characters of a run's name
TAGS_MAX = 10  # tags per run
TAG_MAX = 32  # characters of one tag
# The most bytes a stored label may have: the longest valid label JSON-escaped with room
# to spare. A larger row is not read at all.
STORED_MAX = 16 * (NAME_MAX + TAGS_MAX * (TAG_MAX + 4)) + 256


def check_name(name: Any) -> str:
    """``name`` stripped of surrounding spaces; ValueError unless it is a string of at
    most :data:`NAME_MAX` printable characters ("" means no name)."""
    allowed = f"at most {NAME_MAX} printable characters (no line breaks or tabs)"
    if not isinstance(name, str):
        raise ValueError(f"Run name: {show(name)} is invalid: allowed text, {allowed}")  # noqa: TRY004 -- the engine's argument errors are ValueErrors
    name = name.strip()
    if len(name) > NAME_MAX:
        raise ValueError(f"Run name: {show(name)} is invalid ({len(name)} characters): "
                         f"allowed {allowed}")
    if not name.isprintable():
        raise ValueError(f"Run name: {show(name)} is invalid: allowed {allowed}")
    return name


def check_tags(tags: Any) -> list[str]:
    """Tags as a list: from a comma-separated string or a list of strings, each stripped,
    blank ones dropped, repeats (ignoring case) dropped, order kept. ValueError unless
    there are at most :data:`TAGS_MAX`, each of 1 to :data:`TAG_MAX` printable characters
    without commas."""
    one = f"1 to {TAG_MAX} printable characters without commas"
    if isinstance(tags, str):
        items: list[Any] = tags.split(",")
    elif isinstance(tags, (list, tuple)):
        items = list(tags)
    else:
        raise ValueError(f"Tags: {show(tags)} is invalid: allowed comma-separated text or a "  # noqa: TRY004 -- the engine's argument errors are ValueErrors
                         f"list of at most {TAGS_MAX} tags of {one}")
    out: list[str] = []
    seen: set[str] = set()
    for tag in items:
        if not isinstance(tag, str):
            raise ValueError(f"Tag: {show(tag)} is invalid: allowed text of {one}")  # noqa: TRY004 -- the engine's argument errors are ValueErrors
        tag = tag.strip()
        if not tag:
            continue
        if len(tag) > TAG_MAX or "," in tag or not tag.isprintable():
            raise ValueError(f"Tag: {show(tag)} is invalid"
                             + (f" ({len(tag)} characters)" if len(tag) > TAG_MAX else "")
                             + f": allowed {one}")
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    if len(out) > TAGS_MAX:
        raise ValueError(f"Tags: {show(', '.join(out))} is invalid ({len(out)} tags): "
                         f"allowed at most {TAGS_MAX} tags")
    return out


def check_label(name: Any = "", tags: Any = ()) -> dict[str, Any]:
    """``{"name": str, "tags": [str]}`` checked by :func:`check_name` and
    :func:`check_tags`. Both empty means "no label"."""
    return {"name": check_name(name), "tags": check_tags(tags)}


def is_empty(label: dict[str, Any]) -> bool:
    return not label["name"] and not label["tags"]


def encode(label: dict[str, Any]) -> bytes:
    """The stored form of a checked label: its JSON prefixed by the JSON's SHA-256."""
    body = json.dumps({"name": label["name"], "tags": list(label["tags"])},
                      ensure_ascii=True).encode()
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def decode(raw: Any) -> dict[str, Any] | None:
    """The label stored as ``raw`` (:func:`encode`), or None when it is not a valid one
    (wrong checksum, not JSON, a name or tags outside the rules)."""
    if not isinstance(raw, bytes) or len(raw) > STORED_MAX:
        return None
    digest, _, body = raw.partition(b"\n")
    if hashlib.sha256(body).hexdigest().encode() != digest:
        return None
    try:
        data = json.loads(body.decode())
        if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
            return None
        label = check_label(data.get("name"), data["tags"])
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return None if is_empty(label) else label


def tags_text(tags: Iterable[str]) -> str:
    """Tags as they are typed and shown: "a, b"."""
    return ", ".join(tags)
