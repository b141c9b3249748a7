"""`make bench`: measure syncs against the emulator and print one table.

Each scenario starts the emulator in its own process (so it doesn't share the GIL with the
pipeline), runs `insightly sync --entities contacts` in another process, and reads
the request counts from the emulator and the peak RSS of the sync from wait4(). It measures
and prints; it asserts nothing.

    python -m tests.bench [--scale 0.1] [--only full-10rps,local-1m]
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

KEY = "bench-0000-0000-0000-000000000000"


@dataclass
class Scenario:
    name: str
    contacts: int
    rate: float  # the client's configured rate (req/s)
    in_flight: int
    emulator: list[str] = field(default_factory=list)  # extra emulator CLI switches
    changed: float = 0.0  # fraction updated before a second, measured sync
    limit_rate: float | None = None  # the emulator's enforced per-second limit


def scenarios(scale: float) -> list[Scenario]:
    n100k, n1m = int(100_000 * scale), int(1_000_000 * scale)
    return [
        Scenario("full-10rps-150ms", n100k, 10, 3, ["--latency-ms", "150"], limit_rate=10),
        Scenario(
            "full-5rps-2inflight",
            n100k,
            5,
            2,
            ["--latency-ms", "150", "--max-in-flight", "2"],
            limit_rate=5,
        ),
        Scenario("incremental-1pct", n100k, 10, 3, ["--latency-ms", "150"], 0.01, 10),
        Scenario("local-1m", n1m, 1000, 4),
        Scenario(
            "faults-5pct",
            n100k,
            50,
            4,
            ["--fault-rate", "0.05", "--latency-ms", "20"],
        ),
    ]


@dataclass
class Row:
    scenario: str
    records: int
    requests: int
    minimum: int
    seconds: float
    floor: float
    rejected: int
    rss_mb: float
    note: str = ""

    def cells(self) -> list[str]:
        rate = self.requests / self.seconds if self.seconds else 0
        return [
            self.scenario,
            f"{self.records:,}",
            f"{self.requests} / {self.minimum}",
            f"{self.seconds:.1f} / {self.floor:.1f}",
            f"{rate:.1f}",
            str(self.rejected),
            f"{self.records / self.seconds:,.0f}" if self.seconds else "-",
            f"{self.rss_mb:.0f}",
            self.note,
        ]


HEADER = [
    "scenario",
    "records",
    "requests / min",
    "wall s / floor",
    "req/s",
    "429s",
    "records/s",
    "peak RSS MB",
    "note",
]


def _emulator(workdir: Path, scenario: Scenario) -> tuple[subprocess.Popen, str]:
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "insightly_emulator", "--port", "0",
        "--port-file", str(port_file), "--profile", "tiny", "--api-key", KEY,
        "--size", f"Contacts={scenario.contacts}", *scenario.emulator,
    ]  # fmt: skip
    if scenario.limit_rate:
        command += ["--rate-limit-per-s", str(scenario.limit_rate)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench: the emulator did not start for {scenario.name}")
        time.sleep(0.1)
    return process, f"http://127.0.0.1:{port_file.read_text().strip()}"


def _admin(root: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    method = "GET" if data is None else "POST"
    request = urllib.request.Request(f"{root}/_emulator/{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


def _ids(root: str, n: int) -> list[int]:
    """The first n contact ids, read with brief pages."""
    token = base64.b64encode(f"{KEY}:".encode()).decode()
    ids: list[int] = []
    while len(ids) < n:
        url = f"{root}/v3.1/Contacts?brief=true&top=500&skip={len(ids)}"
        request = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            page = json.loads(response.read())
        ids += [r["CONTACT_ID"] for r in page]
        if len(page) < 500:
            break
    return ids[:n]


def _sync(root: str, workdir: Path, scenario: Scenario) -> tuple[float, float, int]:
    """Run one sync process; returns (wall seconds, peak RSS MB, exit code)."""
    env = {
        **os.environ,
        "SOURCES__INSIGHTLY__API_KEY": KEY,
        "SOURCES__INSIGHTLY__BASE_URL": f"{root}/v3.1/",
        "SOURCES__INSIGHTLY__RATE_PER_S": str(scenario.rate),
        "SOURCES__INSIGHTLY__MAX_IN_FLIGHT": str(scenario.in_flight),
        "DESTINATION__DUCKDB__CREDENTIALS": str(workdir / "bench.duckdb"),
    }
    command = [
        sys.executable, "-m", "insightly.cli", "sync", "--entities", "contacts",
        "--pipelines-dir", str(workdir / "pipelines"),
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    return time.monotonic() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def _requests(root: str) -> tuple[int, int]:
    summary = _admin(root, "requests")
    by_path = summary.get("by_path_status", {})
    search = {
        p: c for p, c in by_path.items() if p.lower().startswith("/v3.1/contacts")
    }  # the list reads, without discovery
    total = sum(sum(c.values()) for c in search.values())
    rejected = sum(c.get("429", 0) for c in search.values())
    return total, rejected


def run(scenario: Scenario) -> Row:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{scenario.name}-"))
    process, root = _emulator(workdir, scenario)
    try:
        seconds, rss, code = _sync(root, workdir, scenario)
        records = scenario.contacts
        before = (0, 0)
        if scenario.changed:
            changed = max(1, int(scenario.contacts * scenario.changed))
            for contact_id in _ids(root, changed):
                _admin(root, "mutate", {"op": "update", "entity": "Contacts", "id": contact_id})
            before = _requests(root)
            seconds, rss, code = _sync(root, workdir, scenario)
            records = changed
        after = _requests(root)
        requests, rejected = after[0] - before[0], after[1] - before[1]
        minimum = max(1, math.ceil(records / 500))
        rate = min(scenario.rate, scenario.limit_rate or scenario.rate)
        note = "" if code == 0 else f"exit {code}"
        return Row(scenario.name, records, requests, minimum, seconds, minimum / rate, rejected,
                   rss, note)  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--only", help="comma-separated scenario names")
    args = parser.parse_args(argv)
    chosen = scenarios(args.scale)
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [s for s in chosen if s.name in wanted]
    rows = []
    for scenario in chosen:
        print(f"bench: {scenario.name} ...", file=sys.stderr, flush=True)
        rows.append(run(scenario).cells())
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    for row in [HEADER, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
