"""Warehouse table and column names of the entities: child tables, their keys, markers.

A child table (`contacts__tags`, `contacts__customfields`, ...) is a table of its own that
carries the parent's primary key (`contact_id`), the item's fields and `_position` (its
place in the list). Each child table also has a natural key, the one its integrity check
and dbt tests use: see `Child.natural_key`. The rows themselves are built in
`insightly.read.entity_rows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from insightly.catalogue.entities import CUSTOMFIELDS, Entity
from insightly.catalogue.fields import FIELDS

POSITION = "_position"  # the item's place in its list, from 0; -1 on a tombstone
TOMBSTONE = "_tombstone"  # true on the row that clears a parent's children (never stored)
DELETED_AT = "_deleted_at"
# The item field that names an item within its parent's list (with the parent key), or
# alone where the API's id is unique across parents. Links are the exception to the latter:
# a link between two records of one type is listed on both with the same LINK_ID.
ITEM_KEYS: dict[str, tuple[str, ...]] = {
    CUSTOMFIELDS: ("FIELD_NAME",),
    "TAGS": ("TAG_NAME",),
    "LINKS": ("LINK_ID",),
    "DATES": ("DATE_ID",),
    "EMAILDOMAINS": ("EMAIL_DOMAIN_ID",),
    "TEAMMEMBERS": ("MEMBER_USER_ID",),
    "ACTIVITIES": ("ACTIVITY_ID",),
    "CUSTOM_FIELD_OPTIONS": ("OPTION_ID",),
}
GLOBAL_ITEM_IDS = frozenset({"DATES", "EMAILDOMAINS", "ACTIVITIES"})


def fields_of(entity: Entity) -> str:
    """The `fields.py` entry of an entity (custom objects share one)."""
    return entity.table if entity.table in FIELDS else "custom_object_records"


@dataclass(frozen=True)
class Child:
    """One nested list of an entity and the table it loads into."""

    array: str  # the API's key, e.g. "TAGS"
    table: str  # e.g. "contacts__tags"
    parent_key: tuple[str, ...]  # the parent's primary key, API names

    def natural_key(self, naming: Any) -> list[str]:
        """Columns that name one row: what integrity checks and dbt tests hold unique."""
        item = [naming.normalize_identifier(k) for k in ITEM_KEYS.get(self.array, ())]
        if not item:
            return [*self.key_columns(naming), POSITION]
        if self.array in GLOBAL_ITEM_IDS:
            return item
        return [*self.key_columns(naming), *item]

    def key_columns(self, naming: Any) -> list[str]:
        return [naming.normalize_identifier(k) for k in self.parent_key]


def children(entity: Entity, naming: Any) -> list[Child]:
    return [
        Child(a, f"{entity.table}__{naming.normalize_identifier(a)}", entity.primary_key)
        for a in entity.arrays
    ]


def child_tables(entity: Entity, naming: Any) -> list[str]:
    return [c.table for c in children(entity, naming)]
