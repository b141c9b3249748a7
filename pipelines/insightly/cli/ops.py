"""`insightly status`, `report`, `query` and `changes`: their options.

`status` and `report` parse their own options (cli/__init__.py hands them the rest of the
command line) and are imported when used: altair is slow to import, and every sync would
pay for it."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from insightly.cli.common import (
    add_account_arguments,
    add_pipeline_arguments,
    pipeline_options,
)
from insightly.ops import changes as changes_command
from insightly.ops.query import run_queries
from insightly.sync.pipeline import DATASET_NAME


def status(argv: Sequence[str]) -> int:
    from insightly.ops import status as command

    parser = argparse.ArgumentParser(prog="insightly status", description=command.__doc__)
    add_pipeline_arguments(parser)
    parser.add_argument("--runs", type=int, default=10, help="runs shown (10)")
    add_account_arguments(parser)
    args = parser.parse_args(argv)
    return command.main(pipeline_options(args), args.runs, args.account, args.all)


def report(argv: Sequence[str]) -> int:
    from insightly.ops import report as command

    parser = argparse.ArgumentParser(prog="insightly report", description=command.__doc__)
    add_pipeline_arguments(parser)
    out = command.DEFAULT_OUT
    parser.add_argument("--out", default=out, help=f"the HTML file ({out})")
    args = parser.parse_args(argv)
    return command.main(pipeline_options(args), args.out)


def add_query_parser(commands: Any) -> None:
    query = commands.add_parser(
        "query", help="run SQL on the DuckDB warehouse (read-only) and print the answer"
    )
    query.add_argument(
        "sql", help='e.g. "select * from contacts limit 5" (several: each answer in turn)'
    )
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


def query(args: argparse.Namespace) -> int:
    """Each statement's answer as it comes, a blank line between them."""
    answers = run_queries(args.sql, args.database, args.dataset, args.max_rows)
    for n, answer in enumerate(answers):
        print(f"\n{answer}" if n else answer, flush=True)
    return 0


def add_changes_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "changes", help="print records created, updated or deleted since a time"
    )
    parser.add_argument(
        "--since", required=True, help="ISO time or date (UTC unless given), or 30m, 24h, 7d ago"
    )
    parser.add_argument("--entity", help="one table, e.g. contacts")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    add_pipeline_arguments(parser)


def changes(args: argparse.Namespace) -> int:
    return changes_command.run(pipeline_options(args), args.since, args.entity, args.json)
