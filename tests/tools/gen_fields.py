"""Writes `pipelines/insightly/catalogue/fields.py`: every documented field of every entity, typed.

The field names are the record shapes the emulator serves (the v3.1 field lists,
every key present on every record, nested arrays included). The types are the ones the
loads before the Arrow path inferred from non-null values, read off a demo warehouse
written by that version (`make demo` at 661a0d3, DuckDB types mapped to dlt's); a field that
was null in every demo record gets the same rule those types follow: `*_ID` and counts
bigint, `*_UTC` timestamp, the rest text.

    python -m tests.tools.gen_fields /path/to/old/demo.duckdb

Without the old demo (`python -m tests.tools.gen_fields`), the tables fields.py already
declares keep their types, and a table it does not have yet gets each field's type from
the demo tenant's values (all booleans: bool, all integers: bigint, numbers: double,
`*_UTC` text: timestamp, other text: text), or the rule above where every value is null.
The per-record lists (comments, file attachments) are sampled from the first parents that
have items.
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.request
from pathlib import Path

import duckdb

from insightly.catalogue.entities import CUSTOM_FIELDS, CUSTOM_OBJECTS, ENTITIES, PER_RECORD, TAGS
from insightly.catalogue.fields import FIELDS
from insightly_emulator import Emulator, EmulatorConfig

OUT = Path(__file__).parents[2] / "pipelines" / "insightly" / "catalogue" / "fields.py"
DUCK_TO_DLT = {
    "BIGINT": "bigint",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "BOOLEAN": "bool",
    "DOUBLE": "double",
    "VARCHAR": "text",
    "JSON": "json",
}
KEY = "gen-fields"


def rule(field: str) -> str:
    if field.endswith("_UTC"):
        return "timestamp"
    if field.endswith("_ID") or field.endswith("_COUNT"):
        return "bigint"
    return "text"


def norm(name: str) -> str:
    from dlt.common.normalizers.naming.snake_case import NamingConvention

    return NamingConvention().normalize_identifier(name)


def get(root: str, path: str) -> list[dict]:
    token = base64.b64encode(f"{KEY}:".encode()).decode()
    out: list[dict] = []
    skip = 0
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{root}/v3.1/{path}{sep}top=500&skip={skip}"
        req = urllib.request.Request(url, headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(req) as resp:
            page = json.loads(resp.read())
        if isinstance(page, dict):  # Instance, Permissions: one object
            return [page]
        out += page
        if len(page) < 500 or ("?" not in path and path in ("Countries", "Currencies")):
            return out
        skip += 500


def inferred(field: str, values: list) -> str:
    """A field's type from its non-null values (for tables the old demo did not have)."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return rule(field)
    if kinds == {bool}:
        return "bool"
    if kinds == {int}:
        return "bigint"
    if kinds <= {int, float}:
        return "double"
    if kinds == {str}:
        return "timestamp" if field.endswith("_UTC") else "text"
    return "json"


def declared_types() -> dict[tuple[str, str], str]:
    """The types fields.py declares now, keyed like the old demo's columns."""
    typed = {}
    for name, fields in FIELDS.items():
        table, _, array = name.partition(".")
        probe = "custom_fruit" if table == "custom_object_records" else table
        if array:
            probe = f"{probe}__{norm(array)}"
        typed.update({(probe, norm(k)): t for k, t in fields.items()})
    return typed


def per_record_samples(root: str, records: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Items of each per-record list, from up to 40 parents of each parent entity."""
    paths = {e.table: e.path for e in ENTITIES}
    samples: dict[str, list[dict]] = {}
    for kind in PER_RECORD:
        items: list[dict] = []
        for parent in kind.parents:
            key = next(e.primary_key[0] for e in ENTITIES if e.table == parent)
            for record in records[parent][:40]:
                items += [
                    {**i, "PARENT_ENTITY": parent, "PARENT_ID": record[key]}
                    for i in get(root, f"{paths[parent]}/{record[key]}/{kind.path}")
                ]
        samples[kind.table] = items
    return samples


def render(tables: dict[str, dict[str, str]]) -> str:
    """fields.py's text: nested lists that are the same for every entity written once."""
    shared: dict[str, dict[str, str]] = {}
    for name, fields in tables.items():
        array = name.partition(".")[2]
        if array and all(f == fields for n, f in tables.items() if n.partition(".")[2] == array):
            shared[array] = fields
    lines = [
        '"""Every documented field of every entity and nested list, with its column type.',
        "",
        "Generated by `tests/tools/gen_fields.py` (see there how); edit by hand only to add a",
        "field the API documents. Declared so that every field lands as a column from the first",
        "load, null or not, with a stable type (dlt skips all-null columns and infers the rest).",
        '"""',
        "",
    ]
    for array, fields in shared.items():
        lines.append(f"_{array} = {{")
        lines += [f"    {k!r}: {t!r}," for k, t in fields.items()]
        lines += ["}", ""]
    lines += [
        "# table (or `table.ARRAY` for a nested list) -> API field -> dlt data type",
        "FIELDS: dict[str, dict[str, str]] = {",
    ]
    for table, fields in tables.items():
        array = table.partition(".")[2]
        if array in shared:
            lines.append(f"    {table!r}: _{array},")
            continue
        lines.append(f"    {table!r}: {{")
        lines += [f"        {k!r}: {t!r}," for k, t in fields.items()]
        lines.append("    },")
    lines.append("}")
    return "\n".join(lines).replace("'", '"') + "\n"


def main(old_demo: str | None = None) -> None:
    if old_demo:
        con = duckdb.connect(old_demo, read_only=True)
        typed = {
            (t, c): DUCK_TO_DLT.get(d, "text")
            for t, c, d in con.execute(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_schema = 'insightly'"
            ).fetchall()
        }
    else:
        typed = declared_types()
    tables: dict[str, dict[str, str]] = {}
    config = EmulatorConfig(seed=7, profile="demo", api_key=KEY)
    with Emulator(config) as emu:
        root = emu.url.rstrip("/")
        sources = [(e.table, e.path + ("?brief=false" if e.brief_param else "")) for e in ENTITIES]
        sources += [
            (TAGS.table, "Tags?record_type=contacts"),
            (CUSTOM_OBJECTS.table, "CustomObjects"),
        ]
        sources += [(CUSTOM_FIELDS.table, "CustomFields/Contacts")]
        sources += [("custom_object_records", "Fruit__c?brief=false")]
        fetched = {table: get(root, path) for table, path in sources}
        fetched.update(per_record_samples(root, fetched))
        arrays = {e.table: e.arrays for e in (*ENTITIES, TAGS, CUSTOM_OBJECTS, CUSTOM_FIELDS)}
        arrays["custom_object_records"] = ("CUSTOMFIELDS",)
        for table, records in fetched.items():
            if table == TAGS.table:
                records = [{**r, "RECORD_TYPE": "contacts"} for r in records]
            if table == CUSTOM_FIELDS.table:
                records = [{**r, "OBJECT_TABLE": "contacts"} for r in records]
            tables.update(table_fields(table, records, typed, arrays.get(table, ())))
    OUT.write_text(render(tables))
    print(f"wrote {OUT}: {len(tables)} tables")


def table_fields(
    table: str, records: list[dict], typed: dict[tuple[str, str], str], arrays: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    """The fields of a table and of each nested list it has a child table for, typed; a
    list the catalogue keeps in the row (Permissions' OBJECT_PERMISSIONS) is JSON."""
    keys: dict[str, list] = {}
    nested: dict[str, dict[str, list]] = {}
    for r in records:
        for k, v in r.items():
            keys.setdefault(k, []).append(v)
            if isinstance(v, list) and k in arrays:
                for item in v:
                    if isinstance(item, dict):
                        for ik, iv in item.items():
                            nested.setdefault(k, {}).setdefault(ik, []).append(iv)
    probe = "custom_fruit" if table == "custom_object_records" else table
    known = any(t == probe for t, _ in typed)
    fields = {}
    for k, values in keys.items():
        if k in nested or k in ("CUSTOMFIELDS", "TAGS", "LINKS", "DATES", "EMAILDOMAINS"):
            continue
        fields[k] = typed.get((probe, norm(k)), rule(k) if known else inferred(k, values))
    out = {table: fields}
    for array, items in nested.items():
        child = f"{probe}__{norm(array)}"
        known_child = any(t == child for t, _ in typed)
        out[f"{table}.{array}"] = {
            k: typed.get((child, norm(k)), rule(k) if known_child else inferred(k, v))
            for k, v in items.items()
        }
    return out


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
