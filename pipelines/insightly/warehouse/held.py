"""One DuckDB connection held open through a sync, so the many short ones are cheap.

DuckDB keeps one database instance per file in a process while any connection to it is
open, and every later connection shares it. A sync opens about seventeen (the state sync,
the history, the delete checks, the load's jobs, the integrity check): without one held,
each reopened the file (20-80 ms) and each close checkpointed it (up to 100 ms), about a
second of an incremental sync. The held connection is released while a pipeline run
extracts and normalizes, so the pages DuckDB cached during a load never sit in memory
beside the next chunk's extract (a large backfill loads in chunks; docs/performance.md).

The connection is borrowed from dlt's own pool for the destination's credentials, so it
opens the file exactly as dlt would (same configuration, same settings).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class HeldOpen:
    """`with HeldOpen(pipeline) as held:` holds a connection; `held.release()` and
    `held.hold()` let go of it and take it again. Does nothing on other destinations, on an
    in-memory database, or when the file can't be opened now (the sync then meets the
    same error itself, and reports it)."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self._pool: Any = None
        self._conn: Any = None

    def hold(self) -> None:
        if self._conn is not None:
            return
        try:
            destination = self.pipeline.destination
            if destination is None or destination.destination_name != "duckdb":
                return
            credentials = self.pipeline.destination_client().config.credentials
            if getattr(credentials, "database", ":memory:") == ":memory:":
                return
            pool = credentials.conn_pool
            self._conn = pool.borrow_conn()
            self._pool = pool
        except Exception as exc:  # a lock held by another process, a file not there yet
            log.debug("not holding the DuckDB file open: %s", exc)

    def release(self) -> None:
        conn, pool = self._conn, self._pool
        self._conn = self._pool = None
        if conn is not None:
            pool.return_conn(conn)

    def __enter__(self) -> HeldOpen:
        self.hold()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
