"""Reads of the run log and of the pipeline's progress, shared by `insightly status` and
`insightly report`: the last runs, each table's freshness, the reads left for later runs,
and today's use of the daily quota."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import dlt

from insightly.deletes.check import IdFiles
from insightly.ops.runlog import RUNS_TABLE, TABLES_TABLE, PendingRuns, RunRecord, pages_left
from insightly.read.walk import unfinished_walk
from insightly.sync.run import refreshed_at
from insightly.warehouse.introspect import tables_in, tables_with_columns

CURSOR_COLUMN = "date_updated_utc"


@dataclass
class Run:
    """One row of `_insightly_runs` (or a run kept in the pipelines directory: `pending`)."""

    run_id: str
    command: str
    account: str | None
    started_at: datetime
    finished_at: datetime
    exit_code: int
    requests: int
    responses_429: int
    quota_remaining: int | None
    rows: int = 0
    pending: bool = False

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass
class Freshness:
    """How current one table is."""

    table: str
    newest_update: datetime | None  # the newest DATE_UPDATED_UTC loaded
    last_complete_read: datetime | None  # a run read it to the end (or a full read did)


@dataclass
class PendingRead:
    """A read or id check that continues in a later run."""

    table: str
    kind: str  # "backfill" or "id check"
    done: int  # records (or ids) read so far
    total: int | None  # records when the read began, if known
    pages_left: int | None


def last_runs(sql: Any, limit: int = 20, leave_out: Sequence[int] = ()) -> list[Run]:
    """The newest runs in the warehouse, newest first, with the rows each loaded; runs that
    ended with an exit code in `leave_out` are not counted."""
    runs = sql.make_qualified_table_name(RUNS_TABLE)
    per_table = sql.make_qualified_table_name(TABLES_TABLE)
    codes = ", ".join(str(int(code)) for code in leave_out)
    rows = sql.execute_sql(
        "select r.run_id, r.command, r.account, r.started_at, r.finished_at, r.exit_code, "
        "r.requests, r.responses_429, r.quota_remaining, "
        f"(select coalesce(sum(t.rows), 0) from {per_table} t where t.run_id = r.run_id) "
        f"from {runs} r {f'where r.exit_code not in ({codes}) ' if codes else ''}"
        f"order by r.started_at desc limit {int(limit)}"
    )
    return [_run(*row) for row in rows or []]


@dataclass
class RunsByCode:
    """The runs of one command that ended with one exit code: how many, the newest."""

    command: str
    exit_code: int
    runs: int
    last_started_at: datetime


def runs_by_code(sql: Any, codes: Sequence[int]) -> list[RunsByCode]:
    """Runs that ended with one of `codes`, counted per command and code, newest first."""
    if not codes:
        return []
    runs = sql.make_qualified_table_name(RUNS_TABLE)
    rows = sql.execute_sql(
        f"select r.command, r.exit_code, count(*), max(r.started_at) from {runs} r "
        f"where r.exit_code in ({', '.join(str(int(code)) for code in codes)}) "
        "group by r.command, r.exit_code order by max(r.started_at) desc"
    )
    return [RunsByCode(c, int(e), int(n), _utc(last)) for c, e, n, last in rows or []]


def _run(*values: Any) -> Run:
    run = Run(*values)
    run.started_at, run.finished_at = _utc(run.started_at), _utc(run.finished_at)
    run.rows = int(run.rows or 0)
    return run


def kept_runs(pipeline: dlt.Pipeline) -> list[Run]:
    """Runs kept in the pipelines directory, not in the warehouse yet."""
    return [_from_record(record) for _, record in PendingRuns(pipeline).records()]


def _from_record(record: RunRecord) -> Run:
    rows = sum(t.rows for t in record.tables)
    return Run(
        record.run_id,
        record.command,
        record.account,
        _utc(record.started_at),
        _utc(record.finished_at),
        record.exit_code,
        record.requests,
        record.responses_429,
        record.quota_remaining,
        rows,
        pending=True,
    )


def skipped_lists(sql: Any) -> dict[str, str]:
    """The tables the newest sync skipped, with its reason: list endpoints outside the plan
    (403/404/405) and per-record lists marked unavailable."""
    runs = sql.make_qualified_table_name(RUNS_TABLE)
    per_table = sql.make_qualified_table_name(TABLES_TABLE)
    rows = sql.execute_sql(
        f"select t.table_name, t.skipped_reason from {per_table} t where t.run_id = "
        f"(select r.run_id from {runs} r where r.command = 'sync' "
        "order by r.started_at desc limit 1) and t.skipped_reason is not null "
        "order by t.table_name"
    )
    return {name: reason for name, reason in rows or []}


def has_run_log(sql: Any) -> bool:
    return RUNS_TABLE in tables_in(sql)


def freshness(sql: Any, pipeline: dlt.Pipeline) -> list[Freshness]:
    """Per data table: the newest DATE_UPDATED_UTC, and when a read of it last completed
    (a run that read it to the end, from the run log; or a lookup's last full read)."""
    tables = _tables_with_cursor(sql)
    newest: dict[str, datetime | None] = {}
    if tables:
        union = " union all ".join(
            f"select '{t}', max({CURSOR_COLUMN}) from {sql.make_qualified_table_name(t)}"
            for t in tables
        )
        newest = {name: _utc(value) for name, value in sql.execute_sql(union) or []}
    completed = _last_complete_reads(sql)
    out = []
    for table in sorted(set(tables) | set(completed)):
        last = max(
            (d for d in (completed.get(table), refreshed_at(pipeline, table)) if d),
            default=None,
        )
        out.append(Freshness(table, newest.get(table), last))
    return out


def _tables_with_cursor(sql: Any) -> list[str]:
    found = tables_with_columns(sql, CURSOR_COLUMN)
    return sorted(t for t in found if not t.startswith("_") and "__" not in t)


def _last_complete_reads(sql: Any) -> dict[str, datetime]:
    if not has_run_log(sql):
        return {}
    runs = sql.make_qualified_table_name(RUNS_TABLE)
    per_table = sql.make_qualified_table_name(TABLES_TABLE)
    rows = sql.execute_sql(
        f"select t.table_name, max(r.finished_at) from {per_table} t "
        f"join {runs} r on r.run_id = t.run_id where t.read_complete group by t.table_name"
    )
    return {name: _utc(value) for name, value in rows or []}


def pending_reads(pipeline: dlt.Pipeline, tables: Sequence[str]) -> list[PendingRead]:
    """Backfills (walks, read/walk.py) and id checks (deletes/check.py) that continue next run."""
    out = []
    for table in tables:
        walk = unfinished_walk(pipeline, table)
        if walk is not None:
            total = walk.first_total
            out.append(
                PendingRead(table, "backfill", walk.skip, total, pages_left(total, walk.skip))
            )
        check = IdFiles(pipeline, table).load()
        if check is not None:  # its files are removed when the check completes
            skip = int(check.walk.get("skip", 0))
            out.append(PendingRead(table, "id check", skip, None, None))
    return out


def state_tables(pipeline: dlt.Pipeline) -> list[str]:
    """Every table the pipeline state knows (each incremental one keeps its cursor there)."""
    resources = pipeline.state.get("sources", {}).get("insightly", {}).get("resources", {})
    return sorted(resources)


@dataclass
class QuotaToday:
    """Today's (UTC) use of the daily quota by the logged runs."""

    runs: int
    requests: int
    remaining: int | None  # X-RateLimit-Remaining after the newest run that saw one


def quota_today(runs: Sequence[Run], now: datetime | None = None) -> QuotaToday:
    today = (now or datetime.now(timezone.utc)).date()
    todays = [r for r in runs if r.started_at.date() == today]
    newest = sorted(todays, key=lambda r: r.started_at, reverse=True)
    remaining = next((r.quota_remaining for r in newest if r.quota_remaining is not None), None)
    return QuotaToday(len(todays), sum(r.requests for r in todays), remaining)


def _utc(value: Any) -> Any:
    """Timestamps as aware UTC datetimes (DuckDB answers in the session's time zone)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    return value
