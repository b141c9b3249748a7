"""`make bench`, history: versions rows per changed record and the load time history adds.

Two warehouses sync the same emulator tenant (contacts), one with history (the default)
and one with `history_entities = []`; then 1% of the contacts change and both sync again.
Reported: versions rows added per changed record (1.0 means one version per change and
none for the records the look-back re-reads), and the wall time each sync took with and
without history. One run each on a shared machine: read the difference as an order of
magnitude, not a precise figure.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import duckdb

from bench import scenarios as bench


def _versions(workdir: Path) -> int:
    with duckdb.connect(str(workdir / "bench.duckdb"), read_only=True) as con:
        return con.execute("select count(*) from insightly.contacts__versions").fetchone()[0]


def history_cost(contacts: int, changed_share: float = 0.01) -> str:
    """One line: history rows per changed record, and seconds per sync with and without."""
    base = Path(tempfile.mkdtemp(prefix="bench-history-"))
    scenario = bench.Scenario("history", contacts, 1000, 4, warm=True)
    without = bench.Scenario(
        "no-history", contacts, 1000, 4, env={"SOURCES__INSIGHTLY__HISTORY_ENTITIES": "[]"}
    )
    process, root = bench._emulator(base, scenario)
    try:
        on, off = base / "on", base / "off"
        on.mkdir(), off.mkdir()
        first = [bench._sync(root, on, scenario)[0], bench._sync(root, off, without)[0]]
        before = _versions(on)
        changed = max(1, int(contacts * changed_share))
        for contact_id in bench._ids(root, changed):
            bench._admin(root, "mutate", {"op": "update", "entity": "Contacts", "id": contact_id})
        second = [0.0, bench._sync(root, off, without)[0]]  # the other order this time
        second[0] = bench._sync(root, on, scenario)[0]
        per_change = (_versions(on) - before) / changed
        return (
            f"history, {contacts:,} contacts, {changed:,} changed: {per_change:.2f} versions "
            f"rows per changed record; first sync {first[0]:.1f} s with history, "
            f"{first[1]:.1f} s without; next sync {second[0]:.1f} s with, {second[1]:.1f} s "
            "without (one run each, shared CPU: differences under a second are noise)"
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)
