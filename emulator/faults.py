"""Connection-level failures: answers that are not HTTP error responses.

* ``reset``: the TCP connection is aborted with an RST before any byte of a response;
  httpx raises ``httpx.ReadError`` (``ECONNRESET``).
* ``timeout``: the request is held for ``timeout_hold_s`` (a client with a shorter
  timeout raises ``httpx.ReadTimeout``), then the connection is closed without an answer
  (a patient client gets ``httpx.RemoteProtocolError``).  The hold ends early when the
  client goes away or the emulator shuts down.
* ``truncated``: status 200 and a Content-Length for the whole body, half of the body,
  then the connection closes; httpx raises ``httpx.RemoteProtocolError`` ("peer closed
  connection without sending complete message body").

uvicorn gives an ASGI app no handle on the socket, but its ``send`` is a bound method of
the request cycle, which holds the transport; the request log middleware keeps that
original ``send`` in the scope (``RAW_SEND``).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .requestlog import FAULT, RAW_SEND, RECORD, STATUS

POLL_S = 0.05


class ConnectionFault(Response):
    """A Starlette response that breaks the connection instead of answering."""

    def __init__(self, kind: str, body: bytes = b"", headers: dict[str, str] | None = None):
        super().__init__(b"")
        self.kind = kind
        self.full_body = body
        self.fault_headers = headers or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get(RAW_SEND, send)
        scope[FAULT] = self.kind
        record = scope.get(RECORD, lambda: None)
        if self.kind != "truncated":
            scope[STATUS] = 0
            record()
            await drop_connection(raw, reset=self.kind == "reset")
            return
        scope[STATUS] = 200
        headers = {**self.fault_headers, "content-length": str(len(self.full_body))}
        await raw(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            }
        )
        half = self.full_body[: len(self.full_body) // 2]
        await raw({"type": "http.response.body", "body": half, "more_body": True})
        record()
        await drop_connection(raw, reset=False)


async def drop_connection(raw_send: Send, reset: bool) -> None:
    """Close the client's connection: flush and FIN, or (reset) discard and RST."""
    cycle = getattr(raw_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if not isinstance(transport, asyncio.BaseTransport):
        raise RuntimeError("connection faults need uvicorn's h11 server")
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:  # SO_LINGER 0: close() sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    # let connection_lost run, so uvicorn sees the cycle as disconnected and does not
    # try to answer for us
    for _ in range(3):
        await asyncio.sleep(0)


async def hold(request: Request, seconds: float, stopping: threading.Event) -> None:
    """Wait ``seconds``, or less if the client disconnects or the emulator stops."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not stopping.is_set():
        remaining = deadline - loop.time()
        if remaining <= 0:
            return
        await asyncio.sleep(min(POLL_S, remaining))
        if await request.is_disconnected():
            return
