"""Issue 29 item 8: DNS rebinding and framing, against a real server with raw requests.

Before the fix a websocket handshake with ``Host: evil.example:PORT`` and a matching
Origin got 101 (and a full session under that Host drew the cached runs); the websocket
took any Origin on 127.0.0.1 whatever its port; no response forbade framing.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import os
import socket

import pytest

from noisealign.ui import hostguard
from tests._browser import app_command, free_port, streamlit_server
from tests._wsession import WebsocketSession


def handshake(port: int, host: str, origin: str | None) -> int:
    """The HTTP status of a websocket handshake on /_stcore/stream (101 = accepted)."""
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET /_stcore/stream HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
             "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: streamlit"]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status = s.recv(4096).split(b"\r\n", 1)[0]
    return int(status.split()[1])


def get(port: int, host: str, path: str = "/") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest("GET", path, skip_host=True)
    conn.putheader("Host", host)
    conn.endheaders()
    r = conn.getresponse()
    r.read()
    conn.close()
    return r


def test_foreign_hosts_and_origins_are_refused_and_framing_forbidden(tmp_path):
    with streamlit_server(app_command, tmp_path) as (_, base):
        port = int(base.rsplit(":", 1)[1])
        own, evil = f"127.0.0.1:{port}", f"evil.example:{port}"
        # From the server's start (server.allowedHosts), before any script ran:
        assert handshake(port, evil, f"http://{evil}") != 101
        # A first session installs the guard in front of the app.
        s = WebsocketSession(f"ws://{own}/_stcore/stream", "auto=false")
        asyncio.run(s.run_until("Device", timeout=120))
        assert not s.errors
        assert handshake(port, own, f"http://{own}") == 101
        assert handshake(port, own, None) == 101  # not a browser
        assert handshake(port, f"localhost:{port}", f"http://localhost:{port}") == 101
        assert handshake(port, evil, f"http://{evil}") != 101
        other = free_port()
        assert handshake(port, own, f"http://127.0.0.1:{other}") == 403  # another local app
        assert handshake(port, own, f"http://localhost:{port}") == 403
        assert handshake(port, own, "null") == 403
        r = get(port, own)
        assert r.status == 200
        assert r.getheader("X-Frame-Options") == "DENY"
        assert "frame-ancestors 'none'" in r.getheader("Content-Security-Policy")
        for path in ("/", "/runs", "/_stcore/health", "/_stcore/host-config"):
            assert get(port, evil, path).status == 403, path
            assert get(port, "evil.example", path).status == 403, path
        assert get(port, own, "/_stcore/health").getheader("X-Frame-Options") == "DENY"


@pytest.mark.parametrize("headers, ok", [
    ({}, True),  # AppTest / bare mode: no handshake headers
    ({"Host": "127.0.0.1:8501", "Origin": "http://127.0.0.1:8501"}, True),
    ({"Host": "localhost:8501"}, True),
    ({"Host": "[::1]:8501", "Origin": "http://[::1]:8501"}, True),
    ({"Host": "evil.example:8501", "Origin": "http://evil.example:8501"}, False),
    ({"Host": "127.0.0.1:8501", "Origin": "http://127.0.0.1:9999"}, False),
    ({"Host": "127.0.0.1.evil.example:8501"}, False),
    ({"Host": "user@127.0.0.1:8501"}, False),
])
def test_a_session_checks_its_own_handshake(headers, ok):
    assert hostguard.session_allowed(headers) is ok
