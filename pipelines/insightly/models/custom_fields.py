"""Typed custom field columns, generated from the `/CustomFields` metadata.

Each custom field becomes one column named after its label (what users see in Insightly),
typed from FIELD_TYPE. Labels are user text: they are only ever used as quoted
identifiers (and field names only as string literals), never pasted into SQL.

Naming rules (deterministic, documented in docs/models.md):
- the column is the field's label, trimmed; an empty label falls back to the field name;
- labels that collide (case-insensitively, with each other or with the view's own columns)
  become "<label> (<field_name>)" for every field involved;
- a MULTISELECT field gives two columns: "<name>" (a list) and "<name> (text)" (the
  ';'-joined string as the API sends it);
- names longer than 63 bytes (PostgreSQL's limit) are cut and end in a hash of the field
  name, so two long labels never end up equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlglot import exp

from insightly.models.dialects import column, ident, literal, table

MAX_IDENTIFIER_BYTES = 63

# FIELD_TYPE -> kind of typed column
KINDS = {
    "TEXT": "text",
    "MULTILINETEXT": "text",
    "DROPDOWN": "text",
    "MULTISELECT": "list",
    "BIT": "boolean",
    "NUMERIC": "number",
    "PERCENT": "number",
    "DATE": "date",
    "DATETIME": "timestamp",
}
SQL_TYPES = {
    "text": "TEXT",
    "boolean": "BOOLEAN",
    "number": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}
NUMBER_PATTERN = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


@dataclass(frozen=True)
class CustomField:
    object_table: str
    field_name: str
    label: str | None
    field_type: str | None
    order: int | None = None

    @property
    def kind(self) -> str:
        return KINDS.get((self.field_type or "").upper(), "text")


@dataclass(frozen=True)
class Column:
    """One output column of a custom field view."""

    name: str
    field: CustomField
    form: str  # the kind, or "list_text" for a MULTISELECT's text form


def _fit(name: str, field_name: str) -> str:
    if len(name.encode()) <= MAX_IDENTIFIER_BYTES:
        return name
    digest = hashlib.sha1(field_name.encode()).hexdigest()[:8]
    cut = name.encode()[: MAX_IDENTIFIER_BYTES - 9].decode(errors="ignore")
    return f"{cut}~{digest}"


def sort_fields(fields: Iterable[CustomField]) -> list[CustomField]:
    return sorted(fields, key=lambda f: (f.order if f.order is not None else 10**9, f.field_name))


def plan_columns(fields: Sequence[CustomField], reserved: Iterable[str] = ()) -> list[Column]:
    """Output columns for an object's custom fields, with collisions resolved."""
    ordered = sort_fields({f.field_name: f for f in fields}.values())
    taken = {r.lower() for r in reserved}
    base = {f.field_name: ((f.label or "").strip() or f.field_name) for f in ordered}
    counts: dict[str, int] = {}
    for name in base.values():
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    out: list[Column] = []
    used: set[str] = set(taken)

    def claim(wanted: str, f: CustomField) -> str:
        name = _fit(wanted, f.field_name)
        n = 2
        while name.lower() in used:
            name = _fit(f"{wanted} #{n}", f.field_name)
            n += 1
        used.add(name.lower())
        return name

    for f in ordered:
        wanted = base[f.field_name]
        if counts[wanted.lower()] > 1 or wanted.lower() in taken:
            wanted = f"{wanted} ({f.field_name})"
        name = claim(wanted, f)
        out.append(Column(name, f, f.kind))
        if f.kind == "list":
            out.append(Column(claim(f"{name} (text)", f), f, "list_text"))
    return out


def _regexp(value: exp.Expression, pattern: str) -> exp.Expression:
    return exp.RegexpLike(this=value, expression=literal(pattern))


def typed(value: exp.Expression, form: str) -> exp.Expression:
    """The raw text value (field_value) as a typed, fail-safe expression."""
    if form == "list":
        return exp.StringToArray(this=value, expression=literal(";"))
    if form in ("text", "list_text"):
        return exp.cast(value, "TEXT")
    if form == "boolean":
        lowered = exp.Lower(this=exp.Trim(this=value.copy()))
        truthy = [literal(v) for v in ("true", "t", "1", "yes")]
        falsy = [literal(v) for v in ("false", "f", "0", "no")]
        return (
            exp.Case()
            .when(exp.In(this=lowered, expressions=truthy), exp.true())
            .when(exp.In(this=lowered.copy(), expressions=falsy), exp.false())
        )
    if form == "number":
        return exp.Case().when(
            _regexp(value, NUMBER_PATTERN),
            exp.cast(exp.Trim(this=value.copy()), "DOUBLE"),
        )
    if form in ("date", "timestamp"):
        ok = exp.and_(
            _regexp(value, DATE_PATTERN),
            exp.not_(exp.Like(this=value.copy(), expression=literal("0000%"))),
        )
        as_ts = exp.cast(value.copy(), "TIMESTAMP")
        return exp.Case().when(ok, exp.cast(as_ts, "DATE") if form == "date" else as_ts)
    raise ValueError(f"unknown form {form}")


def null_of(form: str) -> exp.Expression:
    if form == "list":
        return exp.StringToArray(this=exp.cast(exp.null(), "TEXT"), expression=literal(";"))
    sql_type = SQL_TYPES["text" if form == "list_text" else form]
    return exp.cast(exp.null(), sql_type)


def pivot_view(
    raw_schema: str,
    parent: str,
    parent_columns: set[str],
    child_columns: set[str] | None,
    parent_key: Sequence[str],
    key_columns: Sequence[tuple[exp.Expression, str]],
    columns: Sequence[Column],
) -> exp.Select:
    """SELECT of one row per (not deleted) parent record with a typed column per field.

    The values come from `<parent>__customfields`, one row per (record, field), pivoted by
    the parent key it carries (`parent_key`, e.g. `contact_id`). key_columns are
    (expression over alias "p", output name) pairs placed first. child_columns is None
    when the child table does not exist: every field column is then NULL.
    """
    fields = sort_fields({c.field.field_name: c.field for c in columns}.values())
    slot = {f.field_name: f"f{i}" for i, f in enumerate(fields)}
    child = child_columns or set()
    have_value = bool(parent_key) and {*parent_key, "field_name", "field_value"} <= child
    select = exp.select(*[e.as_(ident(n)) for e, n in key_columns])
    for c in columns:
        if have_value:
            value = typed(column(slot[c.field.field_name], "cf"), c.form)
        else:
            value = null_of(c.form)
        select = select.select(exp.alias_(value, ident(c.name)), copy=False)
    select = select.from_(table(raw_schema, parent, "p"), copy=False)
    if have_value:
        pivot = exp.select(*[column(k) for k in parent_key]).from_(
            table(raw_schema, f"{parent}__customfields")
        )
        for f in fields:
            picked = exp.Case().when(
                exp.EQ(this=column("field_name"), expression=literal(f.field_name)),
                column("field_value"),
            )
            pivot = pivot.select(exp.Max(this=picked).as_(ident(slot[f.field_name])), copy=False)
        pivot = pivot.group_by(*[column(k) for k in parent_key], copy=False)
        on = [exp.EQ(this=column(k, "cf"), expression=column(k, "p")) for k in parent_key]
        select = select.join(
            exp.Subquery(this=pivot, alias=exp.TableAlias(this=ident("cf"))),
            on=exp.and_(*on),
            join_type="left",
            copy=False,
        )
    if "_deleted_at" in parent_columns:
        select = select.where(exp.Is(this=column("_deleted_at", "p"), expression=exp.null()))
    return select
