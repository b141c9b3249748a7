"""A thread-safe log of every API request, filled by an outermost ASGI middleware.

Tests assert on it ("the pipeline never sent top > 500", "it retried the 503 twice");
other processes read the aggregated counts at ``GET /_emulator/requests``.  Admin
requests (``/_emulator/...``) are not logged.  Times are ``time.time()`` floats.

Injected failures carry their kind in ``fault`` ("500", "429", "timeout", "reset",
"truncated", ...).  A request answered without any response ("timeout", "reset") is
logged with status 0; a "truncated" one with the 200 it started to send.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PREFIX = "/_emulator"
# Keys in the ASGI scope shared with the app (the scope dict is passed down unchanged).
RAW_SEND = "emulator.raw_send"  # the server's own send, bypassing every wrapper
FAULT = "emulator.fault"  # kind of an injected failure
STATUS = "emulator.status"  # status to log when the response bypassed the wrappers
RECORD = "emulator.record"  # call to log the request now (before the connection drops)


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    params: dict[str, str] = field(hash=False)
    status: int
    started: float
    finished: float
    fault: str | None = None
    api_key: str | None = field(default=None, repr=False)  # the key sent (tests of accounts)

    @property
    def duration(self) -> float:
        return self.finished - self.started


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RequestLogEntry] = []

    def add(self, entry: RequestLogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def summary(self) -> dict[str, Any]:
        """Counts by path, by status and by (path, status) for ``/_emulator/requests``."""
        entries = self.entries()
        by_path_status: dict[str, Counter[str]] = {}
        span: dict[str, list[float]] = {}  # first start and last finish (epoch s) per path
        for e in entries:
            by_path_status.setdefault(e.path, Counter())[str(e.status)] += 1
            first_last = span.setdefault(e.path, [e.started, e.finished])
            first_last[0] = min(first_last[0], e.started)
            first_last[1] = max(first_last[1], e.finished)
        return {
            "total": len(entries),
            "by_path": dict(Counter(e.path for e in entries)),
            "by_method": dict(Counter(e.method for e in entries)),
            "by_status": dict(Counter(str(e.status) for e in entries)),
            "by_path_status": {p: dict(c) for p, c in by_path_status.items()},
            "by_path_span": span,
            "by_fault": dict(Counter(e.fault for e in entries if e.fault is not None)),
            "duration_ms": _durations(entries),
        }


def _durations(entries: list[RequestLogEntry]) -> dict[str, dict[str, float]]:
    """Server-side time per path (median, p90, max in ms), answered requests only."""
    by_path: dict[str, list[float]] = {}
    for e in entries:
        if e.status:
            by_path.setdefault(e.path, []).append(e.duration * 1000.0)
    out = {}
    for path, values in by_path.items():
        values.sort()
        out[path] = {
            "median": round(values[len(values) // 2], 2),
            "p90": round(values[int(len(values) * 0.9)], 2),
            "max": round(values[-1], 2),
        }
    return out


class RequestLogMiddleware:
    """Records method, path, query, final status and timing of each HTTP request."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.time()
        status = 500
        logged = False

        def record() -> None:
            """Log the request once; called before the client can see the end of it."""
            nonlocal logged
            if logged:
                return
            logged = True
            query = scope.get("query_string", b"").decode("latin-1")
            params = dict(parse_qsl(query, keep_blank_values=True))
            final = scope.get(STATUS, status)
            from .app import api_key_from  # here: app imports this module

            headers = dict(scope.get("headers") or [])
            key = api_key_from(headers.get(b"authorization", b"").decode("latin-1") or None)
            entry = RequestLogEntry(
                scope["method"],
                scope["path"],
                params,
                final,
                started,
                time.time(),
                scope.get(FAULT),
                key,
            )
            self.log.add(entry)

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                record()  # a test reading the log right after the response sees this request
            await send(message)

        scope[RAW_SEND] = send
        scope[RECORD] = record
        try:
            await self.app(scope, receive, capture)
        finally:
            record()
