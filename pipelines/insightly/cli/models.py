"""`insightly models` and `insightly dbt-sources`: each parses its own options (cli/__init__.py
hands it the rest of the command line), so its --help lists them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from insightly.cli.common import add_account_arguments, add_pipeline_arguments, pipeline_options
from insightly.errors import ModelsFailed
from insightly.models import build_models
from insightly.models.dbt_sources import DEFAULT_OUT
from insightly.models.dbt_sources import main as write_dbt_sources
from insightly.sync.accounts import AccountRun, account_runs, parallel_accounts, run_accounts
from insightly.sync.pipeline import make_pipeline
from insightly.sync.pipeline_args import require_warehouse


def models(argv: Sequence[str]) -> int:
    """`insightly models [--account NAME | --all]`: build the SQL models on each account's
    warehouse (without either flag, on the default pipeline's, as before)."""
    parser = argparse.ArgumentParser(prog="insightly models", description=models.__doc__)
    add_pipeline_arguments(parser)
    parser.add_argument("--staging-schema", default=None)
    parser.add_argument("--reporting-schema", default=None)
    add_account_arguments(parser)
    args = parser.parse_args(argv)
    base = pipeline_options(args)

    def build(run: AccountRun) -> int:
        pipeline = make_pipeline(run.options)
        require_warehouse(pipeline)  # before opening: opening creates an empty file
        report = build_models(
            pipeline,
            run.options.dataset,
            run.options.destination,
            staging_schema=args.staging_schema,
            reporting_schema=args.reporting_schema,
        )
        print(report.summary())
        if report.failure():
            print(f"insightly: {report.failure()}", file=sys.stderr)
            return ModelsFailed.exit_code
        return 0

    runs = account_runs(args.account, args.all, base)
    return run_accounts(runs, build, parallel_accounts(args.parallel))


def dbt_sources(argv: Sequence[str]) -> int:
    """`insightly dbt-sources`: write dbt sources.yml from the pipeline's loaded schema."""
    parser = argparse.ArgumentParser(prog="insightly dbt-sources", description=dbt_sources.__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"default: {DEFAULT_OUT}")
    add_pipeline_arguments(parser)
    args = parser.parse_args(argv)
    require_warehouse(make_pipeline(pipeline_options(args)))  # opening creates an empty file
    return write_dbt_sources(pipeline_options(args), args.out)
