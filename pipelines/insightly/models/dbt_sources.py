"""Write dbt source definitions (`sources.yml`) from the schema a sync loaded.

Why generated: the warehouse grows with the tenant (a custom object becomes a table, a
field that gets its first value becomes a column), so hand-written dbt sources go stale.
Re-running `insightly dbt-sources` after a sync keeps them equal to what is loaded.

Where each part comes from:
- tables, columns, types and primary keys: loaded_tables.py reads them from the warehouse
  (information_schema: dlt creates no column for a field that never had a value) and from
  the dlt schema stored in the dataset (`_dlt_version`; `make demo` deletes its own state);
- child tables: a table `X__y` whose prefix `X` is a loaded table holds one of X's nested
  lists (raw.py); it joins X on X's key, and its natural key, the one the dbt tests hold
  unique, is the catalogue's (`Child.natural_key` in catalogue/tables.py);
- descriptions: the catalogue (API path, key, how the table is loaded) and a few notes on
  columns every table shares; anything else gets a generic description.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from sqlglot import exp

from insightly.catalogue.entities import PER_RECORD, Load
from insightly.catalogue.tables import POSITION
from insightly.history.versions import is_versions_table
from insightly.models.dialects import column, literal, render
from insightly.models.loaded_tables import LoadedTable, loaded_tables
from insightly.models.raw import CATALOGUE, CUSTOM_PREFIX, entity_of, executor

if TYPE_CHECKING:
    from insightly.sync.pipeline import SyncOptions

SOURCE_NAME = "insightly"
DEFAULT_OUT = Path("dbt/models/sources.yml")

ARRAY_NOTES = {
    "customfields": "custom field values (typed one column per field in the `_stg` views)",
    "tags": "tags",
    "links": "links to other records",
    "dates": "dates (birthdays, anniversaries, ...)",
    "emaildomains": "email domains",
    "teammembers": "team members",
    "activities": "activities",
    "custom_field_options": "picklist options",
}

COLUMN_NOTES = {
    "_dlt_load_id": "The dlt load that last wrote the row (`_dlt_loads.load_id`).",
    POSITION: "Place of the item in its parent's list, from 0; with the parent key, the "
    "row's primary key.",
    "_tombstone": "dlt's hard-delete marker for merge loads (a row with it set clears the "
    "parent's items and is never stored): always NULL here, ignore it.",
    "_deleted_at": "When a sync found the record gone from Insightly; NULL while it exists.",
    "_run_id": "The sync that first read this version (`RunStats.sync`).",
    "_version_hash": "Hash of the version's content; a re-read with another content replaces it.",
    "_deleted_run_id": "The sync whose id check found the record deleted (last version only).",
    "customfields": "The version's custom field values as JSON text, {FIELD_NAME: value}.",
    "tags": "The version's tag names as a JSON list.",
    "date_created_utc": "When the record was created in Insightly (UTC).",
    "date_updated_utc": "When the record last changed in Insightly (UTC); the sync's cursor.",
    "owner_user_id": "User who owns the record (`users.user_id`).",
    "created_user_id": "User who created the record (`users.user_id`).",
    "visible_to": "Who may see the record (EVERYONE, OWNER, TEAM, INDIVIDUALS).",
    "field_name": "API name of the custom field (`custom_fields.field_name`).",
    "field_value": "The value as text: strings as sent, anything else as JSON.",
    "field_value_type": "JSON type of the value as sent: string, number, boolean, null, ...",
    "custom_field_id": "Id of the custom field, where the API sends one.",
    "tag_name": "The tag.",
    "record_type": "Entity the tag is used on (contacts, leads, ...).",
    "object_table": "Warehouse table of the object the field belongs to.",
    "link_id": "Id of the link; each link is stored on both records it joins.",
    "object_name": "Entity of the record that holds the link.",
    "object_id": "Id of the record that holds the link.",
    "link_object_name": "Entity of the linked record.",
    "link_object_id": "Id of the linked record.",
    "role": "Role of the link (free text).",
    "details": "Details of the link (free text).",
    "relationship_id": "Named relationship of the link (`relationships.relationship_id`).",
    "is_forward": "Whether this copy of the link reads in the relationship's forward direction.",
    "date_id": "Id of the date.",
    "occasion_name": "What the date is (Birthday, Anniversary, ...).",
    "occasion_date": "The date, as text as the API sends it.",
    "repeat_yearly": "Whether the date repeats every year.",
    "create_task_yearly": "Whether Insightly creates a task for it every year.",
    "email_domain_id": "Id of the email domain.",
    "email_domain": "An email domain of the organisation.",
    "member_user_id": "User in the team (`users.user_id`).",
    "activity_id": "Id of the activity.",
    "option_id": "Id of the picklist option.",
    "option_value": "The option as users see it.",
    "option_default": "Whether the option is the field's default.",
}


# ----------------------------------------------------------------- descriptions
def table_description(t: LoadedTable) -> str:
    """What a row is, where it comes from and how it is kept current."""
    if t.parent:
        return _child_description(t, t.parent)
    entity = CATALOGUE.get(t.name)
    if entity is None and t.name.startswith(CUSTOM_PREFIX):
        return "Records of an Insightly custom object, one row per record; merged on RECORD_ID."
    per_record = next((p for p in PER_RECORD if p.table == t.name), None)
    if entity is None and per_record is not None:  # comments, file attachments (read/activity.py)
        key = ", ".join(per_record.primary_key)
        return (
            f"Insightly /{{Parent}}/{{id}}/{per_record.path} of the records that changed "
            f"(parents: {', '.join(per_record.parents)}), one row per item (key {key}); "
            "`parent_entity` and `parent_id` name the parent; merged on the key."
        )
    if entity is None:
        return "A table loaded by the Insightly pipeline."
    how = (
        "merged on the key, read incrementally by DATE_UPDATED_UTC"
        if entity.load is Load.INCREMENTAL
        else "replaced in full when read"
    )
    key = ", ".join(entity.primary_key)
    return f"Insightly /{entity.path}, one row per record (key {key}); {how}."


def _child_description(t: LoadedTable, parent: str) -> str:
    if is_versions_table(t.name):
        return (
            f"Every version of the `{parent}` records the syncs read, one row per record and "
            f"DATE_UPDATED_UTC (history); `{parent}_history` in the `_stg` schema gives each "
            "its validity window. The last version of a deleted record has `_deleted_at`."
        )
    item = ARRAY_NOTES.get(t.name[len(parent) + 2 :], "list items")
    ours = ", ".join(f"`{k}`" for k in t.parent_key)
    theirs = ", ".join(f"`{parent}.{k}`" for k in t.parent_key)
    text = f"The {item} of `{parent}`, one row per item; join {ours} to {theirs}."
    entity = entity_of(parent)
    if entity is not None and entity.load is Load.INCREMENTAL:
        text += (
            f" A record marked deleted keeps its items: leave them out where "
            f"`{parent}._deleted_at` is set."
        )
    return text


def column_description(t: LoadedTable, name: str) -> str:
    """A known column's note, the key's origin, or a generic line."""
    if name in t.parent_key:
        part = "Key" if len(t.parent_key) == 1 else "Part of the key"
        return (
            f"{part} of the `{t.parent}` record the item belongs to: "
            f"join it to `{t.parent}.{name}`."
        )
    if name.startswith("_") and name in COLUMN_NOTES:
        return COLUMN_NOTES[name]
    if t.primary_key == (name,):
        return f"Insightly's {name.upper()}, the primary key."
    if name in t.primary_key:
        return f"Insightly's {name.upper()}, part of the primary key."
    if name in COLUMN_NOTES:
        return COLUMN_NOTES[name]
    if name.endswith("_utc"):
        return "A UTC timestamp, from the Insightly API field of the same name."
    return "From the Insightly API field of the same name."


# ----------------------------------------------------------------- tests on keys
def key_expression(columns: Sequence[str], destination: str) -> str:
    """One text value per composite key, for dbt's single-column `unique` test."""
    parts: list[exp.Expression] = []
    for c in columns:
        parts += [exp.cast(column(c), "TEXT"), literal("|")]
    return render(exp.Concat(expressions=parts[:-1]), destination)


def key_tests(t: LoadedTable, destination: str) -> tuple[dict[str, list], list]:
    """Column tests and table tests that prove the natural key: `unique` and `not_null` on
    a one-column key; `not_null` on each part of a composite key and one `unique` on the
    parts joined. A table without a key has none."""
    key = t.natural_key
    if len(key) == 1:
        return {key[0]: ["unique", "not_null"]}, []
    if not key:
        return {}, []
    unique = {
        "name": f"source_unique_{SOURCE_NAME}_{t.name}_{'__'.join(key)}",
        "test_name": "unique",
        "arguments": {"column_name": key_expression(key, destination)},
    }
    return {c: ["not_null"] for c in key}, [unique]


# ----------------------------------------------------------------- the document
def _column_order(t: LoadedTable, name: str) -> tuple[int, int]:
    """Key first, then the data columns, the bookkeeping (`_dlt_load_id`, `_deleted_at`,
    ...) last; warehouse order kept within each."""
    if name in t.primary_key:
        return (0, t.primary_key.index(name))
    return (2 if name.startswith("_") else 1, 0)


def table_entry(t: LoadedTable, destination: str) -> dict[str, Any]:
    column_tests, table_tests = key_tests(t, destination)
    columns = []
    for name, data_type in sorted(t.columns, key=lambda c: _column_order(t, c[0])):
        entry = {"name": name, "description": column_description(t, name), "data_type": data_type}
        if name in column_tests:
            entry["data_tests"] = column_tests[name]
        columns.append(entry)
    entry = {"name": t.name, "description": table_description(t)}
    if table_tests:
        entry["data_tests"] = table_tests
    return {**entry, "columns": columns}


def sources_document(tables: Sequence[LoadedTable], dataset: str, destination: str) -> dict:
    source = {
        "name": SOURCE_NAME,
        "description": "Insightly CRM as loaded by the insightly-elt pipeline (dlt).",
        "schema": dataset,
        "tables": [table_entry(t, destination) for t in tables],
    }
    return {"version": 2, "sources": [source]}


def render_yaml(document: dict, dataset: str) -> str:
    header = (
        f"# Generated by `insightly dbt-sources` from the loaded schema of dataset {dataset!r}.\n"
        "# Don't edit: run `make dbt-sources` again after a sync.\n"
    )
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=4096)
    return header + body


@dataclass(frozen=True)
class SourcesReport:
    path: Path
    tables: int
    columns: int
    tests: int

    def summary(self) -> str:
        return (
            f"wrote {self.path}: {self.tables} tables, {self.columns} columns, "
            f"{self.tests} key tests"
        )


def count_tests(document: dict) -> int:
    tables = document["sources"][0]["tables"]
    per_table = sum(len(t.get("data_tests", [])) for t in tables)
    return per_table + sum(len(c.get("data_tests", [])) for t in tables for c in t["columns"])


def write_sources(
    target: Any, out: Path, dataset: str = SOURCE_NAME, destination: str | None = None
) -> SourcesReport:
    """Write `sources.yml` for a dlt pipeline's destination (or a sql client / connection,
    as `build_models` takes them)."""
    if hasattr(target, "sql_client") and hasattr(target, "destination"):
        destination = destination or target.destination.destination_name
        with target.sql_client() as client:
            return write_sources(client, out, dataset, destination)
    execute = executor(target)
    tables = loaded_tables(execute, dataset, destination or "duckdb")
    document = sources_document(tables, dataset, destination or "duckdb")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_yaml(document, dataset), encoding="utf-8")
    n_columns = sum(len(t.columns) for t in tables)
    return SourcesReport(out, len(tables), n_columns, count_tests(document))


def main(pipeline: SyncOptions, out: Path = DEFAULT_OUT) -> int:
    """`insightly dbt-sources`: write dbt sources.yml from the loaded schema of the pipeline
    `pipeline` names."""
    from insightly.sync.pipeline import make_pipeline

    try:
        report = write_sources(make_pipeline(pipeline), out, pipeline.dataset, pipeline.destination)
    except RuntimeError as exc:
        print(f"insightly dbt-sources: {exc}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0
