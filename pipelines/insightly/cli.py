"""`insightly sync`: the command `make sync` runs; `plan`, `models`, `dbt-sources`, `query`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timezone

from insightly.config import connect, load_settings
from insightly.errors import ModelsFailed, QuotaExhausted, find_user_error
from insightly.models import build_models
from insightly.models.dbt_sources import main as dbt_sources_main
from insightly.ops import changes
from insightly.ops.query import run_query
from insightly.ops.runlog import record_run
from insightly.push.command import main as push_main
from insightly.push.command import register as register_push
from insightly.stats import RunStats
from insightly.sync.accounts import (
    AccountRun,
    account_runs,
    add_account_arguments,
    models_command,
    parallel_accounts,
    run_accounts,
)
from insightly.sync.cost import estimate as estimate_plan
from insightly.sync.cost import render as render_plan
from insightly.sync.pipeline import DATASET_NAME, PIPELINE_NAME, SyncOptions, make_pipeline
from insightly.sync.progress import CHOICES as PROGRESS_CHOICES
from insightly.sync.progress import dlt_collector, live_progress
from insightly.sync.run import run_sync
from insightly.sync.summary import render

log = logging.getLogger("insightly")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="insightly", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    sync = commands.add_parser("sync", help="load Insightly into the warehouse")
    sync.add_argument("--destination", default="duckdb", help="any dlt destination (duckdb)")
    sync.add_argument("--dataset", default=DATASET_NAME, help="dataset/schema name (insightly)")
    sync.add_argument("--pipeline-name", default=PIPELINE_NAME, help="dlt pipeline name")
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
    sync.add_argument("--pipelines-dir", help="where dlt keeps its working state")
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
    commands.add_parser("models", help="build the SQL models on the warehouse", add_help=False)
    commands.add_parser("status", help="last runs, freshness, backfills, quota", add_help=False)
    commands.add_parser("report", help="write the HTML report page", add_help=False)
    commands.add_parser(
        "dbt-sources", help="write dbt sources.yml from the loaded schema", add_help=False
    )
    plan = commands.add_parser(
        "plan", help="count records; price a full load and a sync in requests per plan"
    )
    plan.add_argument("-v", "--verbose", action="store_true", help="log each request retry")
    add_account_arguments(plan)
    query = commands.add_parser(
        "query", help="run SQL on the DuckDB warehouse (read-only) and print the answer"
    )
    query.add_argument("sql", help='e.g. "select * from contacts limit 5"')
    query.add_argument(
        "--database",
        help="the DuckDB file (DESTINATION__DUCKDB__CREDENTIALS, else insightly_crm.duckdb)",
    )
    query.add_argument(
        "--dataset", default=DATASET_NAME, help="schema searched for unqualified names (insightly)"
    )
    query.add_argument(
        "--max-rows", type=int, default=100, help="rows printed at most (100; 0 for all)"
    )
    register_push(commands)
    changes.add_parser(commands)
    return parser


def _run(action: Callable[[], int]) -> int:
    """Run a command; our own errors become one line on stderr and their exit code."""
    try:
        return action()
    except Exception as exc:
        error = find_user_error(exc)
        if error is None:
            raise
        print(f"insightly: {error}", file=sys.stderr)
        return error.exit_code


def plan(args: argparse.Namespace) -> int:
    runs = account_runs(args, SyncOptions())
    return run_accounts(runs, _plan_one, parallel_accounts(args))


def _plan_one(run: AccountRun) -> int:
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


def query(args: argparse.Namespace) -> int:
    print(run_query(args.sql, args.database, args.dataset, args.max_rows))
    return 0


def sync(args: argparse.Namespace) -> int:
    """One sync per selected account (accounts.py), each logged in the run log."""
    runs = account_runs(args, _sync_options(args))
    many = len(runs) > 1
    return run_accounts(runs, lambda run: _sync_logged(args, run, many), parallel_accounts(args))


def _sync_options(args: argparse.Namespace) -> SyncOptions:
    return SyncOptions(
        destination=args.destination,
        dataset=args.dataset,
        pipeline_name=args.pipeline_name,
        entities=[e.strip() for e in args.entities.split(",") if e.strip()]
        if args.entities
        else None,
        full_refresh=args.full_refresh,
        drop_history=args.drop_history,
        pipelines_dir=args.pipelines_dir,
        start_date=args.start_date,
        progress=dlt_collector(args.progress),
        wait=args.wait,
    )


def _sync_logged(args: argparse.Namespace, run: AccountRun, many: bool) -> int:
    """One account's sync, logged in its run log (runlog.py) whatever its outcome; its own
    RunStats, so accounts running side by side never share counters."""
    options = replace(run.options, stats=RunStats())
    started, code = datetime.now(timezone.utc), 1
    try:
        code = _run(lambda: _sync_one(args, run.account, options, many))
        return code
    finally:
        assert options.stats is not None
        finished = datetime.now(timezone.utc)
        record_run(options, "sync", run.account, started, finished, code, options.stats)


def _sync_one(args: argparse.Namespace, account: str | None, options: SyncOptions, many: bool):
    assert options.stats is not None
    # One live display per terminal: accounts side by side report in plain lines.
    mode = "lines" if many and args.progress in (None, "auto", "rich") else args.progress
    with live_progress(mode, options.stats, label=account if many else None):
        result = run_sync(options)
    print(f"account {account}:\n{render(result)}" if account else render(result))
    code = QuotaExhausted.exit_code if result.stats.quota_stop else 0
    if args.no_models or not load_settings().build_models:
        return code
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
    return code


def _ops(command: str, argv: Sequence[str]) -> int:
    """`status` and `report` parse their own options; imported when used (altair is slow
    to import, and every sync would pay for it)."""
    if command == "status":
        from insightly.ops.status import main as status_main

        return status_main(argv)
    from insightly.ops.report import main as report_main

    return report_main(argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # these two have their own parsers, so their options and --help reach them
    if argv[:1] == ["dbt-sources"]:
        return dbt_sources_main(argv[1:])
    if argv[:1] == ["models"]:
        return _run(lambda: models_command(argv[1:]))
    if argv[:1] in (["status"], ["report"]):
        return _run(lambda: _ops(argv[0], argv[1:]))
    args = _parser().parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    command = {
        "plan": plan,
        "sync": sync,
        "query": query,
        "push": push_main,
        "changes": changes.run,
    }[args.command]
    return _run(lambda: command(args))


if __name__ == "__main__":
    sys.exit(main())
