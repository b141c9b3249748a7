"""The odd tenant's records (tenants.py): nulls wherever a field may be null, and free
text at the length limits full of quotes, unicode and line breaks.

Records of every entity but the fixed lookups, TeamMembers and Follows alternate by index:

* even index, a *null record*: every field is null except the primary key,
  DATE_CREATED_UTC / DATE_UPDATED_UTC, the fields a create requires
  (``write_rules.REQUIRED``), booleans, arrays, OWNER_USER_ID, CREATED_USER_ID,
  VISIBLE_TO, OPPORTUNITY_STATE and a child record's parent key; every custom field value
  is null except AUTONUMBER.
* odd index, a *text record*: every free-text field (names, titles, subjects, locations,
  addresses, phone numbers, descriptions, bodies; not dates, enumerations, e-mail
  addresses, URLs or ids) is filled to its limit: 255 characters for names and other
  short text, 4,000 for descriptions and bodies; custom TEXT values to 255, MULTILINETEXT
  to 4,000 (``write_rules.CUSTOM_LENGTHS``). Each starts with ``'``, ``"``, ``\\``, an
  emoji, Hebrew and Arabic (right-to-left), a combining accent, ``\\n`` and ``\\r\\n``.

The text is a window onto a fixed string at an offset drawn from (seed, entity, index,
field), so it is deterministic and cheap.
"""

from __future__ import annotations

from typing import Any

from .catalog import EntitySpec
from .gen_config import STATIC_SIZES
from .rand import key
from .tenant_fields import ODD
from .write_rules import BOOLEAN_FIELDS, CUSTOM_LENGTHS, REQUIRED, kind_of

SHORT, LONG = 255, 4000
HEAD = 'O\'Brien "the \\ one" Zoë 🚀 שלום مرحبا e\u0301\nline two\r\nline three: '
PIECES = (
    "O'Reilly", '"quoted"', "back\\slash", "Ærøskøbing", "İstanbul", "straße", "👩‍💻", "🇩🇪",
    "😀", "עברית", "العربية", "n\u0303o", "Z\u0335a\u0336l\u0337g\u0338o", "中文", "日本語",
    "한국어", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\t", "\n", "\r\n", "<b>&amp;</b>", "100 %", "; DROP TABLE x; --",
)  # fmt: skip
BASE = " ".join(PIECES[(k * 7) % len(PIECES)] for k in range(1200))
SKIPPED = frozenset(STATIC_SIZES) | {"TeamMembers", "Follows"}
KEPT = frozenset(
    {"DATE_CREATED_UTC", "DATE_UPDATED_UTC", "OWNER_USER_ID", "CREATED_USER_ID"}
    | {"VISIBLE_TO", "OPPORTUNITY_STATE"}
)
PARENT_KEYS = {
    "Milestones": ("PROJECT_ID",),
    "OpportunityLineItem": ("OPPORTUNITY_ID",),
    "QuotationLineItem": ("QUOTE_ID",),
    "PricebookEntry": ("PRICEBOOK_ID", "PRODUCT_ID"),
}
NOT_TEXT = frozenset({"OBJECT_NAME", "RELATED_OBJECT_NAME", "URL_SLUG"})
SHORT_TEXT = frozenset(
    {"NAME", "SALUTATION", "LOCATION", "INDUSTRY", "MOBILE", "FAX", "PRODUCT_CODE"}
    | {"PRODUCT_SKU", "QUOTATION_PHONE"}
)
LONG_ENDINGS = ("BACKGROUND", "DETAILS", "DESCRIPTION", "BODY", "Body", "MESSAGE", "BodyHtml")
SHORT_ENDINGS = ("_NAME", "TITLE", "Title", "SUBJECT")


def text_limit(field: str) -> int | None:
    """The length an odd text record fills ``field`` to, or None when it isn't free text."""
    if field in NOT_TEXT:
        return None
    if field.endswith(LONG_ENDINGS):
        return LONG
    if field.endswith(SHORT_ENDINGS) or field in SHORT_TEXT:
        return SHORT
    if field.startswith(("ADDRESS_", "PHONE")) and not field.endswith("_COUNTRY"):
        return SHORT
    return None


def odd_text(seed: int, entity: str, index: int, field: str, limit: int) -> str:
    """``limit`` characters: HEAD, then a seeded window onto BASE (repeated as needed)."""
    start = key(seed, "odd", entity, index, field) % len(BASE)
    body = BASE[start:] + " " + BASE
    while len(HEAD) + len(body) < limit:
        body += " " + BASE
    return (HEAD + body)[:limit]


class OddPlan:
    """What the odd transform does to one entity, worked out once."""

    def __init__(self, spec: EntitySpec) -> None:
        keep = KEPT | set(REQUIRED.get(kind_of(spec), ())) | set(PARENT_KEYS.get(spec.name, ()))
        self.nulled = tuple(
            f for f in spec.fields if f != spec.pk and f not in keep and f not in BOOLEAN_FIELDS
        )
        self.text = tuple((f, n) for f in spec.fields if (n := text_limit(f)) is not None)
        self.custom_types = {f.name: f.type for f in ODD.get(spec.custom_for or "", ())}


_PLANS: dict[str, OddPlan] = {}


def reshape_odd(ctx: Any, spec: EntitySpec, i: int, record: dict[str, Any]) -> dict[str, Any]:
    """The odd version of a generated record (before any change made at run time)."""
    if spec.name in SKIPPED:
        return record
    plan = _PLANS.get(spec.name)
    if plan is None:
        plan = _PLANS[spec.name] = OddPlan(spec)
    custom, types = record.get("CUSTOMFIELDS"), plan.custom_types
    if i % 2 == 0:
        for name in plan.nulled:
            if not isinstance(record.get(name), bool | list):
                record[name] = None
        if custom:
            record["CUSTOMFIELDS"] = [
                c if types.get(c["FIELD_NAME"]) == "AUTONUMBER" else {**c, "FIELD_VALUE": None}
                for c in custom
            ]
        return record
    for name, limit in plan.text:
        record[name] = odd_text(ctx.seed, spec.name, i, name, limit)
    if custom:
        out = []
        for c in custom:
            limit = CUSTOM_LENGTHS.get(types.get(c["FIELD_NAME"], ""))
            if limit:
                c = {**c, "FIELD_VALUE": odd_text(ctx.seed, spec.name, i, c["FIELD_NAME"], limit)}
            out.append(c)
        record["CUSTOMFIELDS"] = out
    return record
