"""A thread-safe log of every API request, filled by an outermost ASGI middleware.

Tests assert on it ("the pipeline never sent top > 500", "it retried the 503 twice");
other processes read the aggregated counts at ``GET /_emulator/requests``.  Admin
requests (``/_emulator/...``) are not logged.  Times are ``time.time()`` floats.
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


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    params: dict[str, str] = field(hash=False)
    status: int
    started: float
    finished: float

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

        try:
            await self.app(scope, receive, capture)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            params = dict(parse_qsl(query, keep_blank_values=True))
            self.log.add(
                RequestLogEntry(
                    scope["method"], scope["path"], params, status, started, time.time()
                )
            )
