"""Custom field tables of the tenants that differ from the standard one (tenants.py).

* custom-heavy: the standard fields, more on contacts, organisations and opportunities,
  and 25 on each of the four extra custom objects (``catalog.EXTRA_SPECS``): 200 fields in
  all, every FIELD_TYPE on every extra object, lookups between the custom objects.
* odd: the standard fields plus names that collide once lower-cased on the same object
  (``Score__c`` / ``score__c`` on contacts, ``Region__c`` / ``REGION__C`` on
  organisations), with labels holding quotes, a line break and non-ASCII characters.
"""

from __future__ import annotations

from .catalog import EXTRA_SPECS
from .customfields import FIELD_TYPES, FIELDS, LOOKUP_TYPE, FieldDef, Table

CUSTOM_HEAVY_TOTAL = 200
PER_EXTRA_OBJECT = 25
SLUGS = {
    "TEXT": "Text", "MULTILINETEXT": "Notes", "DROPDOWN": "Choice", "MULTISELECT": "Choices",
    "BIT": "Flag", "NUMERIC": "Number", "PERCENT": "Share", "DATE": "Date",
    "DATETIME": "Moment", "URL": "Link", "AUTONUMBER": "Ref", LOOKUP_TYPE: "Related",
}  # fmt: skip
JOINS = ("Contact", "Organisation", "Fruit__c", *(s.name for s in EXTRA_SPECS))


def generated_fields(prefix: str, label: str, count: int, start: int = 0) -> tuple[FieldDef, ...]:
    """``count`` fields named ``{prefix}_{Slug}_{nn}__c``, cycling through FIELD_TYPES."""
    out = []
    for n in range(count):
        t = FIELD_TYPES[(start + n) % len(FIELD_TYPES)]
        name = f"{prefix}_{SLUGS[t]}_{n + 1:02d}__c"
        kw: dict = {}
        if t == "DROPDOWN":
            kw["options"] = ("Option A", "Option B", "Option C", "Option D")
        elif t == "MULTISELECT":
            kw["options"] = ("Red", "Green", "Blue", "Yellow", "Black")
        elif t == "BIT":
            kw["default"] = "False"
        elif t == "NUMERIC":
            kw.update(lo=0, hi=10_000, decimals=n % 3)
        elif t == "PERCENT":
            kw.update(lo=0, hi=100, decimals=1)
        elif t == "AUTONUMBER":
            kw["prefix"] = f"{prefix[:3].upper()}{n + 1}-"
        elif t == LOOKUP_TYPE:
            kw["join"] = JOINS[(start + n) % len(JOINS)]
        out.append(FieldDef(name, f"{label} {SLUGS[t]} {n + 1:02d}", t, **kw))
    return tuple(out)


def _custom_heavy() -> dict[str, tuple[FieldDef, ...]]:
    table = dict(FIELDS)
    for k, s in enumerate(EXTRA_SPECS):
        label = s.name[:-3].replace("_", " ")
        table[s.custom_for or ""] = generated_fields(s.name[:-3], label, PER_EXTRA_OBJECT, k)
    extra = {"CONTACT": 15, "ORGANISATION": 12}
    extra["OPPORTUNITY"] = max(
        1, CUSTOM_HEAVY_TOTAL - sum(map(len, table.values())) - sum(extra.values())
    )
    for field_for, count in extra.items():
        more = generated_fields(field_for.title(), f"Extra {field_for.lower()}", count, 5)
        table[field_for] = (*FIELDS.get(field_for, ()), *more)
    return table


def _odd() -> dict[str, tuple[FieldDef, ...]]:
    table = dict(FIELDS)
    table["CONTACT"] = (
        *FIELDS["CONTACT"],
        FieldDef("Score__c", "Score", "NUMERIC", lo=0, hi=100),
        FieldDef("score__c", 'score "raw"\nlegacy – ünïcode 🚀', "TEXT", pool=("a", "b")),
    )
    table["ORGANISATION"] = (
        *FIELDS["ORGANISATION"],
        FieldDef("Region__c", "Region", "DROPDOWN", options=("North", "South")),
        FieldDef("REGION__C", "REGION (import, 'old')", "TEXT", pool=("N", "S")),
    )
    return table


CUSTOM_HEAVY: Table = _custom_heavy()
ODD: Table = _odd()
NONE: Table = {}
