"""The `insightly` command: its parsers, and the dispatch to the modules that do the work.

Each command's options are parsed here (common.py: the account and pipeline options; sync.py:
sync, plan; ops.py: status, report, query, changes; models.py: models, dbt-sources; push.py:
push); the modules they call take plain values, never parsed arguments.

A reader that stops early (`insightly changes ... | head -1`) closes the pipe: the command
then stops quietly, with exit code 141 (128 + SIGPIPE, what `seq 1000000 | head -1` gives),
so `set -o pipefail` can still tell that not everything was read; no traceback.

A command's module is imported only when that command runs (or for `insightly --help`):
a sync never loads the push, the models or the report's charts (altair),
which cost about 0.4 s of CPU at every start (docs/performance.md).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from insightly.cli.common import run_command

log = logging.getLogger("insightly")

DESCRIPTION = (
    "Insightly CRM into your warehouse and back: `sync` loads it (incremental, deletes, "
    "history, then the SQL models), `plan` prices it in requests, `query` and `changes` read "
    "the copy, `status` and `report` show how the runs went, `models` and `dbt-sources` build "
    "on it, `push` writes rows back. Every warehouse command takes --database FILE; "
    "`insightly COMMAND --help` for its options; README.md and docs/ for the rest."
)
PIPE_CLOSED = 141  # 128 + SIGPIPE: the exit code of a Unix tool whose reader went away


# command -> (its module under insightly.cli, its parser's adder, the function that runs it)
PARSED = {
    "sync": ("sync", "add_sync_parser", "sync"),
    "plan": ("sync", "add_plan_parser", "plan"),
    "query": ("ops", "add_query_parser", "query"),
    "push": ("push", "add_push_parser", "push"),
    "changes": ("ops", "add_changes_parser", "changes"),
}
# these parse their own options (main hands them the rest of the command line)
OWN_PARSER = {
    "models": ("models", "models", "build the SQL models on the warehouse"),
    "status": ("ops", "status", "last runs, freshness, backfills, quota"),
    "report": ("ops", "report", "write the HTML report page"),
    "dbt-sources": ("models", "dbt_sources", "write dbt sources.yml from the loaded schema"),
}
ORDER = ("sync", "models", "status", "report", "dbt-sources", "plan", "query", "push", "changes")


def _command(module: str, name: str) -> Callable[..., Any]:
    return getattr(importlib.import_module(f"insightly.cli.{module}"), name)


def _parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser; when `chosen` names one, only its module is imported and the
    others are listed by name (their options are never parsed in this run)."""
    parser = argparse.ArgumentParser(prog="insightly", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ORDER:
        if name in OWN_PARSER:
            commands.add_parser(name, help=OWN_PARSER[name][2], add_help=False)
        elif chosen in PARSED and name != chosen:
            commands.add_parser(name, add_help=False)
        else:
            module, adder, _ = PARSED[name]
            _command(module, adder)(commands)
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
    if argv is None:  # the program's own command line: the process exits next
        # At exit the collector walks every object the command left (a sync leaves some
        # hundred thousand: dlt, pyarrow, DuckDB), 0.3-0.6 s; frozen, they are skipped and
        # go with the process. Not for a caller that passes argv (a test): it lives on.
        gc.freeze()
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
    chosen = argv[0] if argv else None
    # these have their own parsers, so their options and --help reach them
    if chosen in OWN_PARSER:
        module, function, _ = OWN_PARSER[chosen]
        return run_command(lambda: _command(module, function)(argv[1:]))
    args = _parser(chosen).parse_args(argv)
    verbose = getattr(args, "verbose", False)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    module, _, function = PARSED[args.command]
    command = _command(module, function)
    return run_command(lambda: command(args))
