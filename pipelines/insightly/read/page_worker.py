"""A worker process that decodes a large read's pages and turns them into Arrow tables beside
the read (`page_workers`, 1 by default with a second core; page_pipe.py drives it).

What was measured for issue 19 (pages of 500 emulator contacts, 16 custom fields each,
1.5 MB; docs/performance.md has the figures and conditions):
- DuckDB's `read_json` with declared columns reads a page in 1.3 ms, but coerces without a
  word: 1.5 becomes 2 in a BIGINT column, true 1.0 in a DOUBLE one, 5 '5' in a VARCHAR one.
  Variant columns, the lossless custom field text and first-value typing would each need
  per-column SQL and a fallback for odd data; auto-detecting the columns took 38 ms a page;
- pyarrow's JSON reader needs newline-delimited JSON and refuses a page whose custom field
  values differ in type ("changed from string to boolean"): every page;
- so pages are parsed by orjson (about 10 ms a page) and converted by page_tables.py (about
  10 ms), both in Python: on two cores the sync was bound by its one Python thread.
Here both happen in a second process: the page goes as the API's bytes, and the tables come
back as Arrow IPC with the page's facts (page_facts.py), the same tables by construction.
An earlier version sent pages the sync had parsed already (for its cursor and keys): a
second parse of every page, slower on 2 cores; now the sync never parses them.

One worker per sync process (`MAX_WORKERS`, the setting), started by the first read past
`WORKER_AFTER_PAGES` pages, so a small incremental sync never pays its start (about 0.6 s of
the other core's time), and kept for the next read (the next chunk of a backfill, the next
entity) until the process exits. Until it is ready, pages are converted in process; then the
run's `PageTables` (its column types so far) moves to the worker, and moves back when the read
ends. A read that fails stops it. Frames on the pipes: 8-byte length, then a pickle.
"""

from __future__ import annotations

import atexit

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

import orjson
import pyarrow as pa

from insightly.api.body import parse_body
from insightly.read.page_facts import convert_page

WORKER_AFTER_PAGES = 4  # a read of more pages than this starts the worker
MAX_WORKERS = 0  # worker processes at once, per sync process: the `page_workers` setting
_lock = threading.Lock()
_idle: PageWorker | None = None  # the worker no read holds now
_count = 0  # workers started and not stopped
pages_converted = 0  # by workers, in this process
_HEADER = struct.Struct("<Q")
_DONE = object()


def _write(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=5)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


PIPE_BYTES = 1 << 20  # a page's body (1.5 MB) in two writes, not 24 of the default 64 KiB


def _widen(*pipes: Any) -> None:
    """Larger pipe buffers where the system allows them (Linux): fewer switches between
    the two processes per page."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsize is None:
        return
    for pipe in pipes:
        try:
            fcntl.fcntl(pipe.fileno(), setsize, PIPE_BYTES)
        except OSError:  # above /proc/sys/fs/pipe-max-size: the default stays
            return


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def encode_page(page: Sequence[dict]) -> tuple[str, bytes]:
    """A page as orjson text: exact for records orjson parsed (no NaN, no integer past 64
    bits); anything orjson can't write goes as a pickle."""
    try:
        return "json", orjson.dumps(page)
    except TypeError:
        return "pickle", pickle.dumps(list(page), protocol=5)


def take(start: bool) -> PageWorker | None:
    """The process's worker if no other read holds it; a new one only when `start` (a read
    long enough to be worth one). None: convert in process."""
    global _idle, _count
    if MAX_WORKERS < 1:
        return None
    with _lock:
        worker, _idle = _idle, None
        if worker is not None:
            if worker.alive():
                return worker
            _count -= 1
        if not start or _count >= MAX_WORKERS:
            return None
        try:
            worker = PageWorker()
        except OSError:
            return None
        _count += 1
        if _count == 1:
            atexit.register(_shutdown)
        return worker


def give_back(worker: PageWorker) -> None:
    """A read is done with its worker: the next read (the next chunk of a backfill, the next
    entity) takes it ready, without another start."""
    global _idle, _count
    with _lock:
        if worker.alive() and _idle is None:
            _idle = worker
            return
        _count -= 1
    worker.stop()


def drop(worker: PageWorker) -> None:
    """A read failed with this worker: stop it (its state is not to be reused)."""
    global _count
    worker.stop()
    with _lock:
        _count -= 1


def _shutdown() -> None:
    global _idle
    with _lock:
        worker, _idle = _idle, None
    if worker is not None:
        worker.stop()


class PageWorker:
    """The main process's end: sends pages, takes their tables back in order."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "insightly.read.page_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        _widen(self._process.stdin, self._process.stdout)
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._inbox: queue.Queue[Any] = queue.Queue()
        self.ready = threading.Event()
        self._writer = threading.Thread(target=self._send_all, daemon=True, name="page-worker-w")
        self._reader = threading.Thread(target=self._receive_all, daemon=True, name="page-worker-r")
        self._writer.start()
        self._reader.start()

    def _send_all(self) -> None:
        stdin = self._process.stdin
        assert stdin is not None
        try:
            while (message := self._outbox.get()) is not _DONE:
                _write(stdin, message)
            stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the reader reports the worker's end

    def _receive_all(self) -> None:
        stdout = self._process.stdout
        assert stdout is not None
        try:
            while True:
                message = _read(stdout)
                if message[0] == "ready":
                    self.ready.set()
                else:
                    self._inbox.put(message)
        except (EOFError, OSError, pickle.UnpicklingError):
            self.ready.set()
            self._inbox.put(("error", "the page worker ended unexpectedly"))

    def start(self, tables: Any) -> None:
        """Hand over the run's conversion state (page_tables.PageTables)."""
        self._outbox.put(("state", tables))

    def send(self, page: Sequence[dict]) -> None:
        """A page's records (decoded already): answered with its tables."""
        self._outbox.put(encode_page(page))

    def send_body(self, body: bytes) -> None:
        """A page as the API sent it: answered with its facts and tables, or `undecodable`
        (then every page after it is `skipped` until `resume`)."""
        self._outbox.put(("raw", body))

    def resume(self) -> None:
        """After an `undecodable` page: convert what comes next again."""
        self._outbox.put(("resume", None))

    def reply(self) -> tuple[str, Any]:
        """The answer to the oldest message not answered yet."""
        global pages_converted
        kind, value = self._inbox.get()
        if kind == "error":
            raise RuntimeError(f"page worker: {value}")
        pages_converted += kind in ("tables", "page")
        return kind, value

    def finish(self) -> Any:
        """The conversion state after the last page (every page's answer taken); the worker
        waits for the next read."""
        self._outbox.put(("finish", None))
        kind, value = self._inbox.get()
        if kind == "error":
            raise RuntimeError(f"page worker: {value}")
        return value

    def alive(self) -> bool:
        return self._process.poll() is None and self._reader.is_alive()

    def stop(self) -> None:
        """End the worker: its input closes, so it exits; killed if it doesn't."""
        self._outbox.put(_DONE)
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=30)


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The worker's loop: a state, then pages, then `finish`."""
    worker = _Serving()
    _write(stdout, ("ready",))
    while True:
        try:
            kind, value = _read(stdin)
        except EOFError:
            return
        try:
            answer = worker.answer(kind, value)
        except Exception as exc:  # reported to the main process, which raises it
            answer = ("error", f"{type(exc).__name__}: {exc}")
        if answer is not None:
            _write(stdout, answer)


class _Serving:
    """The worker's state: the run's PageTables, and whether it skips pages (after one it
    could not decode, until the main process sends that page's records and `resume`)."""

    def __init__(self) -> None:
        self.tables: Any = None
        self.skipping = False

    def answer(self, kind: str, value: Any) -> tuple[str, Any] | None:
        if kind == "state":
            self.tables = value
            return None
        if kind == "finish":
            return ("state", self.tables)
        if kind == "resume":
            self.skipping = False
            return None
        if self.skipping:
            return ("skipped", None)
        if kind == "raw":
            return self._raw(value)
        page = orjson.loads(value) if kind == "json" else pickle.loads(value)
        return ("tables", _ipc_tables(self.tables.page(page)))

    def _raw(self, body: bytes) -> tuple[str, Any]:
        try:
            records = parse_body(body)
        except ValueError:
            records = None
        if not isinstance(records, list):
            self.skipping = True  # the main process asks again, or raises the API's error
            return ("undecodable", None)
        facts, tables = convert_page(self.tables, records)
        return ("page", (facts, None if tables is None else _ipc_tables(tables)))


def _ipc_tables(tables: tuple[pa.Table, list[tuple[str, pa.Table]]]) -> Any:
    root, children = tables
    return _ipc(root), [(name, _ipc(table)) for name, table in children]


def tables_of(value: Any) -> tuple[pa.Table, list[tuple[str, pa.Table]]]:
    """Tables sent by the worker (`_ipc_tables`)."""
    root, children = value
    return _table(root), [(name, _table(data)) for name, data in children]


def main() -> None:
    """Frames on the real stdout only: anything printed goes to stderr."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr
    import insightly.read.page_tables  # noqa: F401  (before "ready": the pickle needs it)

    serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
