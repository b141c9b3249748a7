"""A push's declaration: a `[pushes.<name>]` section of `.dlt/config.toml`, or the
command-line form. Everything is checked here, before the warehouse or the API is asked
anything, so that a typo is one clear line and exit code 2."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import dlt

from insightly.errors import ConfigurationError
from insightly.push.objects import NOTE_PARENTS

MODES = ("insert", "update", "upsert", "delete")
TAG_MODES = ("add", "set")
LINK_MODES = ("add", "set")
KEYS = (
    "relation",
    "object",
    "mode",
    "match",
    "id_column",
    "tags_column",
    "tags_mode",
    "links",
    "links_mode",
    "fields",
    "ignore",
    "max_mass_change",
    "parent",
    "parent_column",
)
RELATION_RE = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*){0,2}$")


@dataclass
class PushSpec:
    """What to push where: one relation of the warehouse onto one Insightly object."""

    name: str
    relation: str  # [catalog.]schema.relation, or a relation of the pipeline's dataset
    object: str  # the object's warehouse table: contacts, custom_fruit, ...
    mode: str = "upsert"
    match: str | None = None  # an API field (standard or custom) used as the match key
    id_column: str | None = None  # default: a column named like the object's key
    tags_column: str | None = None
    tags_mode: str = "add"
    links: dict[str, str] = field(default_factory=dict)  # column -> LINK_OBJECT_NAME
    # add: links are only added; set: a record's links to the objects named in `links`
    # become exactly the row's (others are removed)
    links_mode: str = "add"
    fields: dict[str, str] = field(default_factory=dict)  # column -> API field
    ignore: list[str] = field(default_factory=list)  # columns that are not fields
    max_mass_change: int | None = None  # guard rail threshold (default max(50, 5%))
    parent: str | None = None  # notes: the parent object's table (contacts, ...)
    parent_column: str | None = None  # notes: the column holding the parent's id

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        where = f"push '{self.name}'"
        if not self.relation or not RELATION_RE.match(self.relation):
            raise ConfigurationError(
                f"{where}: relation must be a table or view name such as "
                f"analytics.lead_scores, got {self.relation!r}"
            )
        if not self.object:
            raise ConfigurationError(f"{where}: object is missing (contacts, leads, ...)")
        if self.mode not in MODES:
            raise ConfigurationError(
                f"{where}: mode must be one of {', '.join(MODES)}, got {self.mode!r}"
            )
        if self.tags_mode not in TAG_MODES:
            raise ConfigurationError(
                f"{where}: tags_mode must be add or set, got {self.tags_mode!r}"
            )
        if self.links_mode not in LINK_MODES:
            raise ConfigurationError(
                f"{where}: links_mode must be add or set, got {self.links_mode!r}"
            )
        if self.links_mode == "set" and not self.links:
            raise ConfigurationError(f"{where}: links_mode = set needs links to set")
        if self.max_mass_change is not None and self.max_mass_change < 0:
            raise ConfigurationError(f"{where}: max_mass_change must be 0 or more")
        for name, value in (("links", self.links), ("fields", self.fields)):
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise ConfigurationError(f"{where}: {name} must map column names to names")
        if (self.parent is None) != (self.parent_column is None):
            raise ConfigurationError(f"{where}: parent and parent_column go together")
        if self.object == "notes" and self.mode in ("insert", "upsert") and not self.parent:
            raise ConfigurationError(
                f"{where}: notes are created under a parent: set parent (contacts, leads, "
                "opportunities, organisations or projects) and parent_column"
            )
        if self.parent and (self.object != "notes" or self.parent not in NOTE_PARENTS):
            raise ConfigurationError(
                f"{where}: parent is for notes, under {', '.join(NOTE_PARENTS)}"
            )


def _typed(name: str, key: str, value: Any) -> Any:
    if key == "max_mass_change" and value is not None:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                f"push '{name}': max_mass_change must be a whole number, got {value!r}"
            ) from None
    if key == "ignore" and isinstance(value, str):
        return [c.strip() for c in value.split(",") if c.strip()]
    if key in ("links", "fields") and value is not None:
        return dict(value)
    return value


def from_config(name: str) -> PushSpec:
    """`[pushes.<name>]` from dlt's providers (environment first: PUSHES__<NAME>__MODE)."""
    if not re.match(r"^[A-Za-z0-9_]+$", name):
        raise ConfigurationError(f"a push name is letters, digits and _, got {name!r}")
    section = dlt.config.get(f"pushes.{name}")
    if not isinstance(section, dict):
        declared = dlt.config.get("pushes")
        known = ", ".join(sorted(declared)) if isinstance(declared, dict) else "none"
        raise ConfigurationError(
            f"no push named '{name}': declare [pushes.{name}] in .dlt/config.toml "
            f"(declared: {known}), or use --object and --from"
        )
    unknown = sorted(set(section) - set(KEYS))
    if unknown:
        raise ConfigurationError(
            f"push '{name}': unknown setting(s) {', '.join(unknown)}; known: {', '.join(KEYS)}"
        )
    values: dict[str, Any] = {}
    for key in KEYS:
        value = dlt.config.get(f"pushes.{name}.{key}")
        if value is None:
            value = section.get(key)
        if value is not None:
            values[key] = _typed(name, key, value)
    return PushSpec(name=name, **{k: v for k, v in values.items()})


def from_arguments(
    object_table: str,
    relation: str,
    mode: str,
    match: str | None,
    tags_column: str | None,
    tags_mode: str,
) -> PushSpec:
    """The command-line form; its name is `<object>__<relation>`."""
    short = relation.rsplit(".", 1)[-1]
    return PushSpec(
        name=f"{object_table}__{short}",
        relation=relation,
        object=object_table,
        mode=mode,
        match=match,
        tags_column=tags_column,
        tags_mode=tags_mode,
    )
