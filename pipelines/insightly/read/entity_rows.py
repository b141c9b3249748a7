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
import pyarrow as pa

from insightly.catalogue.entities import CURSOR, Entity, Load
from insightly.catalogue.tables import DELETED_AT, POSITION, TOMBSTONE, Child, children
from insightly.read import page_worker
from insightly.read.page_facts import ConvertedPage
from insightly.read.page_tables import PageTables


class EntityRows:
    """Turns an entity's pages into hinted Arrow tables for one run (see module doc).

    The conversion itself is `PageTables`'; a long read hands it to a worker process
    (page_worker.py, page_pipe.py) once `worker_holds` says so, and takes it back at
    `finish`."""

    def __init__(self, entity: Entity, schema: Any) -> None:
        self.entity = entity
        self.merge = entity.load is Load.INCREMENTAL
        self.naming = schema.naming
        self.children = children(entity, self.naming)
        known = {t: _known(schema, t) for t in (entity.table, *(c.table for c in self.children))}
        self.convert = PageTables(entity, known, self.naming, self.merge)
        self._pk, self._declared = self.convert.pk, self.convert.declared  # for the hints
        self._seen_children: set[str] = set()
        self._pages = 0
        self._worker: page_worker.PageWorker | None = None
        self._in_worker = False  # the worker holds `convert` and gets every page

    @property
    def worker(self) -> page_worker.PageWorker | None:
        """The worker process started for this read, if any (ready or not)."""
        return self._worker

    def worker_holds(self) -> bool:
        """One more page of the read: whether the worker converts it. A read past
        WORKER_AFTER_PAGES pages takes the worker, which gets the conversion state once it
        is ready; until then pages are converted here, and after, every page there."""
        self._pages += 1
        if self._worker is None:
            self._worker = page_worker.take(self._pages > page_worker.WORKER_AFTER_PAGES)
        if self._worker is not None and not self._in_worker and self._worker.ready.is_set():
            self._worker.start(self.convert)
            self._in_worker = True
        return self._in_worker

    def finish(self) -> None:
        """The read ended: take the conversion state back from the worker."""
        worker, self._worker = self._worker, None
        if worker is None:
            return
        if self._in_worker:
            self._in_worker = False
            try:
                self.convert = worker.finish()
            except BaseException:
                page_worker.drop(worker)
                raise
        page_worker.give_back(worker)

    def abandon(self) -> None:
        """The read failed or was closed: stop the worker, whose state is not to be used."""
        worker, self._worker = self._worker, None
        if worker is not None:
            self._in_worker = False
            page_worker.drop(worker)

    def tables(self, page: Sequence[dict]) -> Iterator[tuple[str, pa.Table]]:
        """A page's root table and one table per nested list, by warehouse table name,
        converted here."""
        root, child_tables = self.convert.page(page)
        return self._named(root, child_tables)

    def converted(self, page: ConvertedPage) -> Iterator[tuple[str, pa.Table]]:
        """The tables of a page converted already (page_pipe.py)."""
        if page.root is None:
            return iter(())
        return self._named(page.root, page.children)

    def _named(
        self, root: pa.Table, child_tables: list[tuple[str, pa.Table]]
    ) -> Iterator[tuple[str, pa.Table]]:
        yield self.entity.table, root
        for name, table in child_tables:
            self._seen_children.add(name)
            yield name, table

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
                yield self.hinted(child.table, self.convert.empty_child(child))

    def skeleton(self, schema: Any) -> Iterator[Any]:
        """Empty tables with every declared column, for the tables of this entity that the
        schema lacks (or lacks columns of): a tenant where no record carries a list, or
        that has no record at all, still gets each table the models read. Nothing is
        yielded once they exist, so a sync with nothing changed loads nothing."""
        root = self.convert.empty_root()
        tables = [(self.entity.table, root)]
        tables += [(c.table, self.convert.empty_child(c)) for c in self.children]
        missing = [
            (name, table)
            for name, table in tables
            if not set(table.column_names) <= set(_known(schema, name))
        ]
        for name, table in missing:
            yield self.hinted(name, table)

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


def _known(schema: Any, table: str) -> dict[str, str]:
    """Column types the warehouse already has for a table (from the dlt schema)."""
    columns = schema.tables.get(table, {}).get("columns", {})
    return {n: c["data_type"] for n, c in columns.items() if c.get("data_type")}
