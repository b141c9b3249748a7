"""Tenant profiles: Insightly instances unlike the standard demo one (docs/emulator.md).

``EmulatorConfig.tenant`` picks one; it shapes the data, so it is fixed for an emulator's
life. The size ``profile`` still says how many records there are. A tenant is a ``Shape``:

* ``standard``: today's tenant, unchanged.
* ``empty``: a fresh instance: the API key's user and the fixed lookups, nothing else.
* ``bare``: records without tags, links, dates, e-mail domains, team members, activities
  or custom fields; those array keys are left out of the records of every second entity
  that has any (``OMITTED_ARRAYS``) and empty on the others; no custom field definitions,
  no custom objects.
* ``minimal-plan``: objects outside a small plan answer 403 (custom objects 404) on every
  path, and every ``/{Parent}/{id}/<Sub>`` read answers 404.
* ``custom-heavy``: four more custom objects, 200 custom fields of every FIELD_TYPE.
* ``odd``: nulls, text at the length limits, quotes, unicode, line breaks, custom field
  names equal once lower-cased (tenant_odd.py, tenant_fields.py).

The generator asks its ``Ctx.shape`` for the custom field table and applies ``reshape``
to each generated record before any run-time change, so writes keep working as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import customfields, tenant_fields
from .catalog import EXTRA_SPECS, SPECS, EntitySpec
from .config import TENANTS
from .gen_config import STATIC_SIZES
from .tenant_odd import reshape_odd

Reshape = Callable[[Any, EntitySpec, int, dict[str, Any]], dict[str, Any]]
ARRAY_KEYS = ("CUSTOMFIELDS", "TAGS", "LINKS", "DATES", "EMAILDOMAINS", "TEAMMEMBERS", "ACTIVITIES")
CATALOG_CUSTOM = tuple(s.name for s in SPECS if s.name.endswith("__c"))
FIXED_LOOKUPS = frozenset(STATIC_SIZES) - {"CustomObjects"}
PLAN_OBJECTS = frozenset(
    {"Contacts", "Organisations", "Leads", "Opportunities", "Tasks", "Events", "Notes"}
    | {"Emails", "Users", "Teams", "TeamMembers"}
    | FIXED_LOOKUPS
)
# bare: entities with array keys, in catalog order; every second one leaves them out.
WITH_ARRAYS = tuple(s.name for s in SPECS if any(k in s.fields for k in ARRAY_KEYS))
OMITTED_ARRAYS = frozenset(WITH_ARRAYS[1::2])


@dataclass(frozen=True)
class Shape:
    """What sets a tenant apart from the standard one."""

    name: str
    # custom field definitions; the standard tenant reads customfields.FIELDS itself
    fields: customfields.Table = field(default_factory=lambda: customfields.FIELDS)
    custom_objects: tuple[str, ...] = CATALOG_CUSTOM  # the custom objects it has
    empty: bool = False  # only the API user and the fixed lookups
    bare: bool = False  # no tags, links, dates, ... (tags_for/links_for ask)
    plan: dict[str, int] = field(default_factory=dict)  # entity -> 403/404 on every path
    sub_reads: bool = True  # GET /{Parent}/{id}/<Sub> answers (False: 404)
    reshape: Reshape | None = None  # applied to every generated record
    plan_name: str = "Enterprise"

    def specs(self) -> tuple[EntitySpec, ...]:
        """The collections this tenant serves, catalog order, then its extra objects."""
        extra = tuple(s for s in EXTRA_SPECS if s.name in self.custom_objects)
        kept = tuple(
            s for s in SPECS if s.name not in CATALOG_CUSTOM or s.name in self.custom_objects
        )
        return kept + extra

    def field_defs(self, spec: EntitySpec) -> tuple[customfields.FieldDef, ...]:
        return customfields.field_defs(spec, self.fields)

    def resolve_object(self, name: str) -> str | None:
        """FIELD_FOR of an object name, None when this tenant doesn't know the object."""
        field_for = customfields.resolve_object(name)
        extras = {s.custom_for for s in EXTRA_SPECS if s.name not in self.custom_objects}
        return None if field_for in extras else field_for

    def adjust_sizes(self, sizes: dict[str, int]) -> None:
        """Record counts as this tenant has them (``sizes`` from the profile)."""
        if self.empty:
            for name in sizes:
                if name not in FIXED_LOOKUPS:
                    sizes[name] = 0
            sizes["Users"] = 1
        for name in CATALOG_CUSTOM:
            if name not in self.custom_objects:
                sizes[name] = 0
        sizes["CustomObjects"] = len(self.custom_objects)


def _bare(ctx: Any, spec: EntitySpec, i: int, record: dict[str, Any]) -> dict[str, Any]:
    omit = spec.name in OMITTED_ARRAYS
    for name in ARRAY_KEYS:
        if name in record:
            if omit:
                del record[name]
            else:
                record[name] = []
    return record


def _minimal_plan() -> dict[str, int]:
    custom = {*CATALOG_CUSTOM, "CustomObjects"}
    return {s.name: 404 if s.name in custom else 403 for s in SPECS if s.name not in PLAN_OBJECTS}


SHAPES: dict[str, Shape] = {
    "standard": Shape("standard"),
    "empty": Shape("empty", tenant_fields.NONE, (), empty=True),
    "bare": Shape("bare", tenant_fields.NONE, (), bare=True, reshape=_bare),
    "minimal-plan": Shape("minimal-plan", plan=_minimal_plan(), sub_reads=False, plan_name="Plus"),
    "custom-heavy": Shape(
        "custom-heavy",
        tenant_fields.CUSTOM_HEAVY,
        CATALOG_CUSTOM + tuple(s.name for s in EXTRA_SPECS),
    ),
    "odd": Shape("odd", tenant_fields.ODD, reshape=reshape_odd),
}
assert tuple(SHAPES) == TENANTS


def shape(name: str) -> Shape:
    """The tenant called ``name`` (``EmulatorConfig`` has validated it)."""
    return SHAPES[name]
