"""Versions: every version of a record the syncs read, kept in `<table>__versions`.

A version is a record as the API served it at one DATE_UPDATED_UTC: its fields (the
entity table's columns), its custom fields and tags (JSON text), the sync that first read
it (`_run_id`), the load that wrote it (`_dlt_load_id`) and a hash of its content
(`_version_hash`).

The rules (made.py writes them, in SQL, after each load):
- keyed by (record key, DATE_UPDATED_UTC): the look-back re-reads a version unchanged and
  the row (and the sync that first read it) stays; the same stamp read again with other
  content (two updates in one second) replaces the version;
- made from the rows one load wrote, after the load is complete: current and history
  can't disagree, and a load killed half way is versioned by the next run once dlt has
  completed it.

Why not dlt's `scd2` strategy (docs/history.md has the long form): its validity comes from
the load time (one `boundary_timestamp` per load), not the API's stamp, it retires rows
absent from a full extract but nothing on incremental loads (so no delete closes a
version), and a same-stamp correction would add a version instead of replacing one.

A delete closes the last version (`history_store.close_versions`, in the id check's own
transaction).
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from insightly.catalogue.entities import CUSTOMFIELDS, Entity, Load

VERSIONS_SUFFIX = "__versions"
RUN_ID = "_run_id"  # the sync that first read this content
# the sync that first read this stamp: differs from RUN_ID once a same-second update replaced
# the content (made.py keeps it when it replaces a version)
FIRST_RUN_ID = "_first_run_id"
VERSION_HASH = "_version_hash"  # the content's hash (history/sql_text.py)
DELETED_AT = "_deleted_at"  # set on the last version when the id check finds it deleted
DELETED_RUN_ID = "_deleted_run_id"  # the sync whose id check found it
TAGS = "TAGS"
STAMP = "date_updated_utc"  # DATE_UPDATED_UTC as the warehouse names it
LOAD_ID = "_dlt_load_id"  # the load that wrote a row
# a version's columns that are not its content
BOOKKEEPING = frozenset(
    {RUN_ID, FIRST_RUN_ID, VERSION_HASH, DELETED_AT, DELETED_RUN_ID, LOAD_ID, "_dlt_id"}
)
CONTENT_ARRAYS = (CUSTOMFIELDS, TAGS)  # the nested lists a version carries (as JSON)

# The sync whose id check runs now (deletes/check.py closes versions with it); set by sync/run.py.
current_run: ContextVar[str | None] = ContextVar("insightly_history_run", default=None)


def versions_table(table: str) -> str:
    return f"{table}{VERSIONS_SUFFIX}"


def is_versions_table(table: str) -> bool:
    return table.endswith(VERSIONS_SUFFIX)


def entity_table_of(versions: str) -> str:
    return versions[: -len(VERSIONS_SUFFIX)]


def parse_entities(value: Any) -> frozenset[str] | None:
    """`history_entities` as configured: unset means every incremental entity; a list (or a
    comma-separated text, as an environment variable may hold it) narrows it."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = json.loads(text)
        else:
            value = [v for v in text.split(",") if v.strip()]
    if not isinstance(value, (list, tuple, set, frozenset)):
        raise ValueError(f"history_entities must be a list of table names, got {value!r}")
    return frozenset(str(v).strip() for v in value)


@dataclass(frozen=True)
class History:
    """Which entities keep versions in this sync, and the sync's id."""

    run_id: str
    tables: frozenset[str] | None = None  # None: every incremental entity and custom object

    def covers(self, entity: Entity) -> bool:
        if entity.load is not Load.INCREMENTAL:
            return False
        return self.tables is None or entity.table in self.tables
