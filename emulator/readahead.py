"""Render the next pages of a read while the client is busy with the current one.

A sync reads pages in order (``skip`` += ``top``).  After a full page is served, the
following ``readahead_pages`` pages are queued here; one background thread renders their
records into the tenant's render cache, so the request that comes next is served from
cache.  It never competes with a request being served: between records it checks the
tenant's count of foreground callers and sleeps while there are any.  The thread ends
after a few idle seconds and is started again on demand.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

IDLE_EXIT_S = 3.0
MAX_PENDING = 8  # older requests are dropped: the reader has moved on


class ReadAhead:
    def __init__(self, warm: Callable[..., None], name: str = "emulator-readahead") -> None:
        self._warm = warm
        self._name = name
        self._jobs: deque[tuple[Any, ...]] = deque(maxlen=MAX_PENDING)
        self._queued: set[tuple[Any, ...]] = set()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def schedule(self, job: tuple[Any, ...]) -> None:
        with self._wake:
            if job in self._queued:
                return
            if len(self._jobs) == self._jobs.maxlen:
                self._queued.discard(self._jobs[0])
            self._jobs.append(job)
            self._queued.add(job)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._wake.notify()

    def pending(self) -> int:
        with self._wake:
            return len(self._jobs)

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._jobs:
                    self._wake.wait(IDLE_EXIT_S)
                if not self._jobs:
                    self._thread = None
                    return
                job = self._jobs.popleft()
                self._queued.discard(job)
            try:
                self._warm(*job)
            except Exception:  # best effort: a failed warm-up only means a cache miss
                continue
