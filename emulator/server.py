"""Run the emulator with uvicorn in a background thread (``Emulator``) or in the
foreground (``serve_forever``, used by the CLI).

The listening socket is bound before uvicorn starts, so ``port=0`` yields a free port
that is known immediately and cannot be taken by another process in between.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from .app import build_app
from .config import EmulatorConfig
from .requestlog import RequestLogEntry
from .state import EmulatorState
from .store import DriftEvent, Tenant
from .writes import WriteBook

START_TIMEOUT_S = 15.0
SWITCH_INTERVAL_S = 0.001


def bind_socket(host: str, port: int) -> socket.socket:
    # proto IPPROTO_TCP (not 0) makes asyncio set TCP_NODELAY on accepted connections;
    # without it a response's body waits behind its header segment for the client's
    # delayed ACK, ~40 ms per request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn, telling held requests ("timeout" faults) to end when asked to exit."""

    def __init__(self, config: uvicorn.Config, state: EmulatorState) -> None:
        super().__init__(config)
        self.state = state

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.state.stopping.set()
        super().handle_exit(sig, frame)


def _uvicorn_server(state: EmulatorState) -> uvicorn.Server:
    config = uvicorn.Config(
        build_app(state),
        http="h11",  # the connection faults reach the socket through h11's request cycle
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    state.stopping.clear()
    return _Server(config, state)


class Emulator:
    """An Insightly v3.1 emulator listening on 127.0.0.1 in a daemon thread.

    Use as a context manager (``with Emulator(cfg) as emu: ...``) or call ``start()`` /
    ``stop()``.  ``tenant`` is the data (thread-safe), ``requests`` the request log.
    """

    def __init__(
        self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.host = host
        self._requested_port = port
        self._state = EmulatorState(self.config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port: int | None = None

    # -------------------------------------------------------------- lifecycle
    def start(self) -> Emulator:
        if self._thread is not None:
            return self
        self._socket = bind_socket(self.host, self._requested_port)
        self.port = self._socket.getsockname()[1]
        self._server = _uvicorn_server(self._state)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"insightly-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._state.stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self._state.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -------------------------------------------------------------- API for tests
    @property
    def url(self) -> str:
        """Server root, e.g. ``http://127.0.0.1:8765`` (admin endpoints live here)."""
        if self.port is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """API base, e.g. ``http://127.0.0.1:8765/v3.1/``."""
        return f"{self.url}/v3.1/"

    @property
    def tenant(self) -> Tenant:
        return self._state.tenant

    @property
    def requests(self) -> list[RequestLogEntry]:
        return self._state.log.entries()

    @property
    def writes(self) -> WriteBook:
        """The write side: ``writes.events()`` lists every applied write."""
        return self._state.writes

    def clear_requests(self) -> None:
        self._state.log.clear()

    @property
    def drift_log(self) -> list[DriftEvent]:
        """Every change the ``drift`` switch made, oldest first: (op, entity, id, time)."""
        return self._state.drift_log()

    def clear_drift_log(self) -> None:
        self._state.clear_drift_log()

    def configure(self, **switches: Any) -> None:
        """Change switches at runtime, e.g. ``configure(forbidden={"Ticket": 403})``."""
        self._state.configure(**switches)

    def reset_quota(self) -> None:
        """Start a new quota day (X-RateLimit-Remaining back to daily_limit)."""
        self._state.limits.reset()


def serve_forever(config: EmulatorConfig, host: str, port: int, announce: Any = None) -> None:
    """Serve in the foreground until SIGINT/SIGTERM, then return normally (exit code 0).

    uvicorn handles the signals and re-raises them after shutting down; the no-op
    handlers installed here absorb that re-raise so the process ends cleanly.
    """
    state = EmulatorState(config)
    # The process is ours: hand the GIL over every 1 ms (not 5), so a request is not kept
    # waiting behind background read-ahead for long.
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    sock = bind_socket(host, port)
    previous = {s: signal.signal(s, _absorb) for s in (signal.SIGINT, signal.SIGTERM)}
    if announce is not None:
        announce(sock.getsockname()[1])
    try:
        _uvicorn_server(state).run(sockets=[sock])
    finally:
        state.close()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _absorb(signum: int, frame: object) -> None:
    """Placeholder handler: the shutdown itself is done by uvicorn."""
