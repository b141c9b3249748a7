"""`insightly sync` and `insightly plan`: their options, and one run per selected account."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from insightly.cli.common import (
    add_account_arguments,
    add_pipeline_arguments,
    pipeline_options,
    run_command,
)
from insightly.config import connect, load_settings
from insightly.errors import ModelsFailed, QuotaExhausted
from insightly.ops.runlog import record_run
from insightly.stats import RunStats
from insightly.sync.accounts import AccountRun, account_runs, parallel_accounts, run_accounts
from insightly.sync.pipeline import SyncOptions, make_pipeline
from insightly.sync.progress import CHOICES as PROGRESS_CHOICES
from insightly.sync.progress import dlt_collector, live_progress
from insightly.sync.run import run_sync
from insightly.sync.summary import render


def add_sync_parser(commands: Any) -> None:
    sync = commands.add_parser("sync", help="load Insightly into the warehouse")
    add_pipeline_arguments(sync)
    sync.add_argument(
        "--entities", help="comma-separated tables to sync (default: all), e.g. contacts,leads"
    )
    sync.add_argument(
        "--full-refresh",
        action="store_true",
        help="drop the selected tables and their cursors, then load everything again",
    )
    sync.add_argument(
        "--drop-history", action="store_true", help="drop the kept versions (history) first"
    )
    sync.add_argument("--start-date", help="limit the first load to records updated after it")
    sync.add_argument(
        "--progress",
        choices=PROGRESS_CHOICES,
        default="auto",
        help="auto: bars on a terminal, log lines otherwise; or one of dlt's collectors",
    )
    sync.add_argument(
        "--wait", action="store_true", help="wait for a running sync instead of exiting"
    )
    sync.add_argument(
        "--no-models", action="store_true", help="don't build the SQL models after the load"
    )
    sync.add_argument("-v", "--verbose", action="store_true", help="log each retry and skip")
    add_account_arguments(sync)


def add_plan_parser(commands: Any) -> None:
    plan = commands.add_parser(
        "plan", help="count records; price a full load and a sync in requests per plan"
    )
    plan.add_argument("-v", "--verbose", action="store_true", help="log each request retry")
    add_account_arguments(plan)


def plan(args: argparse.Namespace) -> int:
    runs = account_runs(args.account, args.all, SyncOptions())
    return run_accounts(runs, _plan_one, parallel_accounts(args.parallel))


def _plan_one(run: AccountRun) -> int:
    from insightly.sync.cost import estimate as estimate_plan  # here: a sync doesn't need it
    from insightly.sync.cost import render as render_plan

    options = run.options
    settings = load_settings()
    with connect(settings, options.api_key, options.pod, options.base_url) as client:
        estimate = estimate_plan(client, settings)
    text = render_plan(
        estimate,
        settings.rate,
        settings.reserve,
        settings.cadence_hours,
        settings.delete_check_hours,
    )
    print(f"account {run.account}:\n{text}" if run.account else text)
    return 0


def sync(args: argparse.Namespace) -> int:
    """One sync per selected account (sync/accounts.py), each logged in the run log."""
    runs = account_runs(args.account, args.all, _sync_options(args))
    many = len(runs) > 1
    return run_accounts(
        runs,
        lambda run: _sync_logged(run, many, args.progress, args.no_models),
        parallel_accounts(args.parallel),
    )


def _sync_options(args: argparse.Namespace) -> SyncOptions:
    return pipeline_options(
        args,
        entities=[e.strip() for e in args.entities.split(",") if e.strip()]
        if args.entities
        else None,
        full_refresh=args.full_refresh,
        drop_history=args.drop_history,
        start_date=args.start_date,
        progress=dlt_collector(args.progress),
        wait=args.wait,
    )


def _sync_logged(run: AccountRun, many: bool, progress: str | None, no_models: bool) -> int:
    """One account's sync, logged in its run log (ops/runlog.py) whatever its outcome; its own
    RunStats, so accounts running side by side never share counters."""
    options = replace(run.options, stats=RunStats())
    started, code = datetime.now(timezone.utc), 1
    try:
        code = run_command(lambda: _sync_one(run.account, options, many, progress, no_models))
        return code
    finally:
        assert options.stats is not None
        finished = datetime.now(timezone.utc)
        record_run(options, "sync", run.account, started, finished, code, options.stats)


def _sync_one(
    account: str | None, options: SyncOptions, many: bool, progress: str | None, no_models: bool
) -> int:
    assert options.stats is not None
    # One live display per terminal: accounts side by side report in plain lines.
    mode = "lines" if many and progress in (None, "auto", "rich") else progress
    with live_progress(mode, options.stats, label=account if many else None):
        result = run_sync(options)
    print(f"account {account}:\n{render(result)}" if account else render(result))
    code = QuotaExhausted.exit_code if result.stats.quota_stop else 0
    if no_models or not load_settings().build_models:
        return code
    from insightly.models import build_models  # here: a --no-models sync never loads them

    try:
        report = build_models(make_pipeline(options), options.dataset, options.destination)
    except Exception as exc:  # the data is loaded; say so, and what failed
        print(
            f"insightly: the sync loaded, but building the SQL models failed: {exc}; "
            "fix it and run `make models` (or skip them with --no-models)",
            file=sys.stderr,
        )
        return ModelsFailed.exit_code
    print(report.summary())
    if report.failure():  # the data is loaded; the other views were built
        print(f"insightly: the sync loaded, but {report.failure()}", file=sys.stderr)
        return ModelsFailed.exit_code
    return code
