"""The dlt source: one generic factory turns the catalogue into resources.

Each entity is one resource over its read (incremental.py, full_reads.py); its pages become
Arrow tables, the entity's and its child tables' (entity_rows.py, rows.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import dlt
import pendulum
import pyarrow as pa
from dlt.sources import DltResource

from insightly.api.client import InsightlyClient
from insightly.catalogue.entities import (
    CUSTOM_FIELDS,
    CUSTOM_OBJECTS,
    ENTITIES,
    TAGS,
    Entity,
    Load,
    custom_object_entities,
)
from insightly.config import connect, load_settings
from insightly.read import page_worker
from insightly.read.activity import activity_resources
from insightly.read.endpoints import Endpoints
from insightly.read.entity_rows import EntityRows
from insightly.read.full_reads import (
    custom_field_records,
    custom_object_records,
    discover_custom_objects,
    full_records,
    tag_records,
)
from insightly.read.incremental import incremental_records
from insightly.read.page_facts import ConvertedPage

BATCH_ROWS = 50_000  # rows (entity and child rows) per yielded batch: about ten pages


def entity_tables(entity: Entity, read: Callable[..., Iterator[Any]], args: tuple) -> Iterator[Any]:
    """The pages of `read(*args)` as Arrow tables: the entity's and its child tables'
    (entity_rows.py), several pages to a table (dlt's cost per yielded item, a schema merge, was a
    third of the extract at one page each). An incremental read gets the run's EntityRows:
    with `page_workers = 1` its pages come converted by the worker process (page_pipe.py).
    Anything else a read yields (hints for a table kept while its entity is forbidden) passes
    through. What is buffered is yielded before the read ends, so a run's state and its rows
    stay together."""
    rows: EntityRows | None = None
    batch = TableBatch()

    def entity_rows() -> EntityRows:
        nonlocal rows
        if rows is None:  # the schema is known once extraction runs
            rows = EntityRows(entity, dlt.current.source_schema())
        return rows

    pages = read(*args, tables=entity_rows) if read is incremental_records else read(*args)
    try:
        for page in pages:
            if isinstance(page, ConvertedPage):
                batch.add_all(entity_rows().converted(page))
            elif not isinstance(page, list):
                yield page
            elif page:
                batch.add_all(entity_rows().tables(page))
            if batch.rows >= BATCH_ROWS:
                yield from batch.drain(entity_rows())
        if rows is not None:
            rows.finish()
    finally:
        if rows is not None:
            rows.abandon()  # only does something when the read failed
    if rows is not None:
        yield from batch.drain(rows)
        if entity.load is Load.FULL:
            yield from rows.empty_children()
    client = args[0]  # every read takes the client first
    if entity.table not in client.stats.skipped:  # an object outside the plan gets no table
        schema = dlt.current.source_schema()
        yield from (rows or EntityRows(entity, schema)).skeleton(schema)


class TableBatch:
    """Arrow tables of several pages, per warehouse table, until they are yielded."""

    def __init__(self) -> None:
        self.tables: dict[str, list[pa.Table]] = {}
        self.rows = 0

    def add_all(self, tables: Iterator[tuple[str, pa.Table]]) -> None:
        for name, table in tables:
            self.tables.setdefault(name, []).append(table)
            self.rows += table.num_rows

    def drain(self, rows: EntityRows) -> Iterator[Any]:
        for name, parts in self.tables.items():
            table = (
                parts[0] if len(parts) == 1 else pa.concat_tables(parts, promote_options="default")
            )
            yield rows.hinted(name, table)
        self.tables, self.rows = {}, 0


def _rows_resource(entity: Entity, read: Callable[..., Iterator[Any]], *args: Any) -> DltResource:
    """One resource per table; every yielded table carries its own hints (entity_rows.py), so
    the resource itself declares no key for its child tables to inherit."""
    disposition = "merge" if entity.load is Load.INCREMENTAL else "replace"
    resource = dlt.resource(entity_tables, name=entity.table, write_disposition=disposition)
    return resource(entity, read, args)


def _entity_resource(
    client: InsightlyClient,
    entity: Entity,
    start_date: datetime | None,
    lookback: int,
) -> DltResource:
    if entity.load is Load.FULL:
        return _rows_resource(entity, full_records, client, entity)
    read = incremental_records
    resource = _rows_resource(entity, read, client, entity, start_date, lookback)
    return resource.parallelize()


def _parse_start(start_date: str | datetime | None) -> datetime | None:
    if start_date is None or start_date == "":
        return None
    if isinstance(start_date, datetime):
        value = start_date
    else:
        value = pendulum.parse(str(start_date), tz="UTC")
    return pendulum.instance(value).in_timezone("UTC")


@dlt.source(name="insightly")
def insightly_source(
    api_key: str = dlt.secrets.value,
    pod: str | None = dlt.config.value,
    base_url: str | None = dlt.config.value,
    start_date: str | None = None,
    lookback_seconds: int = 1,
    client: InsightlyClient | None = None,
    settings: Any = None,
    endpoints: Any = None,
) -> Iterator[DltResource]:
    """Every Insightly v3.1 entity, custom objects included.

    Args:
        api_key: the user's API key (secret).
        pod: na1, eu1, au1, ...; ignored when `base_url` is set.
        base_url: replaces the pod's URL (the emulator, a proxy).
        start_date: limits the first load of incremental entities (ISO date or datetime).
        lookback_seconds: re-read window before the stored cursor; at least 1.
        client: an existing client (the CLI passes one to collect run statistics).
        settings: the run's `Settings` (config.py); read from config when not given.
        endpoints: the per-record endpoints' availability (read/endpoints.py); kept in
            memory only when not given.
    """
    if lookback_seconds < 1:
        raise ValueError("lookback_seconds must be at least 1: updated_after_utc is exclusive")
    # Only explicitly typed columns become timestamps; see rows.py.
    dlt.current.source_schema().remove_type_detection("iso_timestamp")
    settings = settings or load_settings()
    page_worker.MAX_WORKERS = settings.page_workers
    if client is None:
        client = connect(settings, api_key, pod, base_url)
    start = _parse_start(start_date)

    for entity in ENTITIES:
        yield _entity_resource(client, entity, start, lookback_seconds)
    yield _rows_resource(TAGS, tag_records, client)

    definitions = discover_custom_objects(client)
    yield _rows_resource(CUSTOM_OBJECTS, custom_object_records, client, definitions)
    custom_entities = custom_object_entities(definitions)
    for entity in (*ENTITIES, *custom_entities):
        if entity.load is Load.INCREMENTAL:
            client.stats.incremental[entity.table] = entity
    for entity in custom_entities:
        yield _entity_resource(client, entity, start, lookback_seconds)

    field_objects = [(e.path, e.table) for e in (*ENTITIES, *custom_entities) if e.custom_fields]
    yield _rows_resource(CUSTOM_FIELDS, custom_field_records, client, field_objects)
    # comments and file attachments of the records that changed (activity.py)
    endpoints = endpoints or Endpoints(None, settings.cadence_hours)
    yield from activity_resources(client, ENTITIES, custom_entities, settings.activity, endpoints)
