"""Per-record endpoints a tenant does not serve: `/{Parent}/{id}/Comments`,
`/FileAttachments`, `/Opportunities/{id}/StateHistory` answering 403, 404 or 405 for
parents that exist.

One such answer may be a parent deleted since it was read; three in a row for one (parent
table, path) mean the tenant has no such endpoint. It is then marked unavailable until
the next lookup refresh (`lookup_refresh_hours`) and not asked again; after that, it is
probed again. Until an endpoint has answered 200 in this sync, its requests go one at a
time, so an absent endpoint costs at most three requests, not a window of parallel ones.

All per-record reads of a day together spend at most a share of the daily quota
(`per_record_quota_share`, 25%), besides `quota_reserve`: `share`.

The marks live beside the pipeline (`<pipeline>.endpoints.json`), where `insightly
status` reads them without opening the warehouse. Written by hand: a few counters in a
small JSON file, which no library we use keeps for us outside dlt's state (and the
StateHistory reads run outside an extract, where dlt's state is not at hand).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from insightly.api.stamps import parse_utc, utc_stamp

log = logging.getLogger(__name__)
STRIKES = 3  # answers in a row that mark an endpoint unavailable
STATUSES = (403, 404, 405)


def endpoints_file(pipelines_dir: str | Path, pipeline_name: str) -> Path:
    return Path(pipelines_dir) / f"{pipeline_name}.endpoints.json"


class Endpoints:
    """The per-record endpoints' availability for one pipeline; thread-safe."""

    def __init__(self, path: Path | None, cadence_hours: float) -> None:
        self.path = path
        self.cadence_hours = cadence_hours
        self._lock = threading.Lock()
        self._proven: set[str] = set()  # answered 200 in this sync
        saved = _read(path) if path else {}
        self._data: dict[str, dict[str, Any]] = dict(saved.get("endpoints") or {})
        self._today: dict[str, Any] = dict(saved.get("today") or {})

    @staticmethod
    def key(parent_table: str, path: str) -> str:
        return f"{parent_table}/{path}"

    def available(self, parent_table: str, path: str) -> bool:
        """False while the endpoint is marked unavailable (until the next refresh)."""
        entry = self._data.get(self.key(parent_table, path), {})
        until = parse_utc(entry.get("until"))
        return not (isinstance(until, datetime) and datetime.now(timezone.utc) < until)

    def proven(self, parent_table: str, path: str) -> bool:
        """It answered 200 in this sync: its requests may go several at a time."""
        return self.key(parent_table, path) in self._proven

    def answered(self, parent_table: str, path: str, status: int | None) -> bool:
        """One answer for a parent that exists (None: 200). True when this answer marks the
        endpoint unavailable."""
        key = self.key(parent_table, path)
        with self._lock:
            if status is None:
                self._proven.add(key)
                if self._data.pop(key, None) is not None:
                    self._save()
                return False
            entry = self._data.setdefault(key, {"parent": parent_table, "path": path})
            entry["strikes"] = int(entry.get("strikes", 0)) + 1
            entry["status"] = status
            if entry["strikes"] < STRIKES or key in self._proven:
                self._save()
                return False
            now = datetime.now(timezone.utc)
            entry["since"] = utc_stamp(now)
            entry["until"] = utc_stamp(now + timedelta(hours=max(self.cadence_hours, 0)))
            entry["strikes"] = 0  # probed afresh after `until`
            self._save()
        log.warning("%s answered %s %d times in a row: %s", key, status, STRIKES, self.reason(key))
        return True

    def reason(self, key: str) -> str:
        entry = self._data.get(key, {})
        return (
            f"/{entry.get('parent')}/{{id}}/{entry.get('path')} answers {entry.get('status')}: "
            f"unavailable on this tenant until {entry.get('until')} UTC (lookup_refresh_hours)"
        )

    def unavailable(self) -> dict[str, str]:
        """Each endpoint marked unavailable now, with the reason."""
        return {
            key: self.reason(key)
            for key, entry in self._data.items()
            if not self.available(entry.get("parent", ""), entry.get("path", ""))
        }

    # ---------------------------------------------------------------- the daily share
    def left_today(self, daily_limit: int | None, share: float) -> int | None:
        """Requests the per-record reads may still make today (UTC): `share` of the daily
        quota, less what they made today; None while the quota is unknown, or when the
        share is the whole quota (then only the quota and its reserve stop them)."""
        if not daily_limit or share >= 1:
            return None
        return max(0, int(daily_limit * share) - self._spent_today())

    def spend(self, requests: int) -> None:
        if requests <= 0:
            return
        with self._lock:
            self._today = {"day": _today(), "requests": self._spent_today() + requests}
            self._save()

    @contextmanager
    def share(
        self, stats: Any, table: str, budget: int | None, share: float
    ) -> Iterator[int | None]:
        """One per-record table's reads in a sync: `budget` (None: no limit) capped by what is
        left of today's share; the requests counted for `table` meanwhile are spent."""
        today = self.left_today(stats.rate_limit, share)
        if today is not None:
            budget = today if budget is None else min(budget, today)
        before = stats.requests.get(table, 0)
        try:
            yield budget
        finally:
            self.spend(stats.requests.get(table, 0) - before)

    def _spent_today(self) -> int:
        return int(self._today.get("requests", 0)) if self._today.get("day") == _today() else 0

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        data = {"endpoints": self._data, "today": self._today}
        partial.write_text(json.dumps(data, indent=1, sort_keys=True))
        partial.replace(self.path)  # atomic: a kill never leaves half a file


def _today() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
