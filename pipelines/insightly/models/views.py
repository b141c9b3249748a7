"""The generated staging views, built as sqlglot expressions from the raw schema.

- a generic clean-up of an entity table without a hand-written model;
- `<entity>_custom_fields` and custom object views with typed custom field columns;
- `record_tags` and `record_links` over every `<entity>__tags` / `<entity>__links` table.

Child tables join their parent on the parent's key (`contacts__tags.contact_id =
contacts.contact_id`, raw.py). Children of a record marked deleted (`_deleted_at`) stay in
the raw tables; every view here leaves them out through the parent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlglot import exp

from insightly.models import custom_fields as cf
from insightly.models.dialects import column, ident, literal, render, table
from insightly.models.raw import PRIMARY_KEYS, Execute, RawSchema, join_on

BASE_CUSTOM_OBJECT_COLUMNS = (
    ("record_name", "TEXT"),
    ("owner_user_id", "BIGINT"),
    ("created_user_id", "BIGINT"),
    ("visible_to", "TEXT"),
    ("visible_team_id", "BIGINT"),
    ("date_created_utc", "TIMESTAMPTZ"),
    ("date_updated_utc", "TIMESTAMPTZ"),
)
LINK_COLUMNS = (
    ("link_id", "BIGINT"),
    ("object_name", "TEXT"),
    ("object_id", "BIGINT"),
    ("link_object_name", "TEXT"),
    ("link_object_id", "BIGINT"),
    ("role", "TEXT"),
    ("details", "TEXT"),
    ("relationship_id", "BIGINT"),
    ("is_forward", "BOOLEAN"),
)


def clean_name(raw_column: str) -> str:
    """Readable staging name: `date_created_utc` -> `created_at`, `x_date_utc` -> `x_at`."""
    if raw_column.endswith("_utc"):
        stem = raw_column[: -len("_utc")]
        stem = re.sub(r"^date_", "", stem)
        stem = re.sub(r"_date$", "", stem)
        return f"{stem}_at"
    return raw_column


def custom_object_key(name: str) -> str:
    return f"{name}_id"


def generic_staging(raw: RawSchema, name: str) -> exp.Select:
    """Clean-up of an entity table without a hand-written model: readable timestamps, no
    dlt bookkeeping, deleted records left out."""
    cols = sorted(c for c in raw.columns(name) if not c.startswith("_"))
    pk = PRIMARY_KEYS.get(name)
    cols.sort(key=lambda c: (c != pk, c))
    select = exp.select(*[column(c).as_(ident(clean_name(c))) for c in cols])
    select = select.from_(table(raw.name, name))
    if "_deleted_at" in raw.columns(name):
        select = select.where(exp.Is(this=column("_deleted_at"), expression=exp.null()))
    return select


def _or_null(raw_columns: set[str], name: str, alias: str, sql_type: str) -> exp.Expression:
    if name in raw_columns:
        return exp.cast(column(name, alias), sql_type)
    return exp.cast(exp.null(), sql_type)


def _union(selects: list[exp.Select], empty: exp.Select) -> exp.Expression:
    if not selects:
        return empty
    out: exp.Expression = selects[0]
    for s in selects[1:]:
        out = exp.union(out, s, distinct=False)
    return out


def _of_live_parents(
    select: exp.Select, raw: RawSchema, parent: str, key: Sequence[str], child: str
) -> exp.Select:
    """`select` over child table rows (alias c) joined to their parent rows (alias p) on
    the parent key, leaving out the children of records marked deleted."""
    s = select.from_(table(raw.name, child, "c")).join(
        table(raw.name, parent, "p"), on=join_on(key, "c", "p")
    )
    if "_deleted_at" not in raw.columns(parent):
        return s
    return s.where(exp.Is(this=column("_deleted_at", "p"), expression=exp.null()))


# ----------------------------------------------------------------- tags and links
def record_tags(raw: RawSchema) -> exp.Expression:
    """Each record represents one tag on one record of any entity."""
    selects = []
    for parent, pk in sorted(PRIMARY_KEYS.items()):
        child = f"{parent}__tags"
        joined = raw.join_key(child) if raw.has(child) else None
        if joined is None or joined[0] != parent or joined[1] != [pk]:
            continue
        s = exp.select(
            literal(parent).as_("record_type"),
            exp.cast(column(pk, "p"), "BIGINT").as_("record_id"),
            exp.cast(column("tag_name", "c"), "TEXT").as_("tag_name"),
        )
        selects.append(_of_live_parents(s, raw, parent, [pk], child))
    empty = exp.select(
        exp.cast(exp.null(), "TEXT").as_("record_type"),
        exp.cast(exp.null(), "BIGINT").as_("record_id"),
        exp.cast(exp.null(), "TEXT").as_("tag_name"),
    ).where(exp.false())
    return _union(selects, empty)


def _link_sides(raw: RawSchema) -> exp.Expression:
    """Every stored copy of every link (one on each record it joins), of live records."""
    selects = []
    for parent in sorted(PRIMARY_KEYS):
        child = f"{parent}__links"
        joined = raw.join_key(child) if raw.has(child) else None
        if joined is None or joined[0] != parent:
            continue
        cols = raw.columns(child)
        s = exp.select(*[_or_null(cols, n, "c", t).as_(n) for n, t in LINK_COLUMNS])
        selects.append(_of_live_parents(s, raw, parent, joined[1], child))
    empty = exp.select(*[exp.cast(exp.null(), t).as_(n) for n, t in LINK_COLUMNS]).where(
        exp.false()
    )
    return _union(selects, empty)


def record_links(raw: RawSchema, stg_schema: str) -> exp.Expression:
    """Each record represents one link between two records, once: the forward and reverse
    copies (one on each linked record) are merged, and ends are in forward order."""
    sides = _link_sides(raw)
    reverse = exp.EQ(this=exp.column("is_forward"), expression=exp.false())

    def pick(forward: str, backward: str) -> exp.Expression:
        return exp.Case(ifs=[exp.If(this=reverse.copy(), true=exp.column(backward))]).else_(
            exp.column(forward)
        )

    oriented = exp.select(
        exp.column("link_id"),
        pick("object_name", "link_object_name").as_("object_type"),
        pick("object_id", "link_object_id").as_("object_id"),
        pick("link_object_name", "object_name").as_("linked_object_type"),
        pick("link_object_id", "object_id").as_("linked_object_id"),
        exp.column("role"),
        exp.column("details"),
        exp.column("relationship_id"),
        exp.Coalesce(this=exp.column("is_forward"), expressions=[exp.true()]).as_("has_forward"),
    ).from_(exp.Subquery(this=sides, alias=exp.TableAlias(this=ident("sides"))))
    ranked = oriented.select(
        exp.Window(
            this=exp.RowNumber(),
            partition_by=[exp.column("link_id")],
            order=exp.Order(
                expressions=[
                    exp.Ordered(
                        this=exp.Coalesce(this=exp.column("is_forward"), expressions=[exp.true()]),
                        desc=True,
                    ),
                    exp.Ordered(this=exp.column("role"), nulls_first=False),
                    exp.Ordered(this=exp.column("details"), nulls_first=False),
                ]
            ),
        ).as_("_n"),
        copy=False,
    )
    rel = table(stg_schema, "relationships", "r")
    link = ("link_id", "object_type", "object_id", "linked_object_type", "linked_object_id")
    return (
        exp.select(
            *[column(c, "l") for c in (*link, "role", "details", "relationship_id")],
            column("forward_title", "r").as_("relationship_name"),
            column("reverse_title", "r").as_("reverse_relationship_name"),
        )
        .from_(exp.Subquery(this=ranked, alias=exp.TableAlias(this=ident("l"))))
        .join(
            rel,
            on=exp.EQ(
                this=column("relationship_id", "l"), expression=column("relationship_id", "r")
            ),
            join_type="left",
        )
        .where(exp.EQ(this=column("_n", "l"), expression=exp.Literal.number(1)))
    )


# ----------------------------------------------------------------- custom fields
def load_custom_fields(execute: Execute, raw: RawSchema, destination: str) -> list[cf.CustomField]:
    if not raw.has("custom_fields"):
        return []
    cols = raw.columns("custom_fields")
    if not {"object_table", "field_name"} <= cols:
        return []
    wanted = ["object_table", "field_name", "field_label", "field_type", "field_order"]
    query = exp.select(*[column(c) if c in cols else exp.null().as_(c) for c in wanted]).from_(
        table(raw.name, "custom_fields")
    )
    out = []
    for object_table, name, label, field_type, order in execute(render(query, destination)):
        if object_table and name:
            out.append(cf.CustomField(object_table, name, label, field_type, order))
    return out


def _pivot(
    raw: RawSchema,
    parent: str,
    keys: Sequence[tuple[exp.Expression, str]],
    columns: Sequence[cf.Column],
) -> exp.Select:
    child = f"{parent}__customfields"
    joined = raw.join_key(child) if raw.has(child) else None
    return cf.pivot_view(
        raw.name,
        parent,
        raw.columns(parent),
        raw.columns(child) if joined else None,
        joined[1] if joined else [],
        keys,
        columns,
    )


def custom_fields_view(raw: RawSchema, name: str, fields: Sequence[cf.CustomField]) -> exp.Select:
    """Each record represents one (not deleted) record of an entity, with typed custom
    field columns."""
    pk = PRIMARY_KEYS[name]
    columns = cf.plan_columns(fields, reserved=[pk])
    return _pivot(raw, name, [(exp.cast(column(pk, "p"), "BIGINT"), pk)], columns)


def custom_object_view(raw: RawSchema, name: str, fields: Sequence[cf.CustomField]) -> exp.Select:
    """Each record represents one record of a custom object, with typed custom fields."""
    cols = raw.columns(name)
    keys = [(exp.cast(column("record_id", "p"), "BIGINT"), custom_object_key(name))]
    keys += [(_or_null(cols, c, "p", t), clean_name(c)) for c, t in BASE_CUSTOM_OBJECT_COLUMNS]
    columns = cf.plan_columns(fields, reserved=[n for _, n in keys])
    return _pivot(raw, name, keys, columns)
