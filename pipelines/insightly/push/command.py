"""`insightly push`: bring the object's copy up to date, plan, check the guard rails, send,
let the copy follow, record the results. The sync's lock is held throughout, so
a sync and a push of one pipeline never run at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from insightly.actions import Actions
from insightly.api.client import InsightlyClient
from insightly.catalogue.entities import CUSTOM_FIELDS, CUSTOM_OBJECTS
from insightly.config import connect, load_settings
from insightly.errors import InsightlyError, QuotaExhausted
from insightly.ops.runlog import record_run
from insightly.push import config
from insightly.push.apply import Applier
from insightly.push.guards import MASS_CHANGE, MassChangeStopped, guard_message
from insightly.push.journal import Journal
from insightly.push.mapping import build
from insightly.push.objects import standard_target
from insightly.push.plan import DELETE, INVALID, Plan, Planner
from insightly.push.progress import INTERVAL, WriteProgress
from insightly.push.results import (
    REFUSED,
    UNKNOWN,
    PushReport,
    load_results,
    render,
    render_dry_run,
)
from insightly.push.snapshot import open_warehouse
from insightly.stats import RunStats
from insightly.sync.accounts import AccountRun, account_runs, parallel_accounts, run_accounts
from insightly.sync.pipeline import (
    DATASET_NAME,
    PIPELINE_NAME,
    SyncOptions,
    exclusive,
    make_pipeline,
)
from insightly.sync.pipeline_args import require_warehouse
from insightly.sync.run import run_sync

INVALID_ROWS = 5


@dataclass
class PushOptions:
    """How to run a push: the sync's destination options plus the push's switches."""

    destination: str = "duckdb"
    dataset: str = DATASET_NAME
    pipeline_name: str = PIPELINE_NAME
    pipelines_dir: str | None = None
    dry_run: bool = False
    allow_mass_change: bool = False
    wait: bool = False
    api_key: str | None = None
    pod: str | None = None
    base_url: str | None = None
    client_options: dict[str, Any] = field(default_factory=dict)
    duckdb_file: str | None = None  # an account's own file (sync/accounts.py)
    stats: RunStats | None = None  # the caller's, so a push that fails is logged with its id
    progress: IO[str] | None = None  # progress lines, when not a terminal (default stderr)
    progress_every: float = INTERVAL  # seconds between two progress lines; 0: none
    label: str | None = None  # the account, at the start of each progress line

    def sync(self, tables: list[str]) -> SyncOptions:
        return SyncOptions(
            destination=self.destination,
            dataset=self.dataset,
            pipeline_name=self.pipeline_name,
            entities=tables,
            pipelines_dir=self.pipelines_dir,
            api_key=self.api_key,
            pod=self.pod,
            base_url=self.base_url,
            client_options=dict(self.client_options),
            lock_held=True,
            duckdb_file=self.duckdb_file,
        )


@dataclass
class PushResult:
    code: int
    text: str
    report: PushReport | None = None
    plan: Plan | None = None


def run_push(spec: config.PushSpec, options: PushOptions) -> PushResult:
    """One push run; InsightlyError subclasses for what stops it (2, 7, 8, 75)."""
    pipeline = make_pipeline(options.sync([]))
    require_warehouse(pipeline)  # before opening: opening creates an empty file
    with exclusive(pipeline, options.wait):
        return _locked(spec, options, Path(pipeline.pipelines_dir))


def _locked(spec: config.PushSpec, options: PushOptions, pipelines_dir: Path) -> PushResult:
    _check_early(spec, options)
    before = _bring_up_to_date(spec, options)
    stats = options.stats or RunStats()  # the push's own run: its id is push_results.run_id
    stats.rate_limit, stats.rate_remaining = before.rate_limit, before.rate_remaining
    client = _client(options, stats)
    journal = Journal(pipelines_dir / f"{options.pipeline_name}.push" / f"{spec.name}.journal")
    try:
        actions = Actions(client)
        with open_warehouse(make_pipeline(options.sync([]))) as warehouse:
            target = warehouse.target(spec.object, actions.entity)
            customs = warehouse.custom_fields(target.table)
            columns, rows = warehouse.relation(spec.relation)
            copy = warehouse.copy(target)
        mapping = build(spec, columns, target, customs)
        report = PushReport(spec.name, stats.sync, Plan([], len(copy), 0))
        applier = Applier(actions, journal, target, report, spec.parent)
        if not options.dry_run:
            report.recovered = applier.recover(copy)
        report.plan = Planner(spec, target, mapping, copy, customs).plan(rows)
        if options.dry_run:
            return _dry_run(spec, report, stats, options, client.pacer.max_rate)
        stop = guard_message(spec, report.plan, options.allow_mass_change)
        if stop:
            raise MassChangeStopped(stop)
        with WriteProgress(report, options.progress, options.progress_every, options.label):
            applier.run(report.plan.rows, client.pacer.max_in_flight)
        journal.compact()
    finally:
        journal.close()
        client.close()
    report.reads = stats.total_requests - report.writes
    report.quota_left, report.quota_limit = stats.rate_remaining, stats.rate_limit
    _follow(spec, options, report)
    load_results(options.sync([]), report.rows())
    return PushResult(_exit_code(report), render(report), report, report.plan)


def _bring_up_to_date(spec: config.PushSpec, options: PushOptions) -> RunStats:
    """An incremental sync of the object (and the custom field metadata, when due)."""
    tables = [spec.object, CUSTOM_FIELDS.table]
    if spec.object.startswith("custom_"):
        tables.append(CUSTOM_OBJECTS.table)
    before = run_sync(options.sync(tables))
    if before.stats.quota_stop:
        raise QuotaExhausted(f"bringing {spec.object} up to date: {before.stats.quota_stop}")
    return before.stats


def _client(options: PushOptions, stats: RunStats) -> InsightlyClient:
    """A client set up as the sync's: one pacer, the quota reserve, the retries."""
    return connect(
        load_settings(),
        options.api_key,
        options.pod,
        options.base_url,
        stats,
        **options.client_options,
    )


def _dry_run(
    spec: config.PushSpec, report: PushReport, stats: RunStats, options: PushOptions, rate: float
) -> PushResult:
    """The plan printed, and written to push_results (dry_run = true): every row, where the
    printed lists stop at a few."""
    plan, reserve = report.plan, load_settings().reserve
    text = render_dry_run(report, stats.rate_remaining, stats.rate_limit, reserve, rate)
    code = INVALID_ROWS if plan.counts().get(INVALID) else 0
    stop = guard_message(spec, plan, options.allow_mass_change)
    if stop:
        text, code = f"{text}\n{stop}", MASS_CHANGE
    load_results(options.sync([]), report.rows(dry_run=True))
    return PushResult(code, text, report, plan)


def _check_early(spec: config.PushSpec, options: PushOptions) -> None:
    """The mapping checked against the copy as it is, before any request: a configuration
    error costs no sync. (A first push, before any sync, is checked after its sync.)"""
    with open_warehouse(make_pipeline(options.sync([]))) as warehouse:
        if spec.object not in warehouse.tables or standard_target(spec.object) is None:
            return  # a first push, or a custom object: checked after the sync
        target = warehouse.target(spec.object)
        columns, _ = warehouse.relation(spec.relation, limit=0)
        build(spec, columns, target, warehouse.custom_fields(target.table))


def _follow(spec: config.PushSpec, options: PushOptions, report: PushReport) -> None:
    """The copy follows: an incremental sync of the object written."""
    if not report.writes:
        report.follow_up = "nothing written, no sync needed"
        return
    if report.stop:  # at the reserve a sync would stop at once: the next run's catches up
        report.follow_up = "not synced (quota): the next push or sync brings it up to date"
        return
    deleted = any(r.action == DELETE for r in report.plan.rows)  # the id check sees them
    try:
        after = run_sync(replace(options.sync([spec.object]), check_deletes=deleted))
    except InsightlyError as exc:
        report.follow_up = f"the sync after the push failed ({exc}): run `insightly sync`"
        return
    if after.stats.quota_stop:
        report.follow_up = f"the sync after the push stopped: {after.stats.quota_stop}"
        report.stop = report.stop or after.stats.quota_stop
    else:
        report.follow_up = f"{spec.object} synced ({after.stats.total_requests} requests)"


def _exit_code(report: PushReport) -> int:
    if report.stop:
        return QuotaExhausted.exit_code
    statuses = report.statuses()
    bad = statuses[REFUSED] + statuses[UNKNOWN] + report.plan.counts().get(INVALID, 0)
    return INVALID_ROWS if bad else 0


def spec_of(
    name: str | None,
    object_table: str | None = None,
    relation: str | None = None,
    mode: str = "upsert",
    match: str | None = None,
    tags_column: str | None = None,
    tags_mode: str = "add",
) -> config.PushSpec:
    """The push to run: a `[pushes.<name>]` section, or one described by the arguments
    (--object, --from, --mode, --match, --tags-column, --tags-mode)."""
    if name and (object_table or relation):
        raise config.ConfigurationError("give a push name, or --object and --from, not both")
    if name:
        return config.from_config(name)
    if not (object_table and relation):
        raise config.ConfigurationError(
            "name a push declared in .dlt/config.toml, or give --object and --from"
        )
    return config.from_arguments(object_table, relation, mode, match, tags_column, tags_mode)


def main(
    spec: config.PushSpec,
    options: PushOptions,
    accounts: Sequence[str] | None = None,
    all_accounts: bool = False,
    parallel: int | None = None,
) -> int:
    """`insightly push`: one push per selected account (sync/accounts.py), each printed and
    logged in the run log; the exit code says how it went (the most severe of them).
    `options` names the pipeline and holds the switches (--dry-run, ...); a selected
    account gets its own pipeline, key and URL in place of those in `options`."""
    base = SyncOptions(
        destination=options.destination,
        dataset=options.dataset,
        pipeline_name=options.pipeline_name,
        pipelines_dir=options.pipelines_dir,
        api_key=options.api_key,
        pod=options.pod,
        base_url=options.base_url,
        duckdb_file=options.duckdb_file,
    )
    runs = account_runs(accounts, all_accounts, base)
    return run_accounts(
        runs, lambda run: _push_logged(options, spec, run), parallel_accounts(parallel)
    )


def _push_logged(push: PushOptions, spec: config.PushSpec, run: AccountRun) -> int:
    sync = run.options
    options = replace(
        push,
        destination=sync.destination,
        dataset=sync.dataset,
        pipeline_name=sync.pipeline_name,
        pipelines_dir=sync.pipelines_dir,
        api_key=sync.api_key,
        pod=sync.pod,
        base_url=sync.base_url,
        duckdb_file=sync.duckdb_file,
        stats=RunStats(),
        label=run.account or None,
    )
    started, code = datetime.now(timezone.utc), 1
    try:
        result = run_push(spec, options)
        print(f"account {run.account}:\n{result.text}" if run.account else result.text)
        code = result.code
        return code
    except InsightlyError as exc:
        code = exc.exit_code
        raise
    finally:
        assert options.stats is not None
        finished = datetime.now(timezone.utc)
        command = "push --dry-run" if options.dry_run else "push"
        record_run(options.sync([]), command, run.account, started, finished, code, options.stats)
