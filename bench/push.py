"""`make bench` push scenario: a push of changed contacts at the documented 10 requests/s,
its wall time against its floor (the writes it needs divided by the rate). The emulator
enforces 10 req/s with 150 ms latency; the copy is synced first, then every contact's TITLE
is changed in a DuckDB table and pushed in update mode (matched by contact_id: no lookup),
so the push needs exactly one PUT per contact plus the reads of its two syncs.

    python -m bench --only push-10k-10rps [--scale 0.02]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from bench import scenarios as bench

NAME = "push-10k-10rps"
RATE = 10.0


def _env(root: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__INSIGHTLY__")}
    return env | {
        "SOURCES__INSIGHTLY__API_KEY": bench.KEY,
        "SOURCES__INSIGHTLY__BASE_URL": f"{root}/v3.1/",
        "SOURCES__INSIGHTLY__RATE_PER_S": str(RATE),
        "SOURCES__INSIGHTLY__MAX_IN_FLIGHT": "4",
        "DESTINATION__DUCKDB__CREDENTIALS": str(workdir / "bench.duckdb"),
    }


def _cli(env: dict[str, str], workdir: Path, *args: str) -> tuple[float, int, str]:
    command = [sys.executable, "-m", "insightly.cli", *args, "--pipelines-dir",
               str(workdir / "pipelines")]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    return time.monotonic() - started, done.returncode, done.stdout + done.stderr


def run(scale: float) -> bench.Row:
    contacts = max(10, int(10_000 * scale))
    scenario = bench.Scenario(
        NAME, contacts, RATE, 4, ["--latency-ms", "150"], limit_rate=RATE, warm=True
    )
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{NAME}-"))
    process, root = bench._emulator(workdir, scenario)
    try:
        env = _env(root, workdir)
        _, code, out = _cli(
            env, workdir, "sync", "--entities", "contacts,custom_fields", "--no-models"
        )
        if code != 0:
            raise SystemExit(f"bench: the first sync failed: {out[-400:]}")
        with duckdb.connect(str(workdir / "bench.duckdb")) as con:
            con.execute("create schema model")
            con.execute(
                "create table model.changed as select contact_id, "
                "'Bench title ' || contact_id as title from insightly.contacts"
            )
        bench._admin_clear(root)
        seconds, code, out = _cli(
            env, workdir, "push", "--object", "contacts", "--from", "model.changed",
            "--mode", "update",
        )  # fmt: skip
        summary = bench._admin(root, "requests")
        methods = summary.get("by_method", {})
        writes = int(methods.get("PUT", 0))
        requests = int(summary.get("total", sum(int(v) for v in methods.values()) or writes))
        # PUT /Contacts: the writes alone, first request to last answer
        span = summary.get("by_path_span", {}).get("/v3.1/Contacts", [0.0, 0.0])
        writing = span[1] - span[0]
        floor = contacts / RATE
        note = f"{seconds / floor:.2f}x floor; {writes} PUTs in {writing:.1f} s"
        if code != 0:
            note = f"exit {code}: {out.strip().splitlines()[-1][:80]}"
        rejected = int(summary.get("by_status", {}).get("429", 0))
        return bench.Row(NAME, contacts, requests, contacts, seconds, floor, rejected, 0.0, 0.0,
                         writing, note)  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
