"""The push's reads of the warehouse: the relation to push, and the synced copy of the
object (records, custom fields, tags, links, custom field metadata). The copy was brought
up to date just before (command.py), so matching and diffing cost no request."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention

from insightly.catalogue.entities import CUSTOM_FIELDS, Entity
from insightly.errors import ConfigurationError
from insightly.push.objects import Target, standard_target, target_for
from insightly.warehouse.introspect import tables_in

naming = NamingConvention()
DELETED_AT = "_deleted_at"


def decoded(text: str | None, kind: str) -> Any:
    """A custom field value as the copy stores it (text plus its JSON type, read/rows.py)
    back to the API's JSON value; the three lines are repeated here because the push reads
    the warehouse and never imports the read side's record shaping."""
    if kind == "null" or text is None:
        return None
    return text if kind == "string" else json.loads(text)


def column(api_field: str) -> str:
    """The warehouse column dlt made of an API field name."""
    return naming.normalize_identifier(api_field)


@dataclass(frozen=True)
class CustomField:
    """One custom field's metadata, from the copy's custom_fields tables."""

    name: str
    label: str
    type: str
    editable: bool
    options: tuple[str, ...] = ()


@dataclass
class Current:
    """A record as the copy holds it (API names, warehouse values)."""

    id: int
    fields: dict[str, Any]
    custom: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    links: list[tuple[str, int, int | None]] = field(default_factory=list)  # name, id, LINK_ID


class Warehouse:
    """Reads through one dlt sql client (DuckDB, PostgreSQL, any SQL destination)."""

    def __init__(self, sql: Any) -> None:
        self.sql = sql
        self.tables = tables_in(sql)

    def _query(self, query: str, *args: Any) -> tuple[list[str], list[tuple]]:
        with self.sql.execute_query(query, *args) as cursor:
            names = [d[0] for d in cursor.description or []]
            return names, list(cursor.fetchall())

    def qualified(self, relation: str) -> str:
        parts = relation.split(".")
        if len(parts) == 1:
            return self.sql.make_qualified_table_name(relation)
        return ".".join(self.sql.escape_column_name(p) for p in parts)

    def relation(
        self, relation: str, limit: int | None = None
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """The rows of the relation to push (every one unless `limit`), as dicts."""
        clause = "" if limit is None else f" limit {int(limit)}"
        try:
            names, rows = self._query(f"select * from {self.qualified(relation)}{clause}")
        except Exception as exc:  # the destination's own "no such table" error
            raise ConfigurationError(
                f"cannot read relation {relation}: {str(exc).splitlines()[0]}"
            ) from None
        return names, [dict(zip(names, row, strict=True)) for row in rows]

    def target(self, table: str, custom: Callable[[str], Entity] | None = None) -> Target:
        """The write rules of a standard object, or of a custom object (`custom` names its
        entity: Actions.entity, from /CustomObjects as the sync names them)."""
        found = standard_target(table)
        if found is not None:
            return found
        if custom is not None and table.startswith("custom_"):
            try:
                return target_for(custom(table), custom=True)
            except ConfigurationError:
                pass
        raise ConfigurationError(
            f"object {table!r} is not writable or not in the copy: use a table name such as "
            "contacts, leads, organisations, opportunities, projects, tasks, events, notes, "
            "products or a custom object's table (custom_fruit); sync it first"
        )

    def custom_fields(self, table: str) -> dict[str, CustomField]:
        """FIELD_NAME -> metadata of the object's custom fields."""
        if CUSTOM_FIELDS.table not in self.tables:
            return {}
        meta = self.sql.make_qualified_table_name(CUSTOM_FIELDS.table)
        _, rows = self._query(
            f"select field_name, field_label, field_type, editable, field_for from {meta} "
            "where object_table = %s",
            table,
        )
        options: dict[tuple[str, str], list[str]] = {}
        child = f"{CUSTOM_FIELDS.table}__custom_field_options"
        if child in self.tables:
            _, option_rows = self._query(
                f"select field_for, field_name, option_value from "
                f"{self.sql.make_qualified_table_name(child)} order by field_for, field_name, "
                "_position"
            )
            for field_for, name, value in option_rows:
                options.setdefault((field_for, name), []).append(value)
        return {
            name: CustomField(
                name, label or name, kind or "TEXT", editable is not False,
                tuple(options.get((field_for, name), ())),
            )
            for name, label, kind, editable, field_for in rows
        }  # fmt: skip

    def copy(self, target: Target) -> dict[int, Current]:
        """Every live record of the object in the copy, by id."""
        if target.table not in self.tables:
            return {}
        table = self.sql.make_qualified_table_name(target.table)
        key = column(target.key)
        names, rows = self._query(f"select * from {table}")
        by_column = {column(f): f for f in target.fields}
        records: dict[int, Current] = {}
        for row in rows:
            values = dict(zip(names, row, strict=True))
            if values.get(DELETED_AT) is not None:
                continue
            fields = {by_column[c]: v for c, v in values.items() if c in by_column}
            records[int(values[key])] = Current(int(values[key]), fields)
        self._children(target, records)
        return records

    def _children(self, target: Target, records: dict[int, Current]) -> None:
        key = column(target.key)
        for child, columns in (
            ("customfields", "field_name, field_value, field_value_type"),
            ("tags", "tag_name"),
            ("links", "link_object_name, link_object_id, link_id"),
        ):
            name = f"{target.table}__{child}"
            if name not in self.tables:
                continue
            for row in self._rows(name, key, columns):
                record = records.get(int(row[0]))
                if record is None:
                    continue
                if child == "customfields":
                    record.custom[row[1]] = decoded(row[2], row[3])
                elif child == "tags":
                    record.tags.append(row[1])
                else:
                    record.links.append((row[1], row[2], row[3]))

    def _rows(self, table: str, key: str, columns: str) -> Iterator[tuple]:
        qualified = self.sql.make_qualified_table_name(table)
        _, rows = self._query(f"select {key}, {columns} from {qualified} order by {key}, _position")
        return iter(rows)


@contextmanager
def open_warehouse(pipeline: Any) -> Iterator[Warehouse]:
    with pipeline.sql_client() as sql:
        yield Warehouse(sql)
