"""The id check's read: every id of a table with `brief=true` pages, resumable across runs.

The check's place and the ids read so far are kept in files beside the pipeline
(`<pipeline>.idcheck/`), saved after every page, so a check larger than a day's quota goes
on where it stopped. What is done with the ids is check.py's and verdicts.py's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import dlt

from insightly.api.client import InsightlyClient
from insightly.api.paging import PAGE_SIZE, PageProgress
from insightly.catalogue.entities import CURSOR, Entity
from insightly.read.pages import drifted
from insightly.read.walk import Walk


@dataclass
class IdRead:
    """One table's id check in progress (saved after every page and every stop)."""

    began: str  # ISO time the check began; stamped into the CheckLog when it completes
    walk: dict[str, Any]  # the id read's place (walk.Walk: skip, done, runs)
    settled: bool | None = None  # after the read: one undisturbed run, absences are proof
    fetch: list[Any] | None = None  # after the read: ids to GET and load by merge
    verify: list[Any] | None = None  # after the read: delete candidates to confirm by GET
    # candidates beyond the GET budget, decided by the sample in `verify`
    suspects: list[Any] | None = None
    alive: int = 0  # confirmed candidates that turned out to exist (the read missed them)
    on_trust: list[Any] | None = None  # suspects marked without a GET (a mass delete)
    # the read was compared with the warehouse (deletes.conclude): a run killed after the
    # read but before this compares again instead of finding no candidates
    concluded: bool = False

    @classmethod
    def begin(cls) -> IdRead:
        walk = Walk.begin(None)
        return cls(began=datetime.now(timezone.utc).isoformat(), walk=walk.as_state())

    @property
    def since(self) -> str:
        """Records updated after this may have changed during the check: never deleted."""
        return str(self.walk["started"])


class IdFiles:
    """A check's progress (JSON) and the ids it read (one JSON [id, updated] per line)."""

    def __init__(self, pipeline: dlt.Pipeline, table: str) -> None:
        root = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.idcheck"
        self.progress = root / f"{table}.json"
        self.ids_path = root / f"{table}.ids"

    def load(self) -> IdRead | None:
        try:
            return IdRead(**json.loads(self.progress.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, read: IdRead) -> None:
        self.progress.parent.mkdir(parents=True, exist_ok=True)
        self.progress.write_text(json.dumps(asdict(read)))

    def add(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        self.ids_path.parent.mkdir(parents=True, exist_ok=True)
        with self.ids_path.open("a") as out:
            out.writelines(json.dumps(list(pair)) + "\n" for pair in pairs)

    def ids(self) -> dict[Any, str | None]:
        """Every id read, with its DATE_UPDATED_UTC (the last one read wins)."""
        seen: dict[Any, str | None] = {}
        if self.ids_path.exists():
            with self.ids_path.open() as lines:
                for line in lines:
                    record_id, updated = json.loads(line)
                    seen[record_id] = updated
        return seen

    def clear(self) -> None:
        self.progress.unlink(missing_ok=True)
        self.ids_path.unlink(missing_ok=True)


def read_ids(client: InsightlyClient, entity: Entity, read: IdRead, files: IdFiles) -> None:
    """Read (or go on reading) the entity's ids; QuotaExhausted leaves the place saved."""
    walk = Walk.from_state(read.walk)
    start = walk.resume() if walk.started_reading else 0
    pk = entity.primary_key[0]
    totals: list[int] = []
    keys: set[tuple] = set()
    progress = PageProgress()
    pages = client.pages(
        entity.path,
        {"brief": "true"},
        table=entity.table,
        totals=totals,
        start=start,
        done=walk.done,
        progress=progress,
    )
    try:
        for page in pages:
            files.add((r.get(pk), r.get(CURSOR)) for r in page)
            keys.update((r.get(pk),) for r in page)
            walk.advance(progress.offsets[-1], PAGE_SIZE)
            read.walk = walk.as_state()
            files.save(read)
    finally:
        read.walk = walk.as_state()
        files.save(read)
    read.settled = not walk.resumed and not drifted(totals, keys)
    files.save(read)
