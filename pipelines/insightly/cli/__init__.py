"""The `insightly` command: its parsers, and the dispatch to the modules that do the work.

Each command's options are parsed here (common.py: the account and pipeline options; sync.py:
sync, plan; ops.py: status, report, query, changes; models.py: models, dbt-sources; push.py:
push); the modules they call take plain values, never parsed arguments.

A reader that stops early (`insightly changes ... | head -1`) closes the pipe: the command
then stops quietly, with exit code 141 (128 + SIGPIPE, what `seq 1000000 | head -1` gives),
so `set -o pipefail` can still tell that not everything was read; no traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from insightly.cli.common import run_command
from insightly.cli.models import dbt_sources, models
from insightly.cli.ops import add_changes_parser, add_query_parser, changes, query, report, status
from insightly.cli.push import add_push_parser, push
from insightly.cli.sync import add_plan_parser, add_sync_parser, plan, sync

log = logging.getLogger("insightly")

DESCRIPTION = (
    "Insightly CRM into your warehouse and back: `sync` loads it (incremental, deletes, "
    "history, then the SQL models), `plan` prices it in requests, `query` and `changes` read "
    "the copy, `status` and `report` show how the runs went, `models` and `dbt-sources` build "
    "on it, `push` writes rows back. Every warehouse command takes --database FILE; "
    "`insightly COMMAND --help` for its options; README.md and docs/ for the rest."
)
PIPE_CLOSED = 141  # 128 + SIGPIPE: the exit code of a Unix tool whose reader went away


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="insightly", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    add_sync_parser(commands)
    # these parse their own options (main hands them the rest of the command line)
    commands.add_parser("models", help="build the SQL models on the warehouse", add_help=False)
    commands.add_parser("status", help="last runs, freshness, backfills, quota", add_help=False)
    commands.add_parser("report", help="write the HTML report page", add_help=False)
    commands.add_parser(
        "dbt-sources", help="write dbt sources.yml from the loaded schema", add_help=False
    )
    add_plan_parser(commands)
    add_query_parser(commands)
    add_push_parser(commands)
    add_changes_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `insightly` command; a closed stdout (the reader stopped) ends it quietly."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the try: what is still buffered can meet the closed pipe
    except BrokenPipeError:
        if not _stdout_closed():  # another pipe or socket broke: a failure, not a reader gone
            raise
        _stdout_to_devnull()
        return PIPE_CLOSED
    return code


def _stdout_closed() -> bool:
    """Whether stdout is a pipe nobody reads any more (poll: POLLERR on Linux, POLLHUP on
    macOS); True when that can't be asked (no poll, no file descriptor)."""
    import select

    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (AttributeError, OSError, ValueError):
        return True


def _stdout_to_devnull() -> None:
    """Python's recipe (docs.python.org, signal, "Note on SIGPIPE"): point stdout at devnull,
    so the interpreter's own flush at exit does not fail again with a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (a test's capture)
        pass


def _main(argv: Sequence[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # these have their own parsers, so their options and --help reach them
    if argv[:1] == ["dbt-sources"]:
        return run_command(lambda: dbt_sources(argv[1:]))
    if argv[:1] == ["models"]:
        return run_command(lambda: models(argv[1:]))
    if argv[:1] == ["status"]:
        return run_command(lambda: status(argv[1:]))
    if argv[:1] == ["report"]:
        return run_command(lambda: report(argv[1:]))
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
        "push": push,
        "changes": changes,
    }[args.command]
    return run_command(lambda: command(args))
