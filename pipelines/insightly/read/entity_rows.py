"""The warehouse layout of an entity: its table and one child table per nested list.

A child table (`contacts__tags`, `contacts__customfields`, ...) is a table of its own that
carries the parent's primary key (`contact_id`), the item's fields and `_position` (its
place in the list); no dlt-internal ids. It stays exact on merge with dlt's delete-insert
strategy on `merge_key` = the parent key: every child row of a parent in the load is
deleted and the load's rows inserted. A parent whose list is now empty sends one tombstone
row (`_tombstone` = true, a `hard_delete` column), which deletes its old rows and is never
stored. The primary key (parent key, `_position`) de-duplicates a parent read twice in one
load. A deleted parent's children follow it: hard deletes remove them by the parent key
(deletes/check.py); soft deletes leave them, and the staging views drop them through the parent's
`_deleted_at`.

Each child table also has a natural key, the one its integrity check and dbt tests use:
see `natural_key`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import dlt
import numpy as np
import pyarrow as pa

from insightly.catalogue.entities import CURSOR, CUSTOMFIELDS, Entity, Load
from insightly.catalogue.fields import FIELDS
from insightly.catalogue.tables import DELETED_AT, POSITION, TOMBSTONE, Child, children, fields_of
from insightly.read.rows import (
    ARROW_TYPE,
    FIELD_VALUE,
    Columns,
    as_items,
    custom_field_values,
    flatten,
    positions,
    record_keys,
)


class EntityRows:
    """Turns an entity's pages into hinted Arrow tables for one run (see module doc)."""

    def __init__(self, entity: Entity, schema: Any) -> None:
        self.entity = entity
        self.merge = entity.load is Load.INCREMENTAL
        self.naming = schema.naming
        self.children = children(entity, self.naming)
        declared = FIELDS.get(fields_of(entity), {})
        self.root = Columns(_known(schema, entity.table), declared, self.naming)
        child_fields = {
            c.array: FIELDS.get(f"{fields_of(entity)}.{c.array}", {}) for c in self.children
        }
        self.child_columns = {
            c.array: Columns(_known(schema, c.table), child_fields[c.array], self.naming)
            for c in self.children
        }
        # each list's declared fields and the keys its items carry but its table doesn't
        # (the parent key comes from the parent; a custom field's value is encoded apart)
        self._child_declared = {
            a: [k for k in fields if k != FIELD_VALUE] for a, fields in child_fields.items()
        }
        self._child_skip = {
            c.array: [*c.parent_key, *([FIELD_VALUE] if c.array == CUSTOMFIELDS else [])]
            for c in self.children
        }
        self._declared = list(declared)
        self._pk = [self.naming.normalize_identifier(k) for k in entity.primary_key]
        self._seen_children: set[str] = set()

    def tables(self, page: Sequence[dict]) -> Iterator[tuple[str, pa.Table]]:
        """The page's root table and one table per nested list, by warehouse table name."""
        keys = record_keys(page, self._declared, self.entity.arrays)
        root = not_null(pa.table(self.root.build(page, keys)), self._pk)
        yield self.entity.table, root
        for child in self.children:
            table = self._child(child, page, root)
            if table is not None:
                self._seen_children.add(child.table)
                yield child.table, not_null(table, [*child.key_columns(self.naming), POSITION])

    def hinted(self, name: str, table: pa.Table) -> Any:
        """A table with the hints of its warehouse table, as a variant of the resource (so
        no table inherits another's keys)."""
        if name == self.entity.table:
            hints = self._root_hints()
        else:
            hints = self._child_hints(next(c for c in self.children if c.table == name))
        return dlt.mark.with_hints(table, hints, create_table_variant=True)

    def empty_children(self) -> Iterator[Any]:
        """A replace with no items at all still empties the child table: yield it empty."""
        for child in self.children:
            if child.table not in self._seen_children:
                yield self.hinted(child.table, self._empty_child(child))

    def skeleton(self, schema: Any) -> Iterator[Any]:
        """Empty tables with every declared column, for the tables of this entity that the
        schema lacks (or lacks columns of): a tenant where no record carries a list, or
        that has no record at all, still gets each table the models read. Nothing is
        yielded once they exist, so a sync with nothing changed loads nothing."""
        root = not_null(pa.table(self.root.build([], self._declared)), self._pk)
        tables = [(self.entity.table, root)]
        tables += [(c.table, self._empty_child(c)) for c in self.children]
        missing = [
            (name, table)
            for name, table in tables
            if not set(table.column_names) <= set(_known(schema, name))
        ]
        for name, table in missing:
            yield self.hinted(name, table)

    def _empty_child(self, child: Child) -> pa.Table:
        keys = child.key_columns(self.naming)
        kinds = {k: ARROW_TYPE[self.root.types.get(k, "bigint")] for k in keys}
        columns = {
            **{k: pa.array([], kinds[k]) for k in keys},
            POSITION: pa.array([], pa.int64()),
            **self._item_columns(child, []),
        }
        return not_null(pa.table(columns), [*keys, POSITION])

    def _item_columns(self, child: Child, items: list[Any]) -> dict[str, pa.Array]:
        """The item columns of a list: every declared field, typed, and whatever else the
        items carry (none of them may carry the list at all)."""
        items = as_items(items, child.array) if items else []
        keys = record_keys(items, self._child_declared[child.array], self._child_skip[child.array])
        built = self.child_columns[child.array].build(items, keys)
        if child.array == CUSTOMFIELDS:
            built.update(custom_field_values(items))
        return built

    def _child(self, child: Child, page: Sequence[dict], root: pa.Table) -> pa.Table | None:
        items, counts = flatten(page, child.array)
        parent_cols = child.key_columns(self.naming)
        columns: dict[str, pa.Array] = {}
        index = pa.array(np.repeat(np.arange(len(page), dtype=np.int64), counts))
        for col in parent_cols:
            columns[col] = root[col].take(index)
        columns[POSITION] = positions(counts)
        built = self._item_columns(child, items)
        columns.update({k: v for k, v in built.items() if k not in columns})
        if self.merge:
            columns[TOMBSTONE] = pa.nulls(len(columns[POSITION]), pa.bool_())
            empty = np.flatnonzero(counts == 0)
            table = pa.table(columns)
            if len(empty):
                table = pa.concat_tables(
                    [table, self._tombstones(root, parent_cols, empty)], promote_options="default"
                )
            return table
        if not items:
            return None
        return pa.table(columns)

    @staticmethod
    def _tombstones(root: pa.Table, parent_cols: list[str], empty: np.ndarray) -> pa.Table:
        index = pa.array(empty)
        n = len(empty)
        return pa.table(
            {
                **{c: root[c].take(index) for c in parent_cols},
                POSITION: pa.array(np.full(n, -1, dtype=np.int64)),
                TOMBSTONE: pa.array(np.ones(n, dtype=bool)),
            }
        )

    def _root_hints(self) -> Any:
        pk = self._pk
        columns: list[dict[str, Any]] = []
        if self.merge:
            columns += [
                {
                    "name": self.naming.normalize_identifier(CURSOR),
                    "data_type": "timestamp",
                    "dedup_sort": "desc",
                },
                # set by deletes/check.py when the API stops listing a record; a re-read clears it
                {"name": DELETED_AT, "data_type": "timestamp", "nullable": True},
            ]
        return dlt.mark.make_hints(
            table_name=self.entity.table,
            primary_key=pk,
            write_disposition="merge" if self.merge else "replace",
            columns=columns,
        )

    def _child_hints(self, child: Child) -> Any:
        parent_cols = child.key_columns(self.naming)
        columns: list[dict[str, Any]] = [
            {"name": POSITION, "data_type": "bigint", "nullable": False}
        ]
        if not self.merge:
            return dlt.mark.make_hints(
                table_name=child.table,
                write_disposition="replace",
                primary_key=[*parent_cols, POSITION],
                columns=columns,
            )
        columns.append(
            {"name": TOMBSTONE, "data_type": "bool", "nullable": True, "hard_delete": True}
        )
        return dlt.mark.make_hints(
            table_name=child.table,
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
            primary_key=[*parent_cols, POSITION],
            merge_key=parent_cols,
            columns=columns,
        )


def not_null(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """Mark key columns NOT NULL in the Arrow schema, as dlt declares them."""
    wanted = set(columns)
    fields = [f.with_nullable(False) if f.name in wanted else f for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))


def _known(schema: Any, table: str) -> dict[str, str]:
    """Column types the warehouse already has for a table (from the dlt schema)."""
    columns = schema.tables.get(table, {}).get("columns", {})
    return {n: c["data_type"] for n, c in columns.items() if c.get("data_type")}
