"""Which column of the relation is which API field. A column named like a standard field
maps to it, case-insensitively (`email_address` -> EMAIL_ADDRESS); a custom field maps by
its FIELD_NAME or its label (`lead_score` or "Lead Score" -> Lead_Score__c); `fields` in
the push's config names the rest. A column nothing claims is an error, not a silent skip:
a misspelt column would otherwise never reach Insightly."""

from __future__ import annotations

from dataclasses import dataclass, field

from insightly.errors import ConfigurationError
from insightly.push.config import PushSpec
from insightly.push.objects import EMAIL_FIELD, SINGULAR, Target
from insightly.push.snapshot import CustomField, column

# These have no natural key: a custom external id, or a TITLE the model makes unique.
CUSTOM_KEY_ONLY = frozenset({"tasks", "events"})


@dataclass(frozen=True)
class MatchKey:
    """The field rows are matched on, and how its values compare."""

    field: str
    custom: bool
    column: str

    @property
    def folds_case(self) -> bool:
        """E-mail addresses match whatever their case; other keys match exactly."""
        return "EMAIL" in self.field.upper()


@dataclass
class Mapping:
    """The relation's columns sorted into fields, the id, tags, links and parent."""

    standard: dict[str, str] = field(default_factory=dict)  # column -> API field
    custom: dict[str, CustomField] = field(default_factory=dict)  # column -> custom field
    id_column: str | None = None
    tags_column: str | None = None
    links: dict[str, str] = field(default_factory=dict)  # column -> LINK_OBJECT_NAME
    parent_column: str | None = None
    match: MatchKey | None = None

    def key_of(self, row: dict) -> str:
        """The row's key in results and the journal: its id, else its match value."""
        if self.id_column and row.get(self.id_column) is not None:
            return f"id:{row[self.id_column]}"
        if self.match is not None:
            return f"{self.match.field}:{row.get(self.match.column)}"
        return "?"


def _find(name: str, target: Target, customs: dict[str, CustomField]) -> str | CustomField | None:
    upper = name.upper()
    for api in target.fields:
        if api.upper() == upper:
            return api
    for custom in customs.values():
        if custom.name.upper() == upper:
            return custom
    for custom in customs.values():
        label = custom.label.strip()
        if label.upper() == upper or column(label) == column(name):
            return custom
    return None


def build(
    spec: PushSpec, columns: list[str], target: Target, customs: dict[str, CustomField]
) -> Mapping:
    """Sort the relation's columns; every problem is a ConfigurationError naming the fix."""
    where = f"push '{spec.name}'"
    present = set(columns)
    declared = [spec.id_column, spec.tags_column, spec.parent_column, *spec.links, *spec.fields]
    missing = sorted(c for c in declared if c and c not in present)
    if missing:
        raise ConfigurationError(
            f"{where}: {spec.relation} has no column(s) {', '.join(missing)} "
            f"(it has {', '.join(columns)})"
        )
    mapping = Mapping(tags_column=spec.tags_column, parent_column=spec.parent_column)
    mapping.id_column = spec.id_column or next(
        (c for c in columns if c.upper() == target.key), None
    )
    _links(spec, target, mapping)
    if spec.tags_column and not target.has_tags:
        raise ConfigurationError(f"{where}: {target.table} have no tags in the API")
    skip = {mapping.id_column, spec.tags_column, spec.parent_column, *spec.links, *spec.ignore}
    unclaimed = []
    for name in columns:
        if name in skip:
            continue
        found = _find(spec.fields.get(name, name), target, customs)
        if found is None:
            if name in spec.fields:
                raise ConfigurationError(
                    f"{where}: fields maps {name} to {spec.fields[name]}, which is neither a "
                    f"standard field of {target.table} nor one of its custom fields"
                )
            unclaimed.append(name)
        elif isinstance(found, CustomField):
            mapping.custom[name] = found
        else:
            mapping.standard[name] = found
    if unclaimed and spec.mode != "delete":
        raise ConfigurationError(
            f"{where}: column(s) {', '.join(unclaimed)} match no field of {target.table}: "
            'name them in `fields = {column = "FIELD"}` or list them in `ignore`'
        )
    if spec.mode != "delete":
        _read_only(where, mapping, target)
    mapping.match = _match(spec, target, customs, mapping)
    return mapping


def _links(spec: PushSpec, target: Target, mapping: Mapping) -> None:
    if not spec.links:
        return
    if not target.has_links:
        raise ConfigurationError(f"push '{spec.name}': {target.table} have no links in the API")
    known = set(SINGULAR.values())
    for col, name in spec.links.items():
        if name not in known:
            raise ConfigurationError(
                f"push '{spec.name}': links.{col} must name a singular object "
                f"({', '.join(sorted(known))}), got {name!r}"
            )
    mapping.links = dict(spec.links)


def _read_only(where: str, mapping: Mapping, target: Target) -> None:
    bad = [f"{c} -> {f}" for c, f in mapping.standard.items() if f in target.read_only]
    bad += [f"{c} -> {f.name}" for c, f in mapping.custom.items() if not f.editable]
    if bad:
        raise ConfigurationError(
            f"{where}: read-only field(s) cannot be pushed: {', '.join(bad)} "
            "(the server sets them); drop the column or list it in `ignore`"
        )


def _match(
    spec: PushSpec, target: Target, customs: dict[str, CustomField], mapping: Mapping
) -> MatchKey | None:
    where = f"push '{spec.name}'"
    name = spec.match
    if name is None:
        if spec.mode in ("insert", "upsert"):
            hint = EMAIL_FIELD.get(target.table, "a custom field used as an external id")
            raise ConfigurationError(
                f"{where}: {spec.mode} needs a match key that Search can query "
                f'(match = "{hint}"), so that a create whose answer was lost is found '
                "instead of sent twice"
            )
        if mapping.id_column is None:
            raise ConfigurationError(
                f"{where}: {spec.mode} needs a column {column(target.key)} or a match key"
            )
        return None
    found = _find(name, target, customs)
    if found is None:
        raise ConfigurationError(f"{where}: match {name!r} is no field of {target.table}")
    if isinstance(found, CustomField):
        key_column = next((c for c, f in mapping.custom.items() if f == found), None)
        key = MatchKey(found.name, True, key_column or "")
    else:
        if found in target.read_only:
            raise ConfigurationError(f"{where}: match {found} is read-only")
        if target.table in CUSTOM_KEY_ONLY and found != "TITLE":
            raise ConfigurationError(
                f"{where}: {target.table} have no natural key: match them on a custom field "
                "used as an external id, or on a TITLE the model makes unique"
            )
        key_column = next((c for c, f in mapping.standard.items() if f == found), None)
        key = MatchKey(found, False, key_column or "")
    if not key.column:
        raise ConfigurationError(f"{where}: {spec.relation} has no column for match {key.field}")
    return key
