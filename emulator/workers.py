"""Render cold records in other processes (``render_workers``), for pages on many cores.

Building a contact costs ~70 µs of Python, so one process renders a cold 500-record page
in ~35 ms however it is written.  With ``render_workers=N`` the records of a cold page are
split between this process and N worker processes, each holding its own copy of the
tenant: the generated data is a pure function of the data-shaping config, so a worker
builds the same tenant from it.  Only *pristine* records go to workers (generated, never
created, updated or otherwise overlaid); what else a record depends on, the deleted
records its LINKS must leave out, travels with each task.  Workers are started with
"spawn" (the emulator runs threads; forking them is unsafe) when the switch is set.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from .config import DATA_FIELDS, EmulatorConfig

MIN_SHARE = 40  # fewer cold records than this per process: not worth the round trip

_TENANT: Any = None  # the worker process's own tenant


def data_config(config: EmulatorConfig) -> EmulatorConfig:
    """The data-shaping fields of ``config`` (what a worker needs to rebuild the data)."""
    shape = {name: getattr(config, name) for name in DATA_FIELDS}
    return EmulatorConfig(**shape, cache_mb=0, readahead_pages=0)


def _start(config: EmulatorConfig) -> None:
    global _TENANT
    from .store import Tenant

    _TENANT = Tenant(config)


def _ready() -> bool:
    return _TENANT is not None


def _render(
    entity: str,
    indexes: Sequence[int],
    unset_custom_fields: str,
    brief: str | None,
    deleted: dict[str, list[int]],
) -> list[bytes]:
    tenant = _TENANT
    tenant.config.unset_custom_fields = unset_custom_fields
    for name, gone in deleted.items():
        tenant.table(name).deleted = set(gone)
    return tenant.render_records(entity, indexes, brief)


class RenderPool:
    """N spawned processes rendering pristine records; resized when the switch changes."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = data_config(config)
        self._executor: ProcessPoolExecutor | None = None
        self.size = 0
        self.records = 0  # rendered by the workers so far

    def resize(self, size: int) -> None:
        if size == self.size:
            return
        self.close()
        if size > 0:
            context = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                size, mp_context=context, initializer=_start, initargs=(self._config,)
            )
            for _ in range(size):  # start them now, not on the first cold page
                self._executor.submit(_ready)
        self.size = size

    def submit(
        self,
        entity: str,
        indexes: Sequence[int],
        unset_custom_fields: str,
        brief: str | None,
        deleted: dict[str, list[int]],
    ) -> Future[list[bytes]]:
        assert self._executor is not None
        return self._executor.submit(
            _render, entity, list(indexes), unset_custom_fields, brief, deleted
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = None
        self.size = 0


def split(items: Sequence[int], parts: int) -> list[Sequence[int]]:
    """``items`` in ``parts`` contiguous, nearly equal slices (none empty)."""
    parts = max(1, min(parts, len(items)))
    step, extra = divmod(len(items), parts)
    out, start = [], 0
    for k in range(parts):
        stop = start + step + (1 if k < extra else 0)
        out.append(items[start:stop])
        start = stop
    return out
