"""`make demo`: the whole product without an Insightly account.

Starts the emulator on a free local port, runs `insightly sync` against it twice (a first
full load, then an incremental sync after some records changed), prints the run summaries
and a few answers from the warehouse, and stops the emulator. Everything goes through the
same command and HTTP path a real sync uses; only the base URL differs.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import duckdb

from .config import anchor_from

DEMO_KEY = "demo-0000-0000-0000-000000000000"


def _start_emulator(
    workdir: Path, profile: str, seed: int, anchor: str
) -> tuple[subprocess.Popen, str]:
    port_file = workdir / "port"
    process = subprocess.Popen(
        [sys.executable, "-m", "insightly_emulator", "--port", "0", "--port-file", str(port_file),
         "--profile", profile, "--seed", str(seed), "--anchor", anchor, "--api-key", DEMO_KEY],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit("demo: the emulator did not start")
        time.sleep(0.1)
    return process, f"http://127.0.0.1:{port_file.read_text().strip()}"


def _mutate(root_url: str, changes: list[dict]) -> None:
    for change in changes:
        request = urllib.request.Request(
            f"{root_url}/_emulator/mutate",
            data=json.dumps(change).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()


def _first_id(root_url: str, path: str, key: str) -> int:
    request = urllib.request.Request(f"{root_url}/v3.1/{path}?top=1&brief=true")
    token = base64.b64encode(f"{DEMO_KEY}:".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(json.loads(response.read())[0][key])


def _sync(env: dict[str, str], pipelines_dir: Path) -> None:
    command = [sys.executable, "-m", "insightly.cli", "sync", "--pipelines-dir", str(pipelines_dir)]
    result = subprocess.run(command, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo: insightly sync failed with exit code {result.returncode}")


def _report(database: Path) -> None:
    """Two answers from the reporting marts the sync built."""
    with duckdb.connect(str(database), read_only=True) as con:
        print("\nOpen pipeline by stage (insightly_reporting.opportunity_pipeline):")
        rows = con.execute(
            """
            select pipeline_name, stage_name, sum(opportunity_count), sum(total_value),
                   sum(weighted_value)
            from insightly_reporting.opportunity_pipeline
            group by pipeline_name, stage_name, stage_order order by pipeline_name, stage_order
            """
        ).fetchall()
        print(f"  {'pipeline':<18} {'stage':<18} {'deals':>6} {'value':>14} {'weighted':>14}")
        for pipeline, stage, deals, value, weighted in rows:
            print(f"  {pipeline:<18} {stage:<18} {deals:>6} {value:>14,.0f} {weighted:>14,.0f}")
        print("\nLead funnel by source (insightly_reporting.lead_funnel):")
        rows = con.execute(
            """
            select coalesce(lead_source, '(none)'), sum(lead_count), sum(converted_count),
                   round(sum(converted_count) * 100.0 / sum(lead_count), 1)
            from insightly_reporting.lead_funnel group by 1 order by 2 desc
            """
        ).fetchall()
        print(f"  {'source':<18} {'leads':>6} {'converted':>10} {'rate %':>7}")
        for source, leads, converted, rate in rows:
            print(f"  {source:<18} {leads:>6} {converted:>10} {rate:>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--profile", default="demo", choices=["tiny", "test", "demo"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--database", default="demo.duckdb")
    # the generated data ends at the anchor: today, so due dates and "overdue" mean now;
    # the same anchor (and seed) gives the same data
    parser.add_argument("--anchor", default="today", help="today (default) or an ISO date")
    args = parser.parse_args(argv)
    try:
        anchor = anchor_from(args.anchor)
    except ValueError as exc:
        parser.error(str(exc))

    database = Path(args.database).resolve()
    workdir = Path(tempfile.mkdtemp(prefix="insightly-demo-"))
    # the pipeline's state and run log stay beside the file, for `insightly status`
    pipelines = pipelines_dir_of(database)
    shutil.rmtree(pipelines, ignore_errors=True)
    for leftover in (database, database.with_suffix(".duckdb.wal")):
        leftover.unlink(missing_ok=True)
    started = time.monotonic()
    emulator, root_url = _start_emulator(workdir, args.profile, args.seed, anchor.isoformat())
    try:
        env = {
            **os.environ,
            "SOURCES__INSIGHTLY__API_KEY": DEMO_KEY,
            "SOURCES__INSIGHTLY__BASE_URL": f"{root_url}/v3.1/",
            "DESTINATION__DUCKDB__CREDENTIALS": str(database),
            # The local emulator has no per-second limit; a real tenant keeps the safe default.
            "SOURCES__INSIGHTLY__RATE_PER_S": os.environ.get(
                "SOURCES__INSIGHTLY__RATE_PER_S", "100"
            ),
            # The state history backfill is one request per opportunity (4,000 here, 2,000
            # per sync by default): 250 a sync shows it under way; the rest waits.
            "SOURCES__INSIGHTLY__STATE_HISTORY_REQUESTS_PER_SYNC": os.environ.get(
                "SOURCES__INSIGHTLY__STATE_HISTORY_REQUESTS_PER_SYNC", "250"
            ),
            # A taste of the comments/attachments backfill (one request per record, 500 per
            # table per sync by default): 50 keeps each demo sync within a few seconds of it.
            "SOURCES__INSIGHTLY__ACTIVITY_REQUESTS_PER_TABLE": os.environ.get(
                "SOURCES__INSIGHTLY__ACTIVITY_REQUESTS_PER_TABLE", "50"
            ),
        }
        print(
            f"demo: emulator at {root_url}/v3.1/ ({args.profile} tenant, seed {args.seed}, "
            f"data up to {anchor:%Y-%m-%d})\n"
        )
        print("== first sync: everything ==")
        _sync(env, pipelines)
        contact = _first_id(root_url, "Contacts", "CONTACT_ID")
        _mutate(root_url, [
            {"op": "update", "entity": "Contacts", "id": contact, "changes": {"TITLE": "CEO"}},
            {"op": "create", "entity": "Opportunities"},
            {"op": "create", "entity": "Leads"},
            {"op": "progress", "entity": "Opportunities", "count": 5},  # stages, wins, losses
        ])  # fmt: skip
        print(
            "\n== second sync: only what changed (one contact updated, one deal, one lead, "
            "five deals moved on) =="
        )
        _sync(env, pipelines)
        _report(database)
    finally:
        emulator.terminate()
        emulator.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.monotonic() - started
    hints = "\n  ".join(next_commands(database))
    print(f"\ndemo: done in {seconds:.0f} s. Next, on the demo's warehouse:\n  {hints}")
    return 0


def pipelines_dir_of(database: Path) -> Path:
    """Where the demo keeps its pipeline (state, run log): `.demo/` beside its file."""
    return database.parent / ".demo"


def next_commands(database: Path) -> list[str]:
    """The commands the demo suggests last, as they work from where it ran: the project's
    own `insightly` (no duckdb CLI needed; the one on PyPI can't open files written by
    DuckDB 2.0), on the demo's file and pipeline (not the default ones a real sync uses)."""
    here = database.parent == Path.cwd()
    name = database.name if here else str(database)
    pipelines = ".demo" if here else str(pipelines_dir_of(database))
    on = f"--database {name}"
    return [
        f'.venv/bin/insightly query {on} "select * from contacts limit 5"',
        f".venv/bin/insightly status {on} --pipelines-dir {pipelines}",
        f".venv/bin/insightly changes {on} --since 1h",
        f".venv/bin/insightly report {on} --pipelines-dir {pipelines} --out demo-report.html",
    ]


def query_hint(database: Path) -> str:
    """The first of next_commands: a question to the file."""
    return next_commands(database)[0]


if __name__ == "__main__":
    sys.exit(main())
