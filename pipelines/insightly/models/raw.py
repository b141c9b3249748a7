"""The raw dataset as the models see it: its tables and columns, and how tables relate.

Tables and columns come from the warehouse (information_schema), so a model can tell what
is really there. How a child table (`contacts__tags`) joins its parent comes from its name
and the catalogue (catalogue/tables.py): a table `X__y` whose prefix `X` is a loaded table holds one
of X's nested lists, and carries X's primary key (`contact_id`; `record_id` for a custom
object) to join on.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention
from sqlglot import exp

from insightly.catalogue.entities import (
    CUSTOM_FIELDS,
    CUSTOM_OBJECTS,
    ENTITIES,
    TAGS,
    Entity,
    custom_object_entity,
)
from insightly.catalogue.tables import Child, children
from insightly.models.dialects import column, literal, render

Execute = Callable[[str], list[tuple]]

NAMING = NamingConvention()  # dlt's default, the one the pipeline loads with
CUSTOM_PREFIX = "custom_"
CATALOGUE: dict[str, Entity] = {
    e.table: e for e in (*ENTITIES, TAGS, CUSTOM_OBJECTS, CUSTOM_FIELDS)
}
PRIMARY_KEYS = {e.table: NAMING.normalize_identifier(e.primary_key[0]) for e in ENTITIES}


@dataclass
class RawSchema:
    """Tables and columns of the raw dataset, from information_schema."""

    name: str
    tables: dict[str, set[str]]

    def has(self, name: str) -> bool:
        return name in self.tables

    def columns(self, name: str) -> set[str]:
        return self.tables.get(name, set())

    def join_key(self, child: str) -> tuple[str, list[str]] | None:
        """(parent, key columns) of a loaded child table, when both tables have the key."""
        layout = child_layout(child, self.tables)
        if layout is None:
            return None
        parent = parent_of(child, self.tables)
        key = layout.key_columns(NAMING)
        if parent is None or not key:
            return None
        if not set(key) <= self.columns(child) & self.columns(parent):
            return None
        return parent, key


def introspect(execute: Execute, schema: str, destination: str) -> RawSchema:
    query = (
        exp.select("table_name", "column_name")
        .distinct()
        .from_("information_schema.columns")
        .where(exp.EQ(this=exp.column("table_schema"), expression=literal(schema)))
    )
    tables: dict[str, set[str]] = {}
    for table_name, column_name in execute(render(query, destination)):
        tables.setdefault(table_name, set()).add(column_name)
    return RawSchema(schema, tables)


# ----------------------------------------------------------------- parents and children
def entity_of(table: str) -> Entity | None:
    """The catalogue entry of an entity table; custom objects (`custom_*`) are keyed by
    RECORD_ID."""
    if table in CATALOGUE:
        return CATALOGUE[table]
    if table.startswith(CUSTOM_PREFIX) and "__" not in table:
        return custom_object_entity(table, table)
    return None


def parent_of(table: str, loaded: Collection[str]) -> str | None:
    """The loaded table whose name prefixes `table` before a `__` (the longest such)."""
    at = table.rfind("__")
    while at > 0:
        if table[:at] in loaded:
            return table[:at]
        at = table.rfind("__", 0, at)
    return None


def child_layout(table: str, loaded: Collection[str]) -> Child | None:
    """The nested list a child table holds (catalogue/tables.py); a list the catalogue doesn't name
    is keyed by its parent's key all the same. None for a table that is no child."""
    parent = parent_of(table, loaded)
    entity = entity_of(parent) if parent else None
    if parent is None or entity is None:
        return None
    for child in children(entity, NAMING):
        if child.table == table:
            return child
    return Child(table[len(parent) + 2 :].upper(), table, entity.primary_key)


def join_on(key: Collection[str], child_alias: str, parent_alias: str) -> exp.Expression:
    """`c.k1 = p.k1 AND ...` over the parent key."""
    return exp.and_(
        *[exp.EQ(this=column(k, child_alias), expression=column(k, parent_alias)) for k in key]
    )


# ----------------------------------------------------------------- running SQL
def executor(target: Any) -> Execute:
    """An execute(sql) -> rows function for a dlt sql client or a DB-API connection."""
    if hasattr(target, "execute_sql"):
        return lambda sql: list(target.execute_sql(sql) or [])
    if hasattr(target, "cursor"):

        def run(sql: str) -> list[tuple]:
            cur = target.cursor()
            try:
                cur.execute(sql)
                return list(cur.fetchall()) if cur.description else []
            finally:
                cur.close()

        return run
    raise TypeError(f"cannot run SQL on {type(target).__name__}")
