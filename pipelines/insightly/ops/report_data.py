"""What the report page shows, read from the warehouse: the CRM marts (built by `insightly
models` in `<dataset>_reporting`, sql/reporting/) and the run log (runlog.py).

Runs that never started (a configuration error, a rejected key, another sync holding the
lock) are counted apart: under cron they can outnumber the real runs, and on the run axis
they would push the syncs off it as empty bars.

Each question answers a list of JSON-ready rows (dates as ISO text, decimals as floats),
the form Vega-Lite takes inline, so the page needs no data files. A mart that is missing
(models never built) answers no rows, and the page says how to build it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import dlt

from insightly.errors import (
    AuthenticationError,
    ConfigurationError,
    QuotaExhausted,
    SyncAlreadyRunning,
)
from insightly.ops.run_history import Run, freshness, has_run_log, last_runs, runs_by_code

RUNS_SHOWN = 30  # the newest runs in the sync health charts
# exit codes of runs that stopped before reading or loading anything, and why
NOT_STARTED = {
    ConfigurationError.exit_code: "configuration error",
    AuthenticationError.exit_code: "the API rejected the key",
    SyncAlreadyRunning.exit_code: "another sync was running",
}
# a run's outcome, for the colour of its bars: any other exit code is a failure
OUTCOMES = {0: "ok", QuotaExhausted.exit_code: "quota stop"}
FAILED = "failed"


@dataclass
class ReportData:
    """Every chart's rows, and what could not be read (shown on the page)."""

    dataset: str
    generated_at: datetime
    headlines: dict | None = None  # the one row of the sales_headlines mart
    pipeline_by_stage: list[dict] = field(default_factory=list)
    won_lost_by_month: list[dict] = field(default_factory=list)
    lead_funnel: list[dict] = field(default_factory=list)
    tasks_by_owner: list[dict] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    quota_by_day: list[dict] = field(default_factory=list)
    freshness: list[dict] = field(default_factory=list)
    not_started: list[dict] = field(default_factory=list)  # per command and exit code
    missing: list[str] = field(default_factory=list)


def read_report(pipeline: dlt.Pipeline) -> ReportData:
    """Read every chart's rows over the pipeline's sql_client."""
    data = ReportData(pipeline.dataset_name, datetime.now(timezone.utc))
    with pipeline.sql_client() as sql:
        marts = _Marts(sql, pipeline.dataset_name)
        data.headlines = next(iter(marts.rows(HEADLINES, "sales_headlines")), None)
        data.pipeline_by_stage = marts.rows(PIPELINE_BY_STAGE, "opportunity_pipeline")
        data.won_lost_by_month = marts.rows(WON_LOST_BY_MONTH, "opportunities_won_lost_by_month")
        data.lead_funnel = marts.rows(LEAD_FUNNEL, "lead_funnel")
        data.tasks_by_owner = marts.rows(TASKS_BY_OWNER, "overdue_tasks_by_owner")
        data.missing = marts.missing
        if has_run_log(sql):
            runs = last_runs(sql, RUNS_SHOWN, leave_out=list(NOT_STARTED))
            data.runs = _run_rows(reversed(runs))
            data.quota_by_day = _quota_by_day(runs)
            data.not_started = [
                {
                    "command": r.command,
                    "exit_code": r.exit_code,
                    "why": NOT_STARTED[r.exit_code],
                    "runs": r.runs,
                    "last_started_at": r.last_started_at.isoformat(),
                }
                for r in runs_by_code(sql, list(NOT_STARTED))
            ]
        else:
            data.missing.append("the run log (_insightly_runs): run `insightly sync`")
        data.freshness = [_fresh_row(f, data.generated_at) for f in freshness(sql, pipeline)]
    return data


# {rep}: the reporting schema, {stg}: the staging schema, both quoted
HEADLINES = "select * from {rep}.sales_headlines"
PIPELINE_BY_STAGE = """
select pipeline_name, stage_name, min(stage_order) as stage_order,
       sum(opportunity_count) as opportunities, sum(total_value) as total_value
from {rep}.opportunity_pipeline
group by pipeline_name, stage_name
order by pipeline_name, min(stage_order)
"""
WON_LOST_BY_MONTH = """
select close_month, opportunity_state, sum(opportunity_count) as opportunities,
       sum(total_value) as total_value
from {rep}.opportunities_won_lost_by_month
where opportunity_state in ('WON', 'LOST')
group by close_month, opportunity_state
order by close_month
"""
LEAD_FUNNEL = """
select lead_status, lead_source, sum(lead_count) as leads,
       sum(converted_count) as converted
from {rep}.lead_funnel
group by lead_status, lead_source
"""
# open tasks from staging, overdue ones from the mart: one row per owner and kind
TASKS_BY_OWNER = """
select coalesce(u.full_name, '(no owner)') as owner, 'open' as kind, count(*) as tasks
from {stg}.tasks as t left join {stg}.users as u on u.user_id = t.owner_user_id
where not t.is_completed
group by coalesce(u.full_name, '(no owner)')
union all
select coalesce(owner_name, '(no owner)'), 'overdue', sum(overdue_task_count)
from {rep}.overdue_tasks_by_owner
group by coalesce(owner_name, '(no owner)')
"""


class _Marts:
    """Runs the mart queries; remembers the marts it could not read."""

    def __init__(self, sql: Any, dataset: str) -> None:
        self.sql = sql
        quote = sql.capabilities.escape_identifier
        self.schemas = {"rep": quote(f"{dataset}_reporting"), "stg": quote(f"{dataset}_stg")}
        self.missing: list[str] = []

    def rows(self, query: str, mart: str) -> list[dict]:
        try:
            with self.sql.execute_query(query.format(**self.schemas)) as cursor:
                columns = [d[0] for d in cursor.description]
                return [
                    {c: _json_ready(v) for c, v in zip(columns, row, strict=True)}
                    for row in cursor.fetchall()
                ]
        except Exception:  # the models were not built (or failed): say so on the page
            self.missing.append(f"the mart {mart}: run `insightly models`")
            return []


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _run_rows(runs: Iterable[Run]) -> list[dict]:
    """One row per run, oldest first; `run` (the axis label: command and start time) is
    unique, so two runs started in the same second keep a bar each."""
    rows: list[dict] = []
    labels: set[str] = set()
    for run in runs:
        label = f"{run.command} {run.started_at:%m-%d %H:%M:%S}"
        while label in labels:
            label += "'"
        labels.add(label)
        outcome = OUTCOMES.get(run.exit_code, FAILED)
        rows.append(
            {
                "run": label,
                "started_at": run.started_at.isoformat(),
                "command": run.command,
                "exit_code": run.exit_code,
                "outcome": outcome,
                "failure": f"✕ exit {run.exit_code}" if outcome == FAILED else None,
                "rows": run.rows,
                "requests": run.requests,
                "quota_remaining": run.quota_remaining,
            }
        )
    return rows


def _quota_by_day(runs: list[Run]) -> list[dict]:
    """Requests sent per UTC day, and the quota left after that day's last run."""
    days: dict[str, dict] = {}
    for run in sorted(runs, key=lambda r: r.started_at):
        day = days.setdefault(
            run.started_at.date().isoformat(),
            {"day": run.started_at.date().isoformat(), "requests": 0, "quota_remaining": None},
        )
        day["requests"] += run.requests
        if run.quota_remaining is not None:
            day["quota_remaining"] = run.quota_remaining
    return list(days.values())


def _fresh_row(item: Any, now: datetime) -> dict:
    def hours(value: datetime | None) -> float | None:
        return round((now - value).total_seconds() / 3600, 1) if value else None

    return {
        "table": item.table,
        "newest_update": item.newest_update.isoformat() if item.newest_update else None,
        "last_complete_read": (
            item.last_complete_read.isoformat() if item.last_complete_read else None
        ),
        "hours_since_read": hours(item.last_complete_read),
        "days_since_update": (
            round(hours(item.newest_update) / 24, 1) if item.newest_update else None
        ),
    }
