"""Versions: every version of a record the syncs read, kept in `<table>__versions`.

A version is a record as the API served it at one DATE_UPDATED_UTC: its fields (the
entity table's columns), its custom fields and tags (JSON text), the sync that first read
it (`_run_id`, `RunStats.sync`) and a hash of its content (`_version_hash`).

Why this shape, and not dlt's `scd2` strategy (docs/history.md has the long form):
- the versions table is one more table variant of the entity's own resource
  (read/entity_rows.py), so it is written in the same load package as the current table:
  current and history can't disagree, and a load killed half way is completed by the next
  run like any other;
- it is keyed by (record key, DATE_UPDATED_UTC) and merged with dlt's `upsert` strategy,
  `skip_unchanged_rows` on `_version_hash`: the look-back re-reads a version unchanged and
  the row (and the sync that first read it) stays; the same stamp read again with other
  content (two updates in one second) replaces the version;
- `scd2` validity comes from the load time (one `boundary_timestamp` per load), not the
  API's stamp, retires rows absent from a full extract but nothing on incremental loads
  (so no delete closes a version), and a same-stamp correction would add a version
  instead of replacing one.

A delete closes the last version (`history_store.close_versions`, in the id check's own
transaction). Versions are buffered for one pipeline run and yielded once, de-duplicated
(last read wins), since `upsert` refuses a key twice in one load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import dlt
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from insightly.catalogue.entities import CURSOR, CUSTOMFIELDS, Entity, Load

VERSIONS_SUFFIX = "__versions"
RUN_ID = "_run_id"  # the sync that first read this content
# the sync that first read this stamp: differs from RUN_ID once a same-second update replaced
# the content; kept outside dlt's schema so the merge never overwrites it (store.py)
FIRST_RUN_ID = "_first_run_id"
VERSION_HASH = "_version_hash"  # the content's hash: the merge compares only this
DELETED_AT = "_deleted_at"  # set on the last version when the id check finds it deleted
DELETED_RUN_ID = "_deleted_run_id"  # the sync whose id check found it
TAGS = "TAGS"
CONTENT_ARRAYS = (CUSTOMFIELDS, TAGS)  # the nested lists a version carries (as JSON)
_SEQ = "_seq"

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

    def rows_for(self, entity: Entity, naming: Any) -> VersionRows | None:
        return VersionRows(entity, naming, self.run_id) if self.covers(entity) else None


def _canonical(value: Any) -> bytes:
    """JSON with sorted keys, so equal content has equal text and an equal hash."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def custom_fields_json(record: dict) -> str | None:
    items = record.get(CUSTOMFIELDS)
    if not isinstance(items, list):
        return None
    values = {str(i.get("FIELD_NAME")): i.get("FIELD_VALUE") for i in items if isinstance(i, dict)}
    return _canonical(values).decode()


def tags_json(record: dict) -> str | None:
    items = record.get(TAGS)
    if not isinstance(items, list):
        return None
    names = sorted(str(i.get("TAG_NAME") if isinstance(i, dict) else i) for i in items)
    return _canonical(names).decode()


def content_hash(record: dict, skip: Iterable[str]) -> str:
    """The version's content: the record without the lists a version doesn't keep."""
    skipped = set(skip)
    content = {k: v for k, v in record.items() if k not in skipped}
    if isinstance(content.get(CUSTOMFIELDS), list):
        content[CUSTOMFIELDS] = custom_fields_json(record)
    if isinstance(content.get(TAGS), list):
        content[TAGS] = tags_json(record)
    return hashlib.blake2b(_canonical(content), digest_size=16).hexdigest()


class VersionRows:
    """The versions one pipeline run of an entity read, yielded once at its end."""

    def __init__(self, entity: Entity, naming: Any, run_id: str) -> None:
        self.entity = entity
        self.table = versions_table(entity.table)
        self.run_id = run_id
        self.pk = [naming.normalize_identifier(k) for k in entity.primary_key]
        self.stamp = naming.normalize_identifier(CURSOR)
        self.arrays = [a for a in CONTENT_ARRAYS if a in entity.arrays]
        self.array_columns = {a: naming.normalize_identifier(a) for a in self.arrays}
        self._skip = [a for a in entity.arrays if a not in CONTENT_ARRAYS]
        self._parts: list[pa.Table] = []
        self._seq = 0

    def add(self, page: Sequence[dict], root: pa.Table) -> None:
        """One page: its root table (read/entity_rows.py) plus the version's own columns."""
        if self.stamp not in root.column_names or not len(page):
            return
        columns = {name: root[name] for name in root.column_names}
        if CUSTOMFIELDS in self.arrays:
            values = [custom_fields_json(r) for r in page]
            columns[self.array_columns[CUSTOMFIELDS]] = pa.array(values, pa.string())
        if TAGS in self.arrays:
            columns[self.array_columns[TAGS]] = pa.array(list(map(tags_json, page)), pa.string())
        columns[RUN_ID] = pa.array([self.run_id] * len(page), pa.string())
        hashes = [content_hash(r, self._skip) for r in page]
        columns[VERSION_HASH] = pa.array(hashes, pa.string())
        columns[_SEQ] = pa.array(np.arange(self._seq, self._seq + len(page), dtype=np.int64))
        self._seq += len(page)
        table = pa.table(columns)
        self._parts.append(table.filter(pc.is_valid(table[self.stamp])))

    def tables(self) -> Iterator[Any]:
        """The run's versions, one row per (record, stamp): the last read wins."""
        if not self._parts:
            return
        table = pa.concat_tables(self._parts, promote_options="default")
        self._parts = []
        keys = [*self.pk, self.stamp]
        last = table.group_by(keys, use_threads=False).aggregate([(_SEQ, "max")])
        wanted = pc.is_in(table[_SEQ], value_set=last[f"{_SEQ}_max"])
        table = table.filter(wanted).drop_columns([_SEQ])
        not_null = set(keys) | {VERSION_HASH}
        schema = pa.schema(
            [f.with_nullable(False) if f.name in not_null else f for f in table.schema]
        )
        yield dlt.mark.with_hints(table.cast(schema), self.hints(), create_table_variant=True)

    def empty(self, root: pa.Table) -> Any:
        """The versions table with every column and no row, beside an empty entity table."""
        columns = {name: root[name] for name in root.column_names}
        for name in (*self.array_columns.values(), RUN_ID, VERSION_HASH):
            columns[name] = pa.array([], pa.string())
        return dlt.mark.with_hints(pa.table(columns), self.hints(), create_table_variant=True)

    def hints(self) -> Any:
        columns: list[dict[str, Any]] = [
            {"name": self.stamp, "data_type": "timestamp", "nullable": False},
            {"name": RUN_ID, "data_type": "text", "nullable": True},
            {"name": DELETED_AT, "data_type": "timestamp", "nullable": True},
            {"name": DELETED_RUN_ID, "data_type": "text", "nullable": True},
            *(
                {"name": c, "data_type": "text", "nullable": True}
                for c in self.array_columns.values()
            ),
        ]
        return dlt.mark.make_hints(
            table_name=self.table,
            primary_key=[*self.pk, self.stamp],
            write_disposition={
                "disposition": "merge",
                "strategy": "upsert",
                "skip_unchanged_rows": True,
                "row_version_column_name": VERSION_HASH,
            },
            columns=columns,
        )
