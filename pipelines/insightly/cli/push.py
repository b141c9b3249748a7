"""`insightly push`: its options (docs/push.md); push/command.py does the work."""

from __future__ import annotations

import argparse
from typing import Any

from insightly.cli.common import add_account_arguments, add_pipeline_arguments, pipeline_options
from insightly.push import config
from insightly.push.command import PushOptions, spec_of
from insightly.push.command import main as push_accounts


def add_push_parser(commands: Any) -> None:
    push = commands.add_parser(
        "push", help="apply a warehouse table or view to an Insightly object (reverse ETL)"
    )
    push.add_argument("name", nargs="?", help="a [pushes.<name>] section of .dlt/config.toml")
    push.add_argument("--object", help="the object's table: contacts, leads, custom_fruit, ...")
    push.add_argument("--from", dest="relation", help="<schema>.<relation> to push")
    push.add_argument("--mode", choices=config.MODES, default="upsert")
    push.add_argument("--match", help="match key: EMAIL_ADDRESS, a field, or Some_Id__c")
    push.add_argument("--tags-column", help="column with a list or ';'-joined string of tags")
    push.add_argument("--tags-mode", choices=config.TAG_MODES, default="add")
    push.add_argument("--dry-run", action="store_true", help="print the plan, send nothing")
    push.add_argument(
        "--allow-mass-change",
        action="store_true",
        help="send even past a guard rail: deletes, cleared fields, removed tags or links, "
        "a repeated match key",
    )
    add_pipeline_arguments(push)
    push.add_argument("--wait", action="store_true", help="wait for a running sync or push")
    push.add_argument("-v", "--verbose", action="store_true", help="log each retry")
    add_account_arguments(push)


def push(args: argparse.Namespace) -> int:
    spec = spec_of(
        args.name,
        args.object,
        args.relation,
        args.mode,
        args.match,
        args.tags_column,
        args.tags_mode,
    )
    base = pipeline_options(args)
    options = PushOptions(
        destination=base.destination,
        dataset=base.dataset,
        pipeline_name=base.pipeline_name,
        pipelines_dir=base.pipelines_dir,
        duckdb_file=base.duckdb_file,
        dry_run=args.dry_run,
        allow_mass_change=args.allow_mass_change,
        wait=args.wait,
    )
    return push_accounts(spec, options, args.account, args.all, args.parallel)
