"""The tables a sync loaded, as dbt sources need them: columns in warehouse order, keys,
parent and natural keys (dbt_sources.py turns them into `sources.yml`).

Tables and columns come from the warehouse's information_schema (what is really there);
primary keys from the dlt schema stored in the dataset (`_dlt_version`), so no local
pipeline state is needed; the catalogue is the fallback for a table that schema lacks.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from insightly.catalogue.tables import POSITION
from insightly.history.versions import is_versions_table
from insightly.models.dialects import column, literal, render, table
from insightly.models.raw import CATALOGUE, CUSTOM_PREFIX, NAMING, Execute, child_layout, parent_of

VERSION_TABLE = "_dlt_version"


@dataclass(frozen=True)
class LoadedTable:
    """One table of the dataset as loaded: columns in warehouse order, keys and parent.

    primary_key is dlt's (a child table's is the parent key and `_position`); natural_key
    names one row by what it holds, and is what the dbt tests hold unique.
    """

    name: str
    columns: tuple[tuple[str, str], ...]  # (column, data type)
    primary_key: tuple[str, ...]
    parent: str | None = None
    parent_key: tuple[str, ...] = ()  # the columns that join the parent, in both tables
    natural_key: tuple[str, ...] = ()


# ----------------------------------------------------------------- reading the warehouse
def loaded_columns(execute: Execute, dataset: str, destination: str) -> dict[str, list]:
    """Table -> [(column, data type)] in ordinal order: what the warehouse really holds."""
    query = (
        exp.select("table_name", "column_name", "data_type")
        .from_("information_schema.columns")
        .where(exp.EQ(this=exp.column("table_schema"), expression=literal(dataset)))
        .order_by("table_name", "ordinal_position")
    )
    tables: dict[str, list] = {}
    for name, col, data_type in execute(render(query, destination)):
        tables.setdefault(name, []).append((col, str(data_type)))
    return tables


def decode_schema(stored: str) -> dict[str, Any]:
    """dlt stores its schema as JSON, or as base64 of zlib-compressed JSON on some
    destinations (see dlt's `_row_to_schema_info`)."""
    if not stored.lstrip().startswith("{"):
        stored = zlib.decompress(base64.b64decode(stored)).decode("utf-8")
    return json.loads(stored)


def stored_tables(execute: Execute, dataset: str, destination: str) -> dict[str, dict]:
    """The `tables` of the newest dlt schema stored in the dataset (empty if none)."""
    query = (
        exp.select(column("schema"))
        .from_(table(dataset, VERSION_TABLE))
        .order_by(exp.Ordered(this=column("inserted_at"), desc=True))
        .limit(1)
    )
    rows = execute(render(query, destination))
    return decode_schema(rows[0][0]).get("tables", {}) if rows else {}


def _fallback_key(name: str, columns: set[str]) -> tuple[str, ...]:
    """The catalogue's key for a table dlt's schema doesn't describe."""
    entity = CATALOGUE.get(name)
    if entity is not None:
        return tuple(k.lower() for k in entity.primary_key)
    if name.startswith(CUSTOM_PREFIX) and "record_id" in columns:
        return ("record_id",)
    return ()


def describe_table(
    name: str, columns: list, hints: dict[str, dict], loaded: Collection[str]
) -> LoadedTable:
    """Keys and parent of a table. A child table (`X__y`, X in `loaded`) takes its parent
    key and natural key from the catalogue; the primary key comes from dlt's table hints,
    else from the catalogue (the parent key and `_position` for a child)."""
    names = {c for c, _ in columns}
    hint = hints.get(name)
    child = child_layout(name, loaded)
    parent_key: tuple[str, ...] = ()
    if child is not None:
        parent_key = tuple(child.key_columns(NAMING))
        fallback = (*parent_key, POSITION)
        natural = tuple(child.natural_key(NAMING))
        if is_versions_table(name):  # one row per record and DATE_UPDATED_UTC (history/versions.py)
            fallback = natural = (*parent_key, "date_updated_utc")
    else:
        fallback = _fallback_key(name, names)
        natural = ()
    if hint is None:
        key = fallback
    else:
        key = tuple(c for c, h in hint.get("columns", {}).items() if h.get("primary_key"))
    key = tuple(k for k in key if k in names)
    if not natural or not set(natural) <= names:
        natural = key
    return LoadedTable(
        name,
        tuple(columns),
        key,
        parent_of(name, loaded) if child else None,
        tuple(k for k in parent_key if k in names),
        natural,
    )


def loaded_tables(execute: Execute, dataset: str, destination: str) -> list[LoadedTable]:
    """Every data table of the dataset (dlt's own `_dlt_*` tables left out), by name."""
    columns = loaded_columns(execute, dataset, destination)
    if not columns:
        raise RuntimeError(f"dataset {dataset!r} has no tables: run a sync first")
    hints = stored_tables(execute, dataset, destination) if VERSION_TABLE in columns else {}
    return [
        describe_table(name, cols, hints, columns)
        for name, cols in sorted(columns.items())
        if not name.startswith("_dlt")
    ]
