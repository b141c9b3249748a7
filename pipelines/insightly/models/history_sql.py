"""The SQL pieces the history views (history_views.py) and the change events
(change_events.py) share: which versions tables there are, their data columns, and what
counts as a delete.

Written as DuckDB-dialect text over `raw.<table>`; `bind` names the real raw dataset, and
sqlglot renders the result for the destination.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlglot import exp

from insightly.catalogue.tables import POSITION
from insightly.history.versions import BOOKKEEPING as VERSION_BOOKKEEPING
from insightly.history.versions import (
    DELETED_AT,
    STAMP,
    entity_table_of,
    is_versions_table,
)
from insightly.models.raw import NAMING, RawSchema, entity_of

BOOKKEEPING = VERSION_BOOKKEEPING | {POSITION}
SAFE_FIELD = re.compile(r"^[A-Za-z0-9_]+$")


def q(name: str) -> str:
    """A quoted identifier in SQL text."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def history_tables(raw: RawSchema) -> list[tuple[str, str, list[str]]]:
    """(entity table, versions table, key columns) of each versions table with its entity."""
    out = []
    for name in sorted(raw.tables):
        if not is_versions_table(name):
            continue
        table = entity_table_of(name)
        entity = entity_of(table)
        if entity is None or not raw.has(table):
            continue
        keys = [NAMING.normalize_identifier(k) for k in entity.primary_key]
        if set(keys) | {STAMP} <= raw.columns(name):
            out.append((table, name, keys))
    return out


def data_columns(raw: RawSchema, versions: str, keys: Sequence[str]) -> list[str]:
    """The fields a version holds: its columns without the key, the stamp and bookkeeping."""
    cols = raw.columns(versions) - BOOKKEEPING - set(keys) - {STAMP}
    return sorted(c for c in cols if not c.startswith("_dlt"))


def deleted(raw: RawSchema, table: str, keys: Sequence[str]) -> str:
    """True on a version closed by a delete that the current table agrees with (alias v for
    the version, c for the current row, joined on the key)."""
    gone = f"c.{q(keys[0])} is null"
    if DELETED_AT in raw.columns(table):
        gone = f"({gone} or c.{q(DELETED_AT)} is not null)"
    return f"(v.{q(DELETED_AT)} is not null and {gone})"


def versions_with_current(raw: RawSchema, table: str, versions: str, keys: Sequence[str]) -> str:
    join = " and ".join(f"c.{q(k)} = v.{q(k)}" for k in keys)
    return f"raw.{q(versions)} as v left join raw.{q(table)} as c on {join}"


def bind(tree: exp.Expression, raw: RawSchema) -> exp.Expression:
    """`raw.<table>` -> the raw dataset's real name."""
    for t in tree.find_all(exp.Table):
        if t.db == "raw":
            t.set("db", exp.to_identifier(raw.name, quoted=True))
    return tree
