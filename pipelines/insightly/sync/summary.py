"""The run summary printed after every sync: rows and requests per table, skips, quota."""

from __future__ import annotations

from insightly.sync.run import SyncResult


def render(result: SyncResult) -> str:
    """A plain-text table, one line per table the run selected."""
    stats = result.stats
    rows = [("table", "rows", "requests", "note")]
    for table in sorted(set(result.tables) | set(stats.requests)):
        note = ""
        if table in stats.skipped:
            note = f"skipped: {stats.skipped[table]}"
        elif table in stats.walks:
            note = f"unfinished: daily quota; {_walk_note(*stats.walks[table])}"
        elif table in stats.checks_pending:
            note = "id check unfinished: daily quota; continues next run"
        elif table in stats.unfinished:
            note = "unfinished: daily quota (cursor kept)"
        elif table in stats.walks_done:
            note = "read over several runs completed; ids checked"
        elif table in stats.drift:
            note = "changed while read: re-read next sync"
        elif table in stats.held:
            note = "not due (lookup refresh cadence)"
        rows.append((table, str(stats.rows[table]), str(stats.requests[table]), note))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        f"{r[0]:<{widths[0]}}  {r[1]:>{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    ]
    lines.insert(1, "-" * len(lines[0]))
    total_rows = sum(stats.rows.values())
    lines.append(
        f"{len(result.tables)} tables, {total_rows} rows, {stats.total_requests} requests "
        f"in {result.seconds:.1f} s"
    )
    if stats.skipped:
        lines.append(
            f"skipped {len(stats.skipped)}: "
            + ", ".join(f"{t} ({why})" for t, why in sorted(stats.skipped.items()))
        )
    if stats.rate_remaining is not None:
        limit = f" of {stats.rate_limit}" if stats.rate_limit is not None else ""
        lines.append(f"daily API quota left: {stats.rate_remaining}{limit}")
    found = {t: n for t, n in stats.deleted.items() if n}
    if stats.deleted:
        lines.append(
            f"deleted records found: {sum(found.values())} "
            + (f"({', '.join(f'{t} {n}' for t, n in sorted(found.items()))}); " if found else "")
            + f"checked {len(stats.deleted)} tables"
        )
    fetched = {t: n for t, n in stats.fetched.items() if n}
    if fetched:
        lines.append(
            "records the id check found missing or stale, fetched one by one: "
            + ", ".join(f"{t} {n}" for t, n in sorted(fetched.items()))
        )
    if stats.rewound:
        lines.append(
            "records the id check found missing or stale, re-read from: "
            + ", ".join(f"{t} {when}" for t, when in sorted(stats.rewound.items()))
        )
    if stats.chunks:
        lines.append(
            f"large reads loaded in chunks: {stats.chunks} more pipeline runs "
            "(the next pages read while each chunk loaded; docs/backfill.md)"
        )
    if stats.repaired:
        lines.append(
            "removed exact duplicate rows left by a resumed load: "
            + ", ".join(f"{t} {n}" for t, n in sorted(stats.repaired.items()))
        )
    if stats.quota_stop:
        lines.append(f"stopped early: {stats.quota_stop}")
    if result.pending_loaded:
        lines.append("a load package left pending by an earlier run was loaded first")
    return "\n".join(lines)


def _walk_note(skip: int, total: int | None) -> str:
    """How far a read that continues next run got."""
    of = f" of ~{total:,}" if total is not None else ""
    return f"the next run reads on from record {skip:,}{of}"
