"""Full reads: tables re-read whole on every due run and replaced (lookups, emails, tags,
custom object and custom field metadata)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import dlt

from insightly.api.client import InsightlyClient
from insightly.catalogue.entities import (
    CUSTOM_FIELDS,
    CUSTOM_OBJECTS,
    TAG_RECORD_TYPES,
    TAGS,
    Entity,
)
from insightly.errors import EntityUnavailable
from insightly.read.pages import base_params, drifted, mark_refreshed, read_pages

log = logging.getLogger(__name__)
FULL_READ_ATTEMPTS = 3


def kept_while_skipped(
    client: InsightlyClient, table: str, pages: Iterator[list[dict]]
) -> Iterator[Any]:
    """The pages of a replace table; when its entity answered 403/404 and nothing was read,
    an empty replace would truncate what earlier syncs loaded, so nothing is loaded as
    append instead: the table is kept until the key can read the entity again."""
    read = False
    for page in pages:
        read = True
        yield page
    if not read and table in client.stats.skipped:
        yield dlt.mark.with_hints([], dlt.mark.make_hints(write_disposition="append"))


def full_records(client: InsightlyClient, entity: Entity) -> Iterator[Any]:
    """Every record of an entity without /Search (lookups, emails).

    The table is replaced, so a read that moved under its offsets is read again (up to
    three times) and the union of the reads is loaded: a record is never lost, and one
    deleted during the read disappears on the next sync.
    """
    yield from kept_while_skipped(client, entity.table, _full_pages(client, entity))


def _full_pages(client: InsightlyClient, entity: Entity) -> Iterator[list[dict]]:
    union: dict[tuple, dict] = {}
    for attempt in range(1, FULL_READ_ATTEMPTS + 1):
        totals: list[int] = []
        pages = list(read_pages(client, entity, entity.path, base_params(entity), totals=totals))
        read = {tuple(r.get(k) for k in entity.primary_key): r for p in pages for r in p}
        union.update(read)
        if not drifted(totals, set(read)):
            break
        client.stats.note_drift(entity.table)
        log.warning("%s changed while it was read (attempt %d)", entity.table, attempt)
    if entity.table in client.stats.skipped:
        return  # not refreshed: read again on the next sync
    if union:
        client.stats.count_rows(entity.table, len(union))  # re-reads are not loaded twice
        yield list(union.values())
    mark_refreshed()


def tag_records(client: InsightlyClient) -> Iterator[Any]:
    """/Tags per record type, in one table keyed by (RECORD_TYPE, TAG_NAME)."""
    yield from kept_while_skipped(client, TAGS.table, _tag_pages(client))


def _tag_pages(client: InsightlyClient) -> Iterator[list[dict]]:
    for record_type in TAG_RECORD_TYPES:
        params = {"record_type": record_type}
        for page in read_pages(client, TAGS, TAGS.path, params, {"RECORD_TYPE": record_type}):
            client.stats.count_rows(TAGS.table, len(page))
            yield page
    mark_refreshed()


def _singular(path: str) -> str:
    if path.lower().endswith("__c"):
        return path.upper()
    upper = path.upper()
    if upper.endswith("IES"):
        return upper[:-3] + "Y"
    return upper[:-1] if upper.endswith("S") else upper


def _fields_of(object_path: str, table: str, fields: list[dict]) -> list[dict]:
    """Keep one object's fields, tagged with its table.

    An unknown object name makes the API answer every custom field of the instance
    (docs/api.md §7); such an answer is narrowed to the object asked for.
    """
    owners = {str(f.get("FIELD_FOR", "")).upper() for f in fields}
    if len(owners) > 1:
        wanted = _singular(object_path)
        fields = [f for f in fields if str(f.get("FIELD_FOR", "")).upper() == wanted]
    return [{**f, "OBJECT_TABLE": table} for f in fields]


def custom_field_records(
    client: InsightlyClient, objects: list[tuple[str, str]]
) -> Iterator[list[dict]]:
    """/CustomFields/{object} metadata for every object that has custom fields.

    An object the key can't read (403/404) simply has no metadata rows; its records are
    skipped by their own resource.
    """
    seen: set[tuple[str, str]] = set()
    for object_path, table in objects:
        try:
            fields = client.get_list(f"CustomFields/{object_path}", table=CUSTOM_FIELDS.table)
        except EntityUnavailable:
            continue
        fresh = []
        for field in _fields_of(object_path, table, fields):
            key = (str(field.get("FIELD_FOR")), str(field.get("FIELD_NAME")))
            if key not in seen:
                seen.add(key)
                fresh.append(field)
        if fresh:
            client.stats.count_rows(CUSTOM_FIELDS.table, len(fresh))
            yield fresh
    mark_refreshed()


def custom_object_records(client: InsightlyClient, definitions: list[dict]) -> Iterator[list]:
    """The /CustomObjects answer fetched for discovery, loaded without a second request."""
    pages = [[dict(d) for d in definitions]] if definitions else []
    if definitions:
        client.stats.count_rows(CUSTOM_OBJECTS.table, len(definitions))
    yield from kept_while_skipped(client, CUSTOM_OBJECTS.table, iter(pages))
    mark_refreshed()


def discover_custom_objects(client: InsightlyClient) -> list[dict]:
    """/CustomObjects, or none when the plan has no custom objects."""
    try:
        return client.get_list(CUSTOM_OBJECTS.path, table=CUSTOM_OBJECTS.table)
    except EntityUnavailable as exc:
        client.stats.skip(CUSTOM_OBJECTS.table, exc.reason)
        return []
