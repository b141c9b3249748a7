"""`make chaos`: the long versions of the crash, drift, fault, hostile-data and backfill tests.

Runs them with larger settings and prints one table: what was tried, the faults injected,
the rows compared and the differences found (lost, duplicated: must be 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict

SETTINGS = {
    "CHAOS_KILLS": "20",
    "CHAOS_DRIFT_SEEDS": "4",
    "HYPOTHESIS_EXAMPLES": "150",
    # a first load of 100 pages on a quota of 40 requests a day, contacts changing between days
    "CHAOS_BACKFILL_CONTACTS": "50000",
    "CHAOS_BACKFILL_LIMIT": "40",
    "CHAOS_BACKFILL_CHANGES": "60",
    # every drift pattern of a chunked read under every result order
    "CHAOS_CHUNKED_ORDERS": "all",
}
TESTS = [
    "tests/test_crash.py",
    "tests/test_drift.py",
    "tests/test_hostile.py",
    "tests/test_backfill.py",
    "tests/test_chunked.py",
]


def main() -> int:
    env = {**os.environ, **SETTINGS}
    command = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:logging", *TESTS]
    print(f"chaos: {' '.join(f'{k}={v}' for k, v in SETTINGS.items())}", file=sys.stderr)
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for line in result.stdout.splitlines():
        if "CHAOS|" in line:  # pytest's progress dots may precede it on the same line
            name, *numbers = line[line.index("CHAOS|") :].split("|")[1:]
            for i, n in enumerate(numbers):
                rows[name][i] += int(n)
    header = ["check", "trials", "faults/kills", "rows compared", "rows lost", "rows duplicated"]
    table = [header] + [[name, *map(str, v)] for name, v in rows.items()]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    summary = [x for x in result.stdout.splitlines() if " passed" in x or " failed" in x]
    print(summary[-1] if summary else result.stdout[-2000:])
    if result.returncode:
        print(result.stdout[-4000:], result.stderr[-2000:], sep="\n")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
