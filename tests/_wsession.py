"""A headless Streamlit session over a real websocket, driven as the browser drives it.

Used by the load test: eight of these cost the machine almost nothing, where eight
Chromium tabs rendering the dashboard take both cores of a CI runner and have their
timers throttled in the background. The server cannot tell the difference: it gets the
same websocket (``/_stcore/stream``), the same protobuf ``BackMsg`` requests and sends
the same ``ForwardMsg`` stream. What the frontend does that matters here is emulated:

- the first ``rerun_script`` carries the page URL's query string;
- ``auto_rerun`` (an ``st.fragment(run_every=...)``) makes the client ask for that
  fragment's rerun at its interval, as the frontend's timers do; the set of such
  fragments is the one registered by the latest completed full run of the script.

The session records every element it is sent (as raw bytes, to search for text) and any
exception element (what a browser would show as an error box).
"""

from __future__ import annotations

import asyncio
import time

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

FINISHED = ForwardMsg.ScriptFinishedStatus


class WebsocketSession:
    """One app session: ``await session.run_until(text, timeout)``."""

    def __init__(self, ws_url: str, query_string: str, page_name: str = "") -> None:
        self.ws_url = ws_url
        self.query_string = query_string
        self.page_name = page_name
        self.page_script_hash = ""
        self.errors: list[str] = []
        self.events: list[str] = []  # lifecycle messages received, for failure reports
        self.last_progress = ""  # the text of the latest progress bar drawn
        self.script_runs = 0
        self.fragment_runs = 0
        self._seen = bytearray()
        self._fragments: dict[str, float] = {}    # fragment id -> interval (s)
        self._registering: dict[str, float] = {}  # auto_rerun seen in the current run
        self._due: dict[str, float] = {}
        self._running = False

    def _request(self, fragment_id: str = "") -> bytes:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query_string
        cs.page_script_hash = self.page_script_hash
        cs.page_name = self.page_name
        cs.widget_states.SetInParent()
        if fragment_id:
            cs.fragment_id = fragment_id
            cs.is_auto_rerun = True
        self._running = True
        return msg.SerializeToString()

    def _receive(self, raw: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind in ("new_session", "auto_rerun", "script_finished", "stop_auto_rerun"):
            detail = {"auto_rerun": lambda: msg.auto_rerun.fragment_id[:6],
                      "script_finished": lambda: str(msg.script_finished),
                      "stop_auto_rerun": lambda: str(list(msg.stop_auto_rerun.fragment_ids))
                      }.get(kind, lambda: "")()
            self.events.append(f"{kind} {detail}".strip())
        if kind == "new_session":
            self.page_script_hash = msg.new_session.page_script_hash
            self._registering = {}
        elif kind == "auto_rerun":
            self._registering[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "delta":
            self._seen += raw
            el = msg.delta.new_element
            if msg.delta.WhichOneof("type") == "new_element":
                if el.WhichOneof("type") == "exception":
                    self.errors.append(f"{el.exception.type}: {el.exception.message}")
                elif el.WhichOneof("type") == "progress":
                    self.last_progress = el.progress.text
        elif kind == "script_finished":
            self._running = False
            if msg.script_finished == FINISHED.FINISHED_SUCCESSFULLY:
                self.script_runs += 1
                now = time.monotonic()
                self._fragments = dict(self._registering)
                self._due = {f: now + s for f, s in self._fragments.items()}
            elif msg.script_finished == FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                self.fragment_runs += 1

    def saw(self, text: str) -> bool:
        return text.encode() in self._seen

    async def run_until(self, text: str, timeout: float) -> float:
        """Open the page and keep the session alive (fragment timers) until ``text`` has
        been drawn; returns the seconds that took. TimeoutError after ``timeout``."""
        import websockets
        t0 = time.monotonic()
        async with websockets.connect(self.ws_url, subprotocols=["streamlit"],
                                      max_size=2**26, open_timeout=30) as ws:
            await ws.send(self._request())
            while not self.saw(text):
                left = t0 + timeout - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{text!r} not drawn within {timeout:.0f} s "
                                       f"({self.script_runs} script runs, {self.fragment_runs} "
                                       f"fragment runs, last progress {self.last_progress!r}, "
                                       f"errors {self.errors}; events {self.events[:24]} ... {self.events[-3:]})")
                if not self._running and self._due:
                    fid, due = min(self._due.items(), key=lambda kv: kv[1])
                    if due <= time.monotonic():
                        self._due[fid] = time.monotonic() + self._fragments[fid]
                        self.events.append(f"sent rerun of {fid[:6]}")
                        await ws.send(self._request(fid))
                        continue
                    left = min(left, due - time.monotonic())
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=max(0.01, min(left, 1.0)))
                except asyncio.TimeoutError:
                    continue
                if isinstance(raw, bytes):
                    self._receive(raw)
            return time.monotonic() - t0
