"""`make bench`: measure syncs against the emulator and print one table.

Each scenario starts the emulator in its own process (so it doesn't share the GIL with the
pipeline), runs `insightly sync --entities contacts --no-models` in another process, and
reads the request counts and the time the API was busy from the emulator; the incremental
scenario then times `insightly models` on its own ("models s"). "faults-none" is
"faults-5pct" without the faults: the bench prints how much longer the faults make it.
Memory is sampled every 0.2 s: the proportional set size (PSS, /proc/<pid>/smaps_rollup)
summed over the sync and its child processes (dlt's normalize workers), and the largest
single RSS (wait4). Scenarios without a rate or in-flight setting run with the client's
defaults (the adaptive rate up to 10/s, 4 in flight). Before the scenarios it prints how
fast the emulator alone serves pages, so a slow emulator is not mistaken for a slow sync.
It measures and prints; it asserts nothing.

    python -m bench [--scale 0.1] [--only full-10rps,local-1m]
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bench import push as bench_push
from bench.memory import PeakPss
from insightly.api.pacing import DEFAULT_RATE

KEY = "bench-0000-0000-0000-000000000000"


@dataclass
class Scenario:
    name: str
    contacts: int
    rate: float | None  # the client's rate_per_s (req/s); None: the default
    in_flight: int | None  # the client's max_in_flight; None: the default
    emulator: list[str] = field(default_factory=list)  # extra emulator CLI switches
    changed: float = 0.0  # fraction updated before a second, measured sync
    limit_rate: float | None = None  # the emulator's enforced per-second limit
    warm: bool = False  # pre-render every page first, so the emulator is never the limit
    env: dict[str, str] = field(default_factory=dict)  # extra settings for the sync
    deleted: int = 0  # records deleted (spread over the table) before a second, measured sync
    models: bool = False  # also time `insightly models` after the measured sync


def scenarios(scale: float) -> list[Scenario]:
    n100k, n1m = int(100_000 * scale), int(1_000_000 * scale)
    return [
        Scenario(
            "full-10rps-150ms", n100k, None, None, ["--latency-ms", "150"], limit_rate=10, warm=True
        ),
        Scenario(
            "full-5rps-429",  # a tenant that answers 429 above 5/s, read with the defaults
            n100k,
            None,
            None,
            ["--latency-ms", "150"],
            limit_rate=5,
            warm=True,
        ),
        Scenario(
            "full-5rps-2inflight",
            n100k,
            5,
            2,
            ["--latency-ms", "150", "--max-in-flight", "2"],
            limit_rate=5,
            warm=True,
        ),
        Scenario("incremental-1pct", n100k, 10, 3, ["--latency-ms", "150"], 0.01, 10, models=True),
        Scenario("local-1m", n1m, 1000, 4, warm=True),
        # delete counting (deletes/count.py): 10 deletes among 50,000 contacts
        Scenario("deletes-10-of-50k", int(50_000 * scale), 1000, 4, deleted=10),
        Scenario(
            "faults-5pct",
            n100k,
            50,
            4,
            ["--fault-rate", "0.05", "--latency-ms", "20"],
        ),
        Scenario(FAULTS_TWIN, n100k, 50, 4, ["--latency-ms", "20"]),  # faults-5pct without faults
    ]


FAULTS_TWIN = "faults-none"


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
    pss_mb: float
    api_s: float  # first contacts request to the last answer, at the emulator
    note: str = ""
    models_s: float | None = None  # `insightly models` after the sync, when measured

    def cells(self) -> list[str]:
        rate = self.requests / self.seconds if self.seconds else 0
        return [
            self.scenario,
            f"{self.records:,}",
            f"{self.requests} / {self.minimum}",
            f"{self.seconds:.1f} / {self.floor:.1f}",
            f"{self.api_s:.1f}",
            f"{rate:.1f}",
            str(self.rejected),
            f"{self.records / self.seconds:,.0f}" if self.seconds else "-",
            f"{self.pss_mb:.0f}",
            f"{self.rss_mb:.0f}",
            "-" if self.models_s is None else f"{self.models_s:.1f}",
            self.note,
        ]


HEADER = [
    "scenario",
    "records",
    "requests / min",
    "wall s / floor",
    "API s",
    "req/s",
    "429s",
    "records/s",
    "peak PSS MB",
    "max RSS MB",
    "models s",
    "note",
]


RUNTIME = {"--latency-ms": ("latency_ms", float), "--max-in-flight": ("max_in_flight", int)}


def _emulator(workdir: Path, scenario: Scenario) -> tuple[subprocess.Popen, str]:
    """Start the emulator; latency and limits are switched on only after a warm-up."""
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)
    static, runtime = [], {}
    switches = iter(scenario.emulator)
    for switch in switches:
        if switch in RUNTIME:
            name, kind = RUNTIME[switch]
            runtime[name] = kind(next(switches))
        else:
            static.append(switch)
    if scenario.limit_rate:
        runtime["rate_limit_per_s"] = scenario.limit_rate
    cache_mb = max(256, scenario.contacts // 100) if scenario.warm else 256  # 10 KB a record
    command = [
        sys.executable, "-m", "insightly_emulator", "--port", "0",
        "--port-file", str(port_file), "--profile", "tiny", "--api-key", KEY,
        "--size", f"Contacts={scenario.contacts}", "--cache-mb", str(cache_mb), *static,
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (port_file.exists() and port_file.read_text().strip()):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench: the emulator did not start for {scenario.name}")
        time.sleep(0.1)
    root = f"http://127.0.0.1:{port_file.read_text().strip()}"
    if scenario.warm:
        _read_all(root, scenario.contacts)
    if runtime:
        _admin(root, "configure", runtime)
    _admin_clear(root)
    return process, root


def _read_all(root: str, contacts: int, threads: int = 2) -> float:
    """Read every page of contacts once (the render cache keeps them); returns seconds."""
    import httpx

    began = time.monotonic()
    with (
        httpx.Client(base_url=f"{root}/v3.1/", auth=(KEY, ""), timeout=120) as client,
        ThreadPoolExecutor(threads) as pool,
    ):
        skips = range(0, max(1, contacts), 500)
        get = partial(_get_page, client)
        list(pool.map(get, skips))
    return time.monotonic() - began


def _get_page(client, skip: int) -> None:
    client.get("Contacts", params={"top": 500, "skip": skip}).raise_for_status()


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


def _env(root: str, workdir: Path, scenario: Scenario) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOURCES__INSIGHTLY__")}
    env |= {
        "SOURCES__INSIGHTLY__API_KEY": KEY,
        "SOURCES__INSIGHTLY__BASE_URL": f"{root}/v3.1/",
        "DESTINATION__DUCKDB__CREDENTIALS": str(workdir / "bench.duckdb"),
    }
    if scenario.rate is not None:
        env["SOURCES__INSIGHTLY__RATE_PER_S"] = str(scenario.rate)
    if scenario.in_flight is not None:
        env["SOURCES__INSIGHTLY__MAX_IN_FLIGHT"] = str(scenario.in_flight)
    return env | scenario.env


def _sync(root: str, workdir: Path, scenario: Scenario) -> tuple[float, float, float, int]:
    """Run one sync process (without the models: `_models` times them); returns (wall
    seconds, max RSS MB, peak PSS MB, exit code)."""
    env = _env(root, workdir, scenario)
    command = [
        sys.executable, "-m", "insightly.cli", "sync", "--entities", "contacts", "--no-models",
        "--pipelines-dir", str(workdir / "pipelines"),
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    sampler = PeakPss(process.pid)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, sampler.peak_kb / 1024, code


def _models(root: str, workdir: Path, scenario: Scenario) -> float:
    """Seconds `insightly models` takes on the synced warehouse (what a sync without
    --no-models adds)."""
    command = [sys.executable, "-m", "insightly.cli", "models",
               "--pipelines-dir", str(workdir / "pipelines")]  # fmt: skip
    started = time.monotonic()
    done = subprocess.run(command, env=_env(root, workdir, scenario), capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"bench: insightly models failed: {done.stderr[-400:]!r}")
    return time.monotonic() - started


def _requests(root: str) -> tuple[int, int, float]:
    """Requests and 429s of the contacts reads (without discovery), and the seconds from the
    first of them to the last answer."""
    summary = _admin(root, "requests")
    by_path = summary.get("by_path_status", {})
    search = {p: c for p, c in by_path.items() if p.lower().startswith("/v3.1/contacts")}
    total = sum(sum(c.values()) for c in search.values())
    rejected = sum(c.get("429", 0) for c in search.values())
    spans = [v for p, v in summary.get("by_path_span", {}).items() if p in search]
    span = max(v[1] for v in spans) - min(v[0] for v in spans) if spans else 0.0
    return total, rejected, span


def emulator_speed(contacts: int) -> str:
    """Pages of 500 full contacts the emulator alone serves per second, read by two clients
    as a sync reads them (gzip): rendered on demand (cold), and pre-rendered (warm)."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    cache = ["--cache-mb", str(max(256, contacts // 100))]  # the last --cache-mb counts
    process, root = _emulator(workdir, Scenario("speed", contacts, None, None, cache))
    try:
        pages = max(1, math.ceil(contacts / 500))
        cold = _read_all(root, contacts)
        warm = _read_all(root, contacts)
        return (
            f"emulator alone, {pages} pages of 500 full contacts: {pages / cold:.0f} pages/s "
            f"rendered on demand, {pages / warm:.0f} pages/s pre-rendered "
            f"({pages * 500 / warm:,.0f} records/s); scenarios marked warm are pre-rendered"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def run(scenario: Scenario) -> Row:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{scenario.name}-"))
    process, root = _emulator(workdir, scenario)
    try:
        seconds, rss, pss, code = _sync(root, workdir, scenario)
        records = scenario.contacts
        if scenario.changed:
            changed = max(1, int(scenario.contacts * scenario.changed))
            for contact_id in _ids(root, changed):
                _admin(root, "mutate", {"op": "update", "entity": "Contacts", "id": contact_id})
            _admin_clear(root)  # count the second sync only
            seconds, rss, pss, code = _sync(root, workdir, scenario)
            records = changed
        if scenario.deleted:
            seconds, rss, pss, code = _sync_after_deletes(root, workdir, scenario)
            records = scenario.deleted
        requests, rejected, api_s = _requests(root)
        minimum = max(1, math.ceil(records / 500))
        rate = min(scenario.rate or DEFAULT_RATE, scenario.limit_rate or math.inf)
        note = "" if code == 0 else f"exit {code}"
        if scenario.deleted:
            n, d = scenario.contacts, scenario.deleted
            bound = d * math.ceil(math.log2(n / d)) + 2 * d
            note += f"{requests - 1} requests beyond the read (d*ceil(log2(n/d))+2d = {bound})"
        models_s = _models(root, workdir, scenario) if scenario.models else None
        return Row(scenario.name, records, requests, minimum, seconds, minimum / rate, rejected,
                   rss, pss, api_s, note, models_s)  # fmt: skip
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


def _sync_after_deletes(
    root: str, workdir: Path, scenario: Scenario
) -> tuple[float, float, float, int]:
    """Delete `scenario.deleted` contacts spread over the table, then sync again."""
    ids = _ids(root, scenario.contacts)
    for contact_id in ids[7 :: max(1, len(ids) // scenario.deleted)][: scenario.deleted]:
        _admin(root, "mutate", {"op": "delete", "entity": "Contacts", "id": contact_id})
    _admin_clear(root)  # count the second sync only
    return _sync(root, workdir, scenario)


def _admin_clear(root: str) -> None:
    request = urllib.request.Request(f"{root}/_emulator/requests", method="DELETE")
    with urllib.request.urlopen(request, timeout=60):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size")
    parser.add_argument("--only", help="comma-separated scenario names")
    args = parser.parse_args(argv)
    chosen = scenarios(args.scale)
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [s for s in chosen if s.name in wanted]
    print(emulator_speed(max(500, int(100_000 * args.scale))), flush=True)
    rows, seconds = [], {}
    for scenario in chosen:
        print(f"bench: {scenario.name} ...", file=sys.stderr, flush=True)
        row = run(scenario)
        rows.append(row.cells())
        seconds[scenario.name] = row.seconds
    if not args.only or bench_push.NAME in args.only.split(","):  # the push (bench/push.py)
        print(f"bench: {bench_push.NAME} ...", file=sys.stderr, flush=True)
        rows.append(bench_push.run(args.scale).cells())
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    for row in [HEADER, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    if {"faults-5pct", FAULTS_TWIN} <= set(seconds):
        with_faults, without = seconds["faults-5pct"], seconds[FAULTS_TWIN]
        print(
            f"5% failing requests: {with_faults:.1f} s, the same load without faults "
            f"{without:.1f} s: {with_faults / without:.2f}x (target at most 2x)"
        )
    if not args.only or "history" in args.only.split(","):
        from bench.history import history_cost

        print(history_cost(max(500, int(20_000 * args.scale))))
    if not args.only or "changes" in args.only.split(","):  # bench/changes.py
        from bench.changes import changes_cost

        print(changes_cost(max(10_000, int(1_000_000 * args.scale))), flush=True)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
