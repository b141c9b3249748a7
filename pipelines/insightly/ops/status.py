"""`insightly status`: what the last runs did and what is left, without calling the API.

It reads the run log (runlog.py) and the freshness of each table from the warehouse, the
reads that continue next run from the pipeline's state, and the runs kept in the pipelines
directory that have not reached the warehouse yet. When the warehouse can't be opened (a
sync holds the DuckDB file), it says so and shows what the pipelines directory knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from insightly.catalogue.entities import PER_RECORD
from insightly.errors import QueryFailed
from insightly.ops.query import render_table
from insightly.ops.run_history import (
    Freshness,
    PendingRead,
    QuotaToday,
    Run,
    freshness,
    has_run_log,
    kept_runs,
    last_runs,
    pending_reads,
    quota_today,
    skipped_lists,
    state_tables,
)
from insightly.read.endpoints import Endpoints, endpoints_file
from insightly.read.opportunity_states import TABLE as STATE_HISTORY
from insightly.sync.accounts import AccountRun, account_runs, run_accounts
from insightly.sync.pipeline import SyncOptions, make_pipeline
from insightly.sync.pipeline_args import missing_duckdb_file

QUOTA_RUNS = 500  # runs read to add up today's quota use


def main(
    pipeline: SyncOptions,
    runs: int = 10,
    accounts: Sequence[str] | None = None,
    all_accounts: bool = False,
) -> int:
    """`insightly status`: the status of the pipeline `pipeline` names, or of each account
    selected (`accounts` by name, or all of them), `runs` runs shown."""
    if not (accounts or all_accounts):
        opened = make_pipeline(pipeline)
        _require_something(opened)
        print(status_text(opened, runs))
        return 0

    def show(run: AccountRun) -> int:
        print(f"account {run.account}:\n{status_text(make_pipeline(run.options), runs)}")
        return 0

    selected = account_runs(accounts, all_accounts, pipeline)
    return run_accounts(selected, show, parallel=1)  # one printout at a time


def _require_something(pipeline) -> None:
    """QueryFailed (exit 2, one line) when there is nothing to show: no warehouse file and
    no run or state in the pipelines directory (a first sync that stopped before its load
    still has its run kept there, and is shown)."""
    problem = missing_duckdb_file(pipeline)
    if problem and not kept_runs(pipeline) and not state_tables(pipeline):
        raise QueryFailed(problem)


def status_text(pipeline, shown: int = 10) -> str:
    """The whole status as text: runs, tables, pending reads, quota."""
    runs, fresh, problem = [], [], missing_duckdb_file(pipeline)
    skipped: dict[str, str] = {}
    try:
        if problem is None:
            with pipeline.sql_client() as sql:
                if has_run_log(sql):
                    runs = last_runs(sql, QUOTA_RUNS)
                    skipped = skipped_lists(sql)
                fresh = freshness(sql, pipeline)
    except Exception as exc:  # no warehouse yet, or another process holds it
        problem = f"the warehouse could not be read: {_reason(exc)}"
    runs = sorted(runs + kept_runs(pipeline), key=lambda r: r.started_at, reverse=True)
    tables = sorted({f.table for f in fresh} | set(state_tables(pipeline)))
    parts = [f"pipeline {pipeline.pipeline_name}, dataset {pipeline.dataset_name}"]
    if problem:
        parts.append(problem)
    parts += [
        runs_section(runs[:shown]),
        freshness_section(fresh),
        pending_section(pending_reads(pipeline, tables)),
        unavailable_section(skipped, _endpoints(pipeline)),
        quota_section(quota_today(runs)),
    ]
    return "\n\n".join(parts)


def _reason(exc: BaseException) -> str:
    """The destination's own words (dlt wraps them in advice about credentials)."""
    text = str(exc)
    marker = "The actual reason given is: "
    text = text[text.index(marker) + len(marker) :] if marker in text else text
    return text.splitlines()[0] if text else type(exc).__name__


def _when(value: datetime | None, missing: str = "never") -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else missing


def runs_section(runs: Sequence[Run]) -> str:
    if not runs:
        return "Last runs: none logged yet"
    columns = ["started (UTC)", "command", "account", "exit", "seconds", "requests", "429s"]
    columns += ["quota left", "rows", "note"]
    rows = [
        [
            _when(r.started_at),
            r.command,
            r.account or "-",
            r.exit_code,
            round(r.seconds, 1),
            r.requests,
            r.responses_429,
            r.quota_remaining,
            r.rows,
            "not in the warehouse yet" if r.pending else "",
        ]
        for r in runs
    ]
    return "Last runs (newest first):\n" + _table(columns, rows)


def freshness_section(fresh: Sequence[Freshness]) -> str:
    if not fresh:
        return "Tables: none loaded yet"
    columns = ["table", "newest DATE_UPDATED_UTC", "last complete read (UTC)"]
    rows = [[f.table, _when(f.newest_update, "-"), _when(f.last_complete_read)] for f in fresh]
    return "Freshness:\n" + _table(columns, rows)


def pending_section(pending: Sequence[PendingRead]) -> str:
    if not pending:
        return "Pending backfills and id checks: none"
    lines = ["Pending backfills and id checks (continued by the next run):"]
    for item in pending:
        of = f" of ~{item.total:,}" if item.total is not None else ""
        left = "" if item.pages_left is None else f", {_pages(item.pages_left)} left"
        noun = "records" if item.kind == "backfill" else "ids"
        lines.append(f"  {item.table}: {item.kind}, {item.done:,}{of} {noun} read{left}")
    return "\n".join(lines)


def _endpoints(pipeline) -> dict[str, str]:
    path = endpoints_file(pipeline.pipelines_dir, pipeline.pipeline_name)
    return Endpoints(path, 0).unavailable()


def unavailable_section(lists: dict[str, str], per_record: dict[str, str]) -> str:
    """What this tenant does not serve: the lists the newest sync skipped, and the
    per-record endpoints marked unavailable until the next lookup refresh."""
    per_record_tables = {p.table for p in PER_RECORD} | {STATE_HISTORY}
    lists = {t: why for t, why in lists.items() if t not in per_record_tables}
    if not lists and not per_record:
        return "Unavailable endpoints: none"
    lines = ["Unavailable endpoints (not read; the tenant's plan or API has none):"]
    lines += [f"  list {table}: {why}" for table, why in sorted(lists.items())]
    lines += [f"  per-record {key}: {why}" for key, why in sorted(per_record.items())]
    return "\n".join(lines)


def _pages(n: int) -> str:
    return f"{n:,} page" + ("" if n == 1 else "s")


def quota_section(quota: QuotaToday) -> str:
    runs = f"{quota.runs} run" + ("" if quota.runs == 1 else "s")
    text = f"Daily API quota today (UTC): {quota.requests:,} requests in {runs}"
    if quota.remaining is not None:
        text += f"; {quota.remaining:,} left after the newest run"
    return text


def _table(columns: list[str], rows: list[list]) -> str:
    """An aligned table without render_table's closing row count."""
    return "\n".join(render_table(columns, rows).splitlines()[:-1])
