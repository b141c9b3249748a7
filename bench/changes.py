"""`make bench`, changes: `insightly changes --since` on a warehouse of a million versions.

A user's `changes --since 10m` ran out of DuckDB's default memory (512 MiB) on 14,285
contact versions. This scenario builds a far longer history and runs the command under
the same default limit.

The warehouse is real where it can be: one sync of an emulator tenant (contacts and their
custom fields) makes the tables, their columns and a first version of each record. SQL
then multiplies them (DuckDB `range()`): each contact copied under new ids, each copy given
nine versions from nine syncs 30 days apart, the title and a custom field changed every
time, appended sync after sync as syncs append them. A last sync, 5 minutes ago, updated
1 record in 100 and found 1 in 1,000 deleted (4 minutes ago). Then
`insightly changes --json` runs as a user runs it (its own process, the default memory
limit): `--since 10m` and `--since` a year ago (every event). Printed per run: the events
printed, wall seconds, the peak PSS of the process (sampled every 0.2 s), its max RSS, and
the exit code with DuckDB's error line when it failed.

    python -m bench --only changes [--scale 0.1]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb

from bench import scenarios as bench
from bench.memory import PeakPss

NAME = "changes"
VERSIONS_PER_RECORD = 10  # nine older syncs for every record; the newest for 1% of them
NEWEST_SHARE = 100  # 1 record in 100 changed in the newest run
DELETED_SHARE = 1000  # 1 record in 1,000 found deleted by it


@dataclass
class Run:
    since: str
    events: int
    seconds: float
    pss_mb: float
    rss_mb: float
    code: int
    error: str

    def line(self) -> str:
        said = f"; exit {self.code}: {self.error}" if self.code else ""
        return (
            f"  --since {self.since}: {self.events:,} events in {self.seconds:.1f} s, "
            f"peak PSS {self.pss_mb:.0f} MB, max RSS {self.rss_mb:.0f} MB{said}"
        )


def _env(root: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__INSIGHTLY__")}
    env = {k: v for k, v in env.items() if not k.startswith("DESTINATION__")}
    return env | {
        "SOURCES__INSIGHTLY__API_KEY": bench.KEY,
        "SOURCES__INSIGHTLY__BASE_URL": f"{root}/v3.1/",
        "SOURCES__INSIGHTLY__RATE_PER_S": "1000",
        "DESTINATION__DUCKDB__CREDENTIALS": str(workdir / "bench.duckdb"),
    }


def multiply(path: Path, copies: int, now: datetime) -> int:
    """Turn one synced version per contact into `copies` contacts of up to ten versions;
    returns the versions rows. Older runs are 30 days apart; the newest, 5 minutes ago,
    changed 1 record in NEWEST_SHARE and found 1 in DELETED_SHARE deleted."""
    newest = VERSIONS_PER_RECORD - 1
    runs = ", ".join(f"'bench-run-{j}'" for j in range(VERSIONS_PER_RECORD))
    with duckdb.connect(str(path)) as con:
        con.execute("set search_path = 'insightly'; set enable_progress_bar = false")
        (field,) = con.execute(
            "select field_name from custom_fields where object_table = 'contacts' "
            "and field_type = 'TEXT' order by field_name limit 1"
        ).fetchone()
        con.execute("create temp table one as select * from contacts__versions")
        con.execute("create temp table current as select * from contacts")
        con.execute("delete from contacts__versions")
        con.execute("delete from contacts")
        new_id = f"contact_id + c.copy * {10**8}"
        con.execute(
            f"""
            insert into contacts__versions by name
            select one.* replace (
                {new_id} as contact_id,
                case when v.j = {newest} then $now - interval 5 minute
                    else $now - (({newest} - v.j) * interval 30 day)
                        - (contact_id % 3600) * interval 1 second
                end as date_updated_utc,
                coalesce(title, '') || ' v' || v.j as title,
                json_merge_patch(customfields, json_object($field, 'v' || v.j)) as customfields,
                [{runs}][v.j + 1] as _run_id,
                [{runs}][v.j + 1] as _first_run_id,
                md5(_version_hash || c.copy || '.' || v.j) as _version_hash,
                case when v.j = {newest - 1} and ({new_id}) % {DELETED_SHARE} = 7
                    then $now - interval 4 minute end as _deleted_at,
                case when v.j = {newest - 1} and ({new_id}) % {DELETED_SHARE} = 7
                    then [{runs}][{newest + 1}] end as _deleted_run_id
            )
            from one, range({copies}) as c(copy), range({VERSIONS_PER_RECORD}) as v(j)
            where v.j < {newest} or ({new_id}) % {NEWEST_SHARE} = 0
            order by v.j
            """,
            {"now": now, "field": field},
        )
        con.execute(
            f"""
            insert into contacts by name
            select current.* replace ({new_id} as contact_id)
            from current, range({copies}) as c(copy)
            where ({new_id}) % {DELETED_SHARE} <> 7
            """
        )
        return con.execute("select count(*) from contacts__versions").fetchone()[0]


def changes(env: dict[str, str], workdir: Path, since: str) -> Run:
    """One `insightly changes --since` in its own process; its lines counted as they come."""
    command = [
        sys.executable, "-m", "insightly.cli", "changes", "--since", since, "--json",
        "--pipelines-dir", str(workdir / "pipelines"),
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 16
    )
    sampler = PeakPss(process.pid)
    sampler.start()
    assert process.stdout is not None and process.stderr is not None
    events = sum(1 for _ in process.stdout)
    error = process.stderr.read().decode(errors="replace").strip().splitlines()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)
    named = [line for line in error if "Error" in line] or error[-1:]
    last = named[0][:160] if named else ""
    return Run(since, events, seconds, sampler.peak_kb / 1024, usage.ru_maxrss / 1024, code, last)


def changes_cost(versions: int) -> str:
    """Lines: the warehouse built, then one per `changes --since` run."""
    contacts = 2_000 if versions >= 200_000 else 200
    copies = max(1, round(versions / (contacts * (VERSIONS_PER_RECORD - 1))))
    workdir = Path(tempfile.mkdtemp(prefix="bench-changes-"))
    scenario = bench.Scenario(NAME, contacts, 1000, 4)
    process, root = bench._emulator(workdir, scenario)
    try:
        env = _env(root, workdir)
        sync = [
            sys.executable, "-m", "insightly.cli", "sync", "--entities",
            "contacts,custom_fields", "--pipelines-dir", str(workdir / "pipelines"),
        ]  # fmt: skip
        done = subprocess.run(sync, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"bench: the sync failed: {(done.stdout + done.stderr)[-400:]}")
    finally:
        process.terminate()
        process.wait(timeout=30)
    try:
        now = datetime.now(timezone.utc)
        # in a process of its own: a child forked from a bench grown by DuckDB would report
        # the bench's size as its max RSS (Linux keeps the high-water mark across exec)
        made = subprocess.run(
            [sys.executable, "-m", "bench.changes", "multiply", str(workdir / "bench.duckdb"),
             str(copies), now.isoformat()],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows = int(made.stdout.split()[-1])
        year_ago = (now - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%S")
        runs = [changes(env, workdir, since) for since in ("10m", year_ago)]
        head = (
            f"changes, {rows:,} contacts versions ({contacts * copies:,} contacts), "
            f"DuckDB memory_limit default:"
        )
        return "\n".join([head, *(r.line() for r in runs)])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":  # python -m bench.changes multiply FILE COPIES NOW (ISO)
    if sys.argv[1:2] == ["multiply"]:
        path, copies, now = sys.argv[2], int(sys.argv[3]), datetime.fromisoformat(sys.argv[4])
        print(multiply(Path(path), copies, now))
    else:
        print(changes_cost(int(float(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))
