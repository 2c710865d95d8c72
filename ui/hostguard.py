"""Refuse requests whose Host or Origin is not this server's (DNS rebinding, other local
web apps) and forbid framing; installed by the router at the first script run.

A page on ``evil.example`` whose name is rebound to 127.0.0.1 talks to this server as
same-origin: before this guard, a websocket handshake with ``Host: evil.example:8661``
got 101 and drew the Runs page with the cached runs (issue 29). Three layers:

1. ``server.allowedHosts`` in ``.streamlit/config.toml`` (127.0.0.1, localhost, ::1):
   Streamlit's own websocket check, active from the server's start.
2. :class:`HostGuard`, an ASGI middleware put in front of Streamlit's Starlette app the
   first time a script runs (:func:`install`; Streamlit has no option for it): every
   HTTP request and websocket handshake whose Host is not allowed gets 403, a websocket
   whose Origin is not exactly ``scheme://<its own Host>`` too (Streamlit's own check
   lets any port of 127.0.0.1 in), and every response carries ``X-Frame-Options: DENY``
   and ``Content-Security-Policy: frame-ancestors 'none'``.
3. :func:`session_allowed`: each script run checks its own session's handshake headers,
   which covers a session opened before the middleware was installed.

Allowed hosts are ``server.allowedHosts`` plus ``server.address`` when it names one
address (Streamlit's own websocket check reads ``server.allowedHosts`` only, so list
that address there too); ``*`` in ``server.allowedHosts`` allows any. Behind a reverse
proxy, add its public name: ``--server.allowedHosts noisealign.lab.example.org``.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlparse

DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")
FRAME_HEADERS = ((b"x-frame-options", b"DENY"),
                 (b"content-security-policy", b"frame-ancestors 'none'"))
_WILDCARD_ADDRESSES = ("", "0.0.0.0", "::")


def allowed_hosts() -> set[str]:
    """Lower-case host names a request may name (ports are not compared)."""
    try:
        from streamlit import config
        hosts = list(config.get_option("server.allowedHosts") or DEFAULT_HOSTS)
        address = config.get_option("server.address") or ""
    except Exception:  # noqa: BLE001 -- outside a Streamlit process
        hosts, address = list(DEFAULT_HOSTS), ""
    if address not in _WILDCARD_ADDRESSES and not address.startswith("unix://"):
        hosts.append(address)
    return {h.strip().lower().rstrip(".").strip("[]") for h in hosts if h.strip()}


def _hostname(netloc: str | None) -> str | None:
    if not netloc:
        return None
    try:
        parsed = urlparse(f"//{netloc}")
        _ = parsed.port  # validates the port
    except ValueError:
        return None
    if parsed.username is not None or parsed.password is not None or not parsed.hostname:
        return None
    return parsed.hostname.lower().rstrip(".")


def host_ok(host: str | None, allowed: set[str] | None = None) -> bool:
    """Whether a Host header names this server."""
    allowed = allowed_hosts() if allowed is None else allowed
    if "*" in allowed:
        return True
    name = _hostname(host)
    if name is None:
        return False
    return name in allowed or any(a.startswith("*.") and name.endswith(a[1:])
                                  for a in allowed)


def origin_ok(origin: str | None, host: str | None) -> bool:
    """Whether a websocket's Origin is this server itself: the same host and port as
    its Host header (no Origin: not a browser, which DNS rebinding needs)."""
    if origin is None:
        return True
    parsed = urlparse(origin)
    return parsed.scheme in ("http", "https") and host is not None and bool(host) and \
        parsed.netloc.lower() == host.lower() and not parsed.path.strip("/")


def _header(scope: Mapping[str, Any], name: bytes) -> str | None:
    for k, v in scope.get("headers") or ():
        if k.lower() == name:
            return v.decode("latin-1")
    return None


class HostGuard:
    """ASGI middleware: refuses foreign Hosts and websocket Origins, forbids framing."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app
        self.refused = 0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        ok = host is None or host_ok(host)  # no Host: not a browser (rebinding needs one)
        if ok and kind == "websocket":
            ok = origin_ok(_header(scope, b"origin"), host)
        if not ok:
            self.refused += 1
            if kind == "websocket":  # closing before accept: the handshake gets 403
                await send({"type": "websocket.close", "code": 1008})
                return
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    *FRAME_HEADERS]})
            await send({"type": "http.response.body",
                        "body": b"403: this server answers only to its own address\n"})
            return
        if kind == "websocket":
            await self.app(scope, receive, send)
            return

        async def framed_send(message: dict) -> None:
            if message.get("type") == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers") or ()}
                message = dict(message, headers=[*(message.get("headers") or ()),
                                                 *(h for h in FRAME_HEADERS
                                                   if h[0] not in names)])
            await send(message)

        await self.app(scope, receive, framed_send)


def install() -> int:
    """Put :class:`HostGuard` in front of every Starlette app of this process (once);
    the number of apps newly guarded. Safe to call on every script run."""
    try:
        from starlette.applications import Starlette
    except ImportError:  # pragma: no cover - a Streamlit without Starlette
        return 0
    global _installed
    if _installed:
        return 0
    count = 0
    for obj in gc.get_objects():
        if isinstance(obj, Starlette):
            stack = obj.middleware_stack or obj.build_middleware_stack()
            if not isinstance(stack, HostGuard):
                obj.middleware_stack = HostGuard(stack)
                count += 1
    _installed = count > 0
    return count


_installed = False


def session_allowed(headers: Mapping[str, str]) -> bool:
    """Whether this session's own handshake (``st.context.headers``) came with an
    allowed Host and Origin."""
    host = headers.get("Host")
    if host is None:  # no handshake headers (AppTest, bare mode): not a browser
        return True
    return host_ok(host) and origin_ok(headers.get("Origin"), host)
