"""`insightly sync`: the command `make sync` runs."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .errors import InsightlyError, QuotaExhausted
from .runner import DATASET_NAME, PIPELINE_NAME, SyncOptions, run_sync
from .summary import render

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
    sync.add_argument("--start-date", help="limit the first load to records updated after it")
    sync.add_argument("--pipelines-dir", help="where dlt keeps its working state")
    sync.add_argument("--progress", choices=["log", "tqdm", "enlighten", "alive_progress"])
    sync.add_argument("-v", "--verbose", action="store_true", help="log each retry and skip")
    return parser


def _user_error(exc: BaseException) -> InsightlyError | None:
    """Find our own error inside dlt's wrappers (PipelineStepFailed, ResourceExtractionError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, InsightlyError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def sync(args: argparse.Namespace) -> int:
    options = SyncOptions(
        destination=args.destination,
        dataset=args.dataset,
        pipeline_name=args.pipeline_name,
        entities=[e.strip() for e in args.entities.split(",") if e.strip()]
        if args.entities
        else None,
        full_refresh=args.full_refresh,
        pipelines_dir=args.pipelines_dir,
        start_date=args.start_date,
        progress=args.progress,
    )
    try:
        result = run_sync(options)
    except Exception as exc:
        error = _user_error(exc)
        if error is None:
            raise
        print(f"insightly sync failed: {error}", file=sys.stderr)
        return error.exit_code
    print(render(result))
    return QuotaExhausted.exit_code if result.stats.quota_stop else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    return sync(args)


if __name__ == "__main__":
    sys.exit(main())
