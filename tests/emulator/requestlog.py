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


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    params: dict[str, str] = field(hash=False)
    status: int
    started: float
    finished: float
    fault: str | None = None

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
        for e in entries:
            by_path_status.setdefault(e.path, Counter())[str(e.status)] += 1
        return {
            "total": len(entries),
            "by_path": dict(Counter(e.path for e in entries)),
            "by_status": dict(Counter(str(e.status) for e in entries)),
            "by_path_status": {p: dict(c) for p, c in by_path_status.items()},
            "by_fault": dict(Counter(e.fault for e in entries if e.fault is not None)),
        }


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

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        scope[RAW_SEND] = send
        try:
            await self.app(scope, receive, capture)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            params = dict(parse_qsl(query, keep_blank_values=True))
            fault = scope.get(FAULT)
            if STATUS in scope:
                status = scope[STATUS]
            self.log.add(
                RequestLogEntry(
                    scope["method"], scope["path"], params, status, started, time.time(), fault
                )
            )
