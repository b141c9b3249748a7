"""The push's write-ahead journal: each write is recorded before it is sent and its outcome
after, each line flushed and fsync'd, so that after a kill the next run knows which writes
may have happened. Only a create, a note and a link can be duplicated by
sending them again; the rest are re-planned from the copy, which the next run brings up to
date first. JSON lines, append-only while a push runs, compacted to the unresolved intents
when it ends. Written by hand: a few dozen lines, where a database would need a lock of its
own and could not fsync each entry more cheaply."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

APPLIED, REFUSED, UNKNOWN = "applied", "refused", "unknown"


@dataclass
class Intent:
    """A write that was about to be sent."""

    seq: int
    row: str
    kind: str
    record: int | None = None  # the record written to (None for a create)
    value: Any = None  # tag name, link, or the create's match (field, custom, value)
    run: str = ""
    outcome: str | None = None  # applied | refused | unknown, None until an answer came
    result_id: int | None = None


class Journal:
    """One push's journal file; safe to use from the apply threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.entries: dict[int, Intent] = {}
        self._read()
        self._seq = max(self.entries, default=0)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open

    def _read(self) -> None:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as lines:
            for line in lines:
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the last line of a kill mid-write: its request was not sent
                if entry.get("t") == "intent":
                    value = entry.get("value")
                    self.entries[entry["n"]] = Intent(
                        entry["n"], entry["row"], entry["kind"], entry.get("record"),
                        tuple(value) if isinstance(value, list) else value, entry.get("run", ""),
                    )  # fmt: skip
                elif entry.get("t") == "outcome" and entry["n"] in self.entries:
                    intent = self.entries[entry["n"]]
                    intent.outcome = entry["status"]
                    intent.result_id = entry.get("id")

    def _write(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry, default=str) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def intend(self, row: str, kind: str, record: int | None, value: Any, run: str) -> Intent:
        """Record a write before it is sent."""
        with self._lock:
            self._seq += 1
            intent = Intent(self._seq, row, kind, record, value, run)
            self.entries[intent.seq] = intent
            self._write(
                {"t": "intent", "n": intent.seq, "row": row, "kind": kind, "record": record,
                 "value": value, "run": run}
            )  # fmt: skip
            return intent

    def settle(self, intent: Intent, status: str, result_id: int | None = None) -> None:
        """Record a write's outcome after its answer (or after it was looked up)."""
        with self._lock:
            intent.outcome = status
            intent.result_id = result_id
            self._write({"t": "outcome", "n": intent.seq, "status": status, "id": result_id})

    def unresolved(self) -> list[Intent]:
        """Writes that may or may not have happened: no answer, or an unknown one."""
        return [i for i in self.entries.values() if i.outcome in (None, UNKNOWN)]

    def compact(self) -> None:
        """Keep only what is unresolved (atomically): a journal never grows without bound."""
        with self._lock:
            keep = self.unresolved()
            temporary = self.path.with_suffix(".tmp")
            with open(temporary, "w", encoding="utf-8") as out:
                for i in keep:
                    out.write(
                        json.dumps(
                            {"t": "intent", "n": i.seq, "row": i.row, "kind": i.kind,
                             "record": i.record, "value": i.value, "run": i.run},
                            default=str,
                        ) + "\n"
                    )  # fmt: skip
                out.flush()
                os.fsync(out.fileno())
            self._file.close()
            os.replace(temporary, self.path)
            self.entries = {i.seq: i for i in keep}
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        self._file.close()
