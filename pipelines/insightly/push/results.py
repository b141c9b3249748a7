"""What a push did, or a dry run would do: one `push_results` row per relation row, loaded
into the warehouse by dlt (append, one load per run), and the run summary it prints."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import dlt
import pyarrow as pa

from insightly.push.guards import wide_changes
from insightly.push.plan import (
    ADD_LINK,
    ADD_TAG,
    CREATE,
    DELETE,
    INVALID,
    REMOVE_LINK,
    REMOVE_TAG,
    UNCHANGED,
    UPDATE,
    Plan,
)
from insightly.push.text import duration
from insightly.sync.pipeline import SyncOptions, file_format, make_pipeline

# Row statuses: applied (every write answered 2xx, or found applied after a lost answer),
# equal (nothing to write), invalid (never sent), refused (a 4xx), unknown (no answer and
# not found: tried again next run), pending (not reached: quota or a stop); a dry run's
# rows: planned (writes to send), equal, invalid.
APPLIED, EQUAL, INVALID_STATUS, REFUSED, UNKNOWN, PENDING, PLANNED = (
    "applied", "equal", "invalid", "refused", "unknown", "pending", "planned",
)  # fmt: skip
RESULTS_TABLE = "push_results"
ACTIONS = (CREATE, UPDATE, DELETE, ADD_TAG, REMOVE_TAG, ADD_LINK, REMOVE_LINK, UNCHANGED, INVALID)
RESULTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("push", pa.string()),
        ("row_key", pa.string()),
        ("action", pa.string()),
        ("insightly_id", pa.int64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
        # added later: dlt adds it to an older table on the next load (NULL in its old rows)
        ("dry_run", pa.bool_()),
    ]
)
LABELS = {
    CREATE: "create",
    UPDATE: "update",
    DELETE: "delete",
    ADD_TAG: "tag added",
    REMOVE_TAG: "tag removed",
    ADD_LINK: "link added",
    REMOVE_LINK: "link removed",
    UNCHANGED: "unchanged",
    INVALID: "invalid",
}


@dataclass
class Outcome:
    """How one row ended."""

    status: str
    insightly_id: int | None = None
    error: str | None = None


@dataclass
class PushReport:
    """A push's run: its plan, each row's outcome and the request counts."""

    name: str
    run_id: str
    plan: Plan
    outcomes: dict[int, Outcome] = field(default_factory=dict)  # row index -> outcome
    writes: int = 0
    failed: int = 0  # rows refused or left unknown so far (progress lines)
    reads: int = 0
    recovered: int = 0  # writes found applied after their answer was lost
    quota_left: int | None = None
    quota_limit: int | None = None
    stop: str | None = None  # why the push stopped early (quota)
    follow_up: str | None = None  # the follow-up sync's outcome

    def statuses(self) -> Counter[str]:
        return Counter(o.status for o in self.outcomes.values())

    def rows(self, dry_run: bool = False) -> list[dict[str, Any]]:
        """The push_results rows of this run; a dry run's say what each row would do."""
        at = datetime.now(timezone.utc)
        out = []
        for index, row in enumerate(self.plan.rows):
            outcome = self.outcomes.get(index) or Outcome(PENDING, row.record_id)
            if dry_run:
                status = (
                    INVALID_STATUS if row.action == INVALID else PLANNED if row.steps else EQUAL
                )
                outcome = Outcome(status, row.record_id, row.error)
            out.append(
                {
                    "run_id": self.run_id,
                    "push": self.name,
                    "row_key": row.key,
                    "action": row.action,
                    "insightly_id": outcome.insightly_id,
                    "status": outcome.status,
                    "error": outcome.error or (row.error if row.action == INVALID else None),
                    "at": at,
                    "dry_run": dry_run,
                }
            )
        return out


def counts_table(plan: Plan) -> str:
    counts = plan.counts()
    width = max(len(v) for v in LABELS.values())
    return "\n".join(f"  {LABELS[a]:<{width}}  {counts.get(a, 0):>7,}" for a in ACTIONS)


KINDS = {CREATE: "POST", UPDATE: "PUT", DELETE: "DELETE", ADD_TAG: "tag", REMOVE_TAG: "untag",
         ADD_LINK: "link", REMOVE_LINK: "unlink"}  # fmt: skip


def writes_line(plan: Plan) -> str:
    """ "2,495 writes (1,245 PUT, 1,250 tag)": the requests behind the row counts."""
    kinds = plan.requests()
    parts = ", ".join(f"{kinds[k]:,} {name}" for k, name in KINDS.items() if kinds[k])
    return f"{plan.writes:,} writes" + (f" ({parts})" if parts else "")


def render_dry_run(
    report: PushReport, left: int | None, limit: int | None, reserve: float, rate: float
) -> str:
    """The plan's counts, requests, quota and time at the configured rate, the warnings,
    and where the plan's rows are."""
    plan = report.plan
    lines = [f"push {report.name}: dry run, nothing sent", counts_table(plan)]
    lines.append(f"  requests: {writes_line(plan)}, plus an incremental sync of the object")
    if left is not None and limit:
        usable = left - int(limit * reserve)
        verdict = "fits" if plan.writes <= usable else "does NOT fit: the push would stop (75)"
        lines.append(
            f"  quota: {left:,} of {limit:,} requests left today, {max(usable, 0):,} above the "
            f"reserve: {verdict}"
        )
    if plan.writes and rate > 0:
        lines.append(
            f"  time: {plan.writes:,} writes at {rate:g} req/s: {duration(plan.writes / rate)}"
        )
    lines += wide_changes(plan)
    lines.append(f"  plan: in {RESULTS_TABLE}, run_id {report.run_id}, dry_run = true")
    lines += _invalid_lines(plan)
    return "\n".join(lines)


def _invalid_lines(plan: Plan, most: int = 20) -> list[str]:
    bad = [r for r in plan.rows if r.action == INVALID]
    lines = [f"  invalid {r.key}: {r.error}" for r in bad[:most]]
    if len(bad) > most:
        lines.append(f"  … and {len(bad) - most:,} more invalid rows (see {RESULTS_TABLE})")
    return lines


def render(report: PushReport) -> str:
    statuses = report.statuses()
    lines = [f"push {report.name}: run {report.run_id}", counts_table(report.plan)]
    lines.append(
        "  rows: " + ", ".join(f"{statuses[s]:,} {s}" for s in sorted(statuses)) if statuses else
        "  rows: none"
    )  # fmt: skip
    lines.append(f"  requests: {report.writes:,} writes, {report.reads:,} reads")
    if report.recovered:
        lines.append(f"  {report.recovered} writes found applied after their answer was lost")
    if report.quota_left is not None:
        lines.append(f"  quota left: {report.quota_left:,} of {report.quota_limit or 0:,}")
    if report.stop:
        lines.append(f"  stopped: {report.stop}")
    if report.follow_up:
        lines.append(f"  copy: {report.follow_up}")
    lines += wide_changes(report.plan)
    problems = [
        (r.key, report.outcomes[i].error)
        for i, r in enumerate(report.plan.rows)
        if i in report.outcomes and report.outcomes[i].status in (REFUSED, UNKNOWN)
    ]
    lines += [f"  failed {key}: {error}" for key, error in problems[:20]]
    if len(problems) > 20:
        lines.append(f"  … and {len(problems) - 20:,} more failed rows (see {RESULTS_TABLE})")
    lines += _invalid_lines(report.plan)
    return "\n".join(lines)


def load_results(options: SyncOptions, rows: list[dict[str, Any]]) -> None:
    """Append the rows to push_results, through a pipeline of its own in the same dataset:
    the sync's pipeline state and schema stay the sync's."""
    if not rows:
        return
    pipeline = make_pipeline(
        SyncOptions(
            destination=options.destination,
            dataset=options.dataset,
            pipeline_name=f"{options.pipeline_name}_push",
            pipelines_dir=options.pipelines_dir,
            duckdb_file=options.duckdb_file,  # an account's or --database's file
        )
    )
    # An Arrow table, as the sync loads: dlt adds no `_dlt_id` row id to it (the sync's
    # migration drops that column from every table of the dataset, warehouse/migrate.py).
    table = pa.Table.from_pylist(rows, schema=RESULTS_SCHEMA)
    resource = dlt.resource(table, name=RESULTS_TABLE, write_disposition="append")
    fmt = file_format(options.destination)
    pipeline.run(resource, loader_file_format=fmt).raise_on_failed_jobs()
