"""The run log: what every sync (and push) did, kept in the warehouse beside the data.

`_insightly_runs` holds one row per run (its id is `RunStats.sync`), `_insightly_run_tables`
one row per table the run touched. `insightly status` and `insightly report` read them.

Written through the pipeline's sql_client, both tables in one transaction, so a run is
either logged whole or not at all, and outside dlt's own state and load packages: logging a
run never changes what the next sync reads. The write takes the pipeline's sync lock (DuckDB
allows one writer per file: writing while another sync holds the file would break that
sync). A run that cannot reach the warehouse (another sync holds the lock, the destination
is down) keeps its record as one JSON file in `<pipelines_dir>/<pipeline>.runlog/`, written
whole by a rename; the next run that reaches the warehouse appends it first. Appending is
idempotent by run id, so a crash between the commit and removing the file costs nothing.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import dlt

from insightly.api.paging import PAGE_SIZE
from insightly.deletes.check import IdFiles
from insightly.errors import (
    AuthenticationError,
    ConfigurationError,
    ModelsFailed,
    QuotaExhausted,
    SyncAlreadyRunning,
)
from insightly.stats import RunStats
from insightly.sync.pipeline import SyncOptions, exclusive, make_pipeline

log = logging.getLogger(__name__)
# exit codes of runs whose loads stand: done, models failed after the load, quota stop
LOADED_CODES = (0, ModelsFailed.exit_code, QuotaExhausted.exit_code)
# runs that never reached the warehouse: refused by the lock (whose holder may have the
# DuckDB file open), a bad key or a bad setting; kept for the next run to append
KEPT_CODES = (
    SyncAlreadyRunning.exit_code,
    AuthenticationError.exit_code,
    ConfigurationError.exit_code,
)
RUNS_TABLE = "_insightly_runs"
TABLES_TABLE = "_insightly_run_tables"
RUN_COLUMNS = (
    ("run_id", "varchar(64) not null"),
    ("command", "varchar(32)"),
    ("account", "varchar(128)"),
    ("started_at", "timestamp with time zone"),
    ("finished_at", "timestamp with time zone"),
    ("exit_code", "bigint"),
    ("requests", "bigint"),
    ("responses_429", "bigint"),
    ("quota_remaining", "bigint"),
)
TABLE_COLUMNS = (
    ("run_id", "varchar(64) not null"),
    ("table_name", "varchar(256)"),
    ("rows", "bigint"),
    ("requests", "bigint"),
    ("skipped_reason", "varchar(1024)"),
    ("backfill_pages_left", "bigint"),
    ("id_check_pages_left", "bigint"),
    # the table's read (and id check) finished in this run: "the last complete read"
    ("read_complete", "boolean"),
)


@dataclass
class TableRecord:
    """One table in one run."""

    table_name: str
    rows: int = 0
    requests: int = 0
    skipped_reason: str | None = None
    backfill_pages_left: int | None = None
    id_check_pages_left: int | None = None
    read_complete: bool = True


@dataclass
class RunRecord:
    """One run, as `_insightly_runs` and `_insightly_run_tables` hold it."""

    run_id: str
    command: str
    account: str | None
    started_at: datetime
    finished_at: datetime
    exit_code: int
    requests: int = 0
    responses_429: int = 0
    quota_remaining: int | None = None
    tables: list[TableRecord] = field(default_factory=list)

    def as_json(self) -> str:
        value = asdict(self)
        value["started_at"] = self.started_at.isoformat()
        value["finished_at"] = self.finished_at.isoformat()
        return json.dumps(value, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        value = json.loads(text)
        value["started_at"] = datetime.fromisoformat(value["started_at"])
        value["finished_at"] = datetime.fromisoformat(value["finished_at"])
        value["tables"] = [TableRecord(**t) for t in value["tables"]]
        return cls(**value)


def pages_left(total: int | None, skip: int = 0) -> int | None:
    """Pages a read still needs from offset `skip` of `total` records (None: unknown)."""
    if total is None:
        return None
    return max(0, math.ceil((total - skip) / PAGE_SIZE))


def table_records(
    pipeline: dlt.Pipeline, stats: RunStats, tables: Iterable[str] = ()
) -> list[TableRecord]:
    """Per table: what the run read, and what it left for the next run (from RunStats)."""
    names = set(tables) | set(stats.requests) | set(stats.rows) | set(stats.skipped)
    out = []
    for name in sorted(names):
        record = TableRecord(name, stats.rows[name], stats.requests[name], stats.skipped.get(name))
        if name in stats.walks:
            skip, total = stats.walks[name]
            record.backfill_pages_left = pages_left(total, skip)
        elif name in stats.unfinished:  # a full read cut short is read again whole
            record.backfill_pages_left = pages_left(stats.totals.get(name))
        if name in stats.checks_pending:
            read = IdFiles(pipeline, name).load()
            skip = int(read.walk.get("skip", 0)) if read else 0
            record.id_check_pages_left = pages_left(stats.totals.get(name), skip)
        unfinished = name in stats.walks or name in stats.unfinished
        record.read_complete = not (unfinished or name in stats.checks_pending)
        record.read_complete &= name not in stats.skipped and name not in stats.held
        out.append(record)
    return out


def pipeline_of(target: dlt.Pipeline | SyncOptions) -> dlt.Pipeline:
    return make_pipeline(target) if isinstance(target, SyncOptions) else target


def record_run(
    target: dlt.Pipeline | SyncOptions,
    command: str,
    account: str | None,
    started_at: datetime,
    finished_at: datetime,
    exit_code: int,
    stats: RunStats,
    *,
    tables: Iterable[str] = (),
    locked: bool = False,
) -> bool:
    """Append one run to the run log; True if it reached the warehouse, False if it was kept
    in the pipelines directory for the next run. Never raises for the warehouse's sake: a
    run's exit code is its own, whatever happens to its log.

    target: the run's pipeline, or the SyncOptions that name it. `locked`: the caller holds
    the pipeline's sync lock (a push that logs before releasing it); else it is taken here.
    A run that never reached the warehouse (exit 2, 3 or 7) is kept for the next run.
    """
    try:
        pipeline = pipeline_of(target)
        record = _record(pipeline, command, account, started_at, finished_at, exit_code, stats)
        record.tables = table_records(pipeline, stats, tables)
        if exit_code not in LOADED_CODES:  # a failed run: nothing it read counts as complete
            for table in record.tables:
                table.read_complete = False
        pending = PendingRuns(pipeline)
        pending.keep(record)
    except Exception as exc:  # no pipeline (a bad destination name), a read-only disk...
        log.warning("this run could not be logged: %s", exc)
        return False
    if exit_code in KEPT_CODES and not locked:
        return False
    return flush(pipeline, pending, locked)


def _record(
    pipeline: dlt.Pipeline,
    command: str,
    account: str | None,
    started_at: datetime,
    finished_at: datetime,
    exit_code: int,
    stats: RunStats,
) -> RunRecord:
    return RunRecord(
        run_id=stats.sync,
        command=command,
        account=account,
        started_at=started_at,
        finished_at=finished_at,
        exit_code=exit_code,
        requests=stats.total_requests,
        responses_429=stats.statuses[429],
        quota_remaining=stats.rate_remaining,
    )


def flush(pipeline: dlt.Pipeline, pending: PendingRuns, locked: bool = False) -> bool:
    """Append every kept run to the warehouse; True when none is left behind."""
    try:
        if locked:
            _append_kept(pipeline, pending)
        else:
            with exclusive(pipeline, wait=False):
                _append_kept(pipeline, pending)
    except SyncAlreadyRunning:
        return False
    except Exception as exc:  # the destination is unreachable: keep it for the next run
        log.warning("the run log is kept in %s for the next run: %s", pending.root, exc)
        return False
    return True


def _append_kept(pipeline: dlt.Pipeline, pending: PendingRuns) -> None:
    records = pending.records()
    if records:
        with pipeline.sql_client() as sql:
            append(sql, [record for _, record in records])
        pending.remove(path for path, _ in records)


def append(sql: Any, records: Sequence[RunRecord]) -> None:
    """Write runs in one transaction, replacing any row of the same run id."""
    if not sql.has_dataset():
        sql.create_dataset()
    runs = sql.make_qualified_table_name(RUNS_TABLE)
    per_table = sql.make_qualified_table_name(TABLES_TABLE)
    with sql.begin_transaction():
        sql.execute_sql(_create(runs, RUN_COLUMNS))
        sql.execute_sql(_create(per_table, TABLE_COLUMNS))
        for record in records:
            sql.execute_sql(f"delete from {runs} where run_id = %s", record.run_id)
            sql.execute_sql(f"delete from {per_table} where run_id = %s", record.run_id)
            sql.execute_sql(_insert(runs, RUN_COLUMNS), *_run_values(record))
            for table in record.tables:
                values = (record.run_id, *list(asdict(table).values()))
                sql.execute_sql(_insert(per_table, TABLE_COLUMNS), *values)


def _create(name: str, columns: Sequence[tuple[str, str]]) -> str:
    body = ", ".join(f'"{column}" {kind}' for column, kind in columns)
    return f"create table if not exists {name} ({body})"


def _insert(name: str, columns: Sequence[tuple[str, str]]) -> str:
    names = ", ".join(f'"{column}"' for column, _ in columns)
    return f"insert into {name} ({names}) values ({', '.join(['%s'] * len(columns))})"


def _run_values(record: RunRecord) -> tuple[Any, ...]:
    return (
        record.run_id,
        record.command,
        record.account,
        record.started_at,
        record.finished_at,
        record.exit_code,
        record.requests,
        record.responses_429,
        record.quota_remaining,
    )


class PendingRuns:
    """Runs not in the warehouse yet: one JSON file each, beside the pipeline."""

    def __init__(self, pipeline: dlt.Pipeline) -> None:
        self.root = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.runlog"

    def keep(self, record: RunRecord) -> None:
        """Write the file whole (a temporary file renamed): never half a record."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{record.run_id}.json"
        temporary = path.with_suffix(".tmp")
        with temporary.open("w") as out:
            out.write(record.as_json())
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)

    def records(self) -> list[tuple[Path, RunRecord]]:
        """The kept runs, oldest first; an unreadable file is left alone and said so."""
        found = []
        for path in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            try:
                found.append((path, RunRecord.from_json(path.read_text())))
            except (OSError, ValueError, TypeError, KeyError) as exc:
                log.warning("ignoring unreadable run log file %s: %s", path, exc)
        return sorted(found, key=lambda item: item[1].started_at)

    def remove(self, paths: Iterable[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)
