"""Measure how fast the emulator serves pages of 500 full contacts, in its own process.

    python -m insightly_emulator.speed                      # 100k and 1M contacts
    python -m insightly_emulator.speed --contacts 1000000 --pages 2000   # a full read
    python -m insightly_emulator.speed --think-ms 50 -- --render-workers 1

Starts ``python -m insightly_emulator`` (extra CLI switches after ``--``), reads pages one
after the other with httpx (gzip accepted, as a sync would), optionally pausing between
pages as a client that processes them would, and prints one JSON line per run: client-side
ms per page (median, p90, first), the emulator's own time per request, records/s and the
emulator's RSS.  It measures and prints; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

KEY = "speed-key"


def _rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return -1


def run(contacts: int, pages: int, think_s: float, extra: list[str]) -> dict[str, Any]:
    port_file = Path(tempfile.mkdtemp(prefix="emulator-speed-")) / "port"
    command = [
        sys.executable, "-m", "insightly_emulator", "--port", "0", "--port-file", str(port_file),
        "--profile", "tiny", "--api-key", KEY, "--size", f"Contacts={contacts}", *extra,
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None:
                raise SystemExit("the emulator did not start")
            time.sleep(0.02)
        out: dict[str, Any] = {
            "contacts": contacts,
            "think_ms": think_s * 1000,
            "switches": " ".join(extra),
            "startup_s": round(time.monotonic() - started, 2),
            "rss_start_mb": _rss_mb(process.pid),
        }
        root = f"http://127.0.0.1:{port_file.read_text().strip()}"
        reads = [("list", "Contacts", {})]
        if pages < contacts // 500:
            reads.append(("search", "Contacts/Search", {"updated_after_utc": "2025-01-01"}))
        with httpx.Client(base_url=root + "/v3.1/", auth=(KEY, ""), timeout=120) as client:
            for label, path, params in reads:
                times: list[float] = []
                began = time.monotonic()
                for page in range(pages):
                    t0 = time.perf_counter()
                    r = client.get(path, params={**params, "top": 500, "skip": page * 500})
                    times.append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        raise SystemExit(f"{path}: HTTP {r.status_code}")
                    if think_s:
                        time.sleep(think_s)
                wall = time.monotonic() - began - think_s * pages
                times_ms = sorted(t * 1000 for t in times)
                out[label] = {
                    "pages": pages,
                    "median_ms": round(statistics.median(times_ms), 1),
                    "p90_ms": round(times_ms[int(len(times_ms) * 0.9)], 1),
                    "first_ms": round(times[0] * 1000, 1),
                    "records_per_s_without_think": round(pages * 500 / wall),
                }
        summary = httpx.get(root + "/_emulator/requests").json()["duration_ms"]
        out["server_median_ms"] = {p.split("/v3.1/")[1]: v["median"] for p, v in summary.items()}
        out["rss_end_mb"] = _rss_mb(process.pid)
        return out
    finally:
        process.terminate()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m insightly_emulator.speed", description=__doc__)
    p.add_argument("--contacts", type=int, action="append", help="default: 100000 and 1000000")
    p.add_argument("--pages", type=int, default=60, help="pages read per run")
    p.add_argument("--think-ms", type=float, default=0.0, help="client pause after each page")
    p.add_argument("extra", nargs="*", help="emulator CLI switches (after --)")
    args = p.parse_args(argv)
    for contacts in args.contacts or [100_000, 1_000_000]:
        pages = min(args.pages, contacts // 500)
        print(json.dumps(run(contacts, pages, args.think_ms / 1000.0, args.extra)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
