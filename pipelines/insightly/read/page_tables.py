"""A page of one entity's records as Arrow tables: its root table and one per nested list.

The conversion state (each table's `Columns`: the types its columns took so far) lives in
one `PageTables` for a run. It imports nothing of dlt's pipeline machinery and pickles whole
(naming included), so that a worker process (page_worker.py) can take it over in the middle
of a read and hand it back at the end: the tables come out the same wherever it runs.
The layout (parent key, `_position`, tombstones) is described in entity_rows.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from insightly.catalogue.entities import CUSTOMFIELDS, Entity
from insightly.catalogue.fields import FIELDS
from insightly.catalogue.tables import POSITION, TOMBSTONE, Child, children, fields_of
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


class PageTables:
    """Pages of one entity to typed Arrow tables, for one run (see module doc)."""

    def __init__(self, entity: Entity, known: dict[str, dict[str, str]], naming: Any, merge: bool):
        """`known`: the column types the warehouse already has, by table name."""
        self.table = entity.table
        self.arrays = entity.arrays
        self.merge = merge
        self.naming = naming
        self.children = children(entity, naming)
        declared = FIELDS.get(fields_of(entity), {})
        self.root = Columns(known.get(entity.table, {}), declared, naming)
        child_fields = {
            c.array: FIELDS.get(f"{fields_of(entity)}.{c.array}", {}) for c in self.children
        }
        self.child_columns = {
            c.array: Columns(known.get(c.table, {}), child_fields[c.array], naming)
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
        self.declared = list(declared)
        self.pk = [naming.normalize_identifier(k) for k in entity.primary_key]
        self.key_names = list(entity.primary_key)  # as the API names them (page_facts.py)

    def page(self, page: Sequence[dict]) -> tuple[pa.Table, list[tuple[str, pa.Table]]]:
        """The page's root table and its child tables (by name; a list no record of a
        replaced table carries has none)."""
        keys = record_keys(page, self.declared, self.arrays)
        root = not_null(pa.table(self.root.build(page, keys)), self.pk)
        tables = []
        for child in self.children:
            table = self._child(child, page, root)
            if table is not None:
                key = [*child.key_columns(self.naming), POSITION]
                tables.append((child.table, not_null(table, key)))
        return root, tables

    def empty_root(self) -> pa.Table:
        return not_null(pa.table(self.root.build([], self.declared)), self.pk)

    def empty_child(self, child: Child) -> pa.Table:
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
                    [table, _tombstones(root, parent_cols, empty)], promote_options="default"
                )
            return table
        if not items:
            return None
        return pa.table(columns)


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


def not_null(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    """Mark key columns NOT NULL in the Arrow schema, as dlt declares them."""
    wanted = set(columns)
    fields = [f.with_nullable(False) if f.name in wanted else f for f in table.schema]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))
