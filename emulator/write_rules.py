"""What a v3.1 write body may hold, per object, as data (docs/api.md §7, §10).

* **Writable objects** and their create paths, as the v3.1 swagger gives them (Notes only
  under a parent; Emails can only be deleted).
* **Required on create**: the swagger's list minus the read-only primary key and the
  server-set timestamps it also names.
* **Server-set fields**: those the swagger leaves out of the write body, subcollections aside
  (TAGS follows the ``body_tags`` switch; LINKS, DATES and EMAILDOMAINS in a body are
  ignored: their effect there is UNCONFIRMED, and the sub-endpoints are the documented way).
* **Custom field values**: the JSON type per FIELD_TYPE, TEXT at most 255 characters,
  MULTILINETEXT 4000, AUTONUMBER not editable; the definitions are the tenant's
  (``table``, see customfields.py).

Every problem is a sentence for the 400 body; the caller decides how to answer.
"""

from __future__ import annotations

import re
from typing import Any

from .catalog import EntitySpec
from .customfields import FieldDef, Table, field_defs


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


SERVER_SET = _names(
    "DATE_CREATED_UTC DATE_UPDATED_UTC CREATED_USER_ID IMAGE_URL LAST_ACTIVITY_DATE_UTC "
    "NEXT_ACTIVITY_DATE_UTC LINKED_EMAIL_ADDRESS"
)
EXTRA_SERVER_SET: dict[str, frozenset[str]] = {
    "Leads": _names(
        "CONVERTED CONVERTED_CONTACT_ID CONVERTED_DATE_UTC CONVERTED_OPPORTUNITY_ID "
        "CONVERTED_ORGANISATION_ID"
    ),
    "Opportunities": frozenset({"PIPELINE_ID", "STAGE_ID", "PRICEBOOK_ID", "OPPORTUNITY_VALUE"}),
    "Projects": frozenset({"PIPELINE_ID", "STAGE_ID", "OPPORTUNITY_ID"}),
    "Tasks": frozenset(
        {"ASSIGNED_BY_USER_ID", "ASSIGNED_DATE_UTC", "COMPLETED_DATE_UTC", "REMINDER_SENT"}
        | {"STAGE_ID"}
    ),
    "Notes": frozenset({"OWNER_USER_ID"}),
    "Product": frozenset({"CURRENCY_CODE", "OWNER_USER_ID"}),
    "Ticket": frozenset({"TICKET_NUMBER", "SOURCE", "DATE_SOLVED_UTC", "DATE_CLOSED_UTC"}),
    "Prospect": frozenset({"LEAD_ID", "CONTACT_ID", "ORGANISATION_ID", "SCORE", "GRADE"}),
    "Quotation": _names("QUOTATION_NUMBER LINE_ITEM_COUNT SUBTOTAL TOTAL_PRICE GRAND_TOTAL"),
    "Pricebook": frozenset({"IS_STANDARD"}),
}
IGNORED_ARRAYS = frozenset({"LINKS", "DATES", "EMAILDOMAINS"})
REQUIRED: dict[str, tuple[str, ...]] = {
    "Contacts": ("FIRST_NAME",),
    "Leads": ("LAST_NAME", "LEAD_SOURCE_ID", "LEAD_STATUS_ID"),
    "Organisations": ("ORGANISATION_NAME",),
    "Opportunities": ("OPPORTUNITY_NAME",),
    "Projects": ("PROJECT_NAME", "STATUS"),
    "Tasks": ("TITLE", "COMPLETED", "OWNER_USER_ID"),
    "Events": ("START_DATE_UTC", "END_DATE_UTC"),
    "Notes": ("TITLE",),
    "Product": ("PRODUCT_NAME", "DEFAULT_PRICE", "ACTIVE"),
    "Ticket": ("SUBJECT", "TICKET_STATUS", "CONTACT_ID"),
    "Prospect": ("EMAIL_ADDRESS",),
    "Quotation": ("QUOTATION_NAME", "OPPORTUNITY_ID"),
    "Pricebook": ("NAME", "ACTIVE"),
    "custom": ("RECORD_NAME",),
}
# Objects a POST /{path} creates (Notes: only under a parent; Emails: DELETE only).
CREATABLE = frozenset(k for k in REQUIRED if k != "Notes")
UPDATABLE = CREATABLE | {"Notes"}
DELETABLE = UPDATABLE | {"Emails"}
NOTE_PARENTS = frozenset({"Contacts", "Leads", "Opportunities", "Organisations", "Projects"})
TAGGABLE = frozenset({"Contacts", "Leads", "Opportunities", "Organisations", "Projects"}) | {
    "Prospect",
    "Ticket",
    "KnowledgeArticle",
    "Emails",
}
LINKABLE = frozenset(
    {"Contacts", "Emails", "Events", "Notes", "Opportunities", "Organisations", "Projects"}
) | {"Tasks"}
# The swagger has Leads/{id}/Pipeline too, but lead records carry no PIPELINE_ID to show it.
PIPELINED = frozenset({"Opportunities", "Projects"})
LENGTHS = {"OPPORTUNITY_STATE": 20, "ROLE": 255, "DETAILS": 255, "TAG_NAME": 255}
CUSTOM_LENGTHS = {"TEXT": 255, "MULTILINETEXT": 4000}
BOOLEAN_FIELDS = _names(
    "EMAIL_OPTED_OUT COMPLETED PUBLICLY_VISIBLE OWNER_VISIBLE ALL_DAY ACTIVE IS_STANDARD "
    "USE_STANDARD_PRICE DO_NOT_EMAIL DO_NOT_CALL DO_NOT_SYNC OPTED_OUT"
)
BODY_DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def is_custom(spec: EntitySpec) -> bool:
    return spec.name.endswith("__c")


def kind_of(spec: EntitySpec) -> str:
    """The key of REQUIRED and the sets above: custom objects share one."""
    return "custom" if is_custom(spec) else spec.name


def server_set(spec: EntitySpec) -> frozenset[str]:
    return SERVER_SET | EXTRA_SERVER_SET.get(spec.name, frozenset())


def missing_required(spec: EntitySpec, body: dict[str, Any], current: dict | None) -> list[str]:
    """Required fields that end up empty: absent from a create, or set to null."""
    problems = []
    for name in REQUIRED.get(kind_of(spec), ()):
        value = body.get(name, None if current is None else current.get(name))
        if value is None or value == "":
            problems.append(f"{name} is required.")
    return problems


def field_problems(
    spec: EntitySpec, body: dict[str, Any], dropdowns: str, table: Table | None = None
) -> list[str]:
    """Type and length problems of standard fields and CUSTOMFIELDS of one body."""
    problems = []
    for name, value in body.items():
        if name == "CUSTOMFIELDS":
            problems += custom_field_problems(spec, value, dropdowns, table)
            continue
        if value is None or name in ("TAGS", *IGNORED_ARRAYS):
            continue
        if isinstance(value, list | dict):
            problems.append(f"{name}: a single value was expected.")
        elif name.endswith("_ID") and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(f"{name}: '{value}' is not a valid id.")
        elif name in BOOLEAN_FIELDS and not isinstance(value, bool):
            problems.append(f"{name}: '{value}' is not a valid boolean.")
        elif name.endswith(("_UTC", "_DATE")) and not _is_body_date(value):
            problems.append(f"{name}: '{value}' is not a valid date (yyyy-MM-dd HH:mm:ss).")
        elif isinstance(value, str) and len(value) > LENGTHS.get(name, 10_000):
            problems.append(f"{name} must be at most {LENGTHS[name]} characters.")
    return problems


def custom_field_problems(
    spec: EntitySpec, items: Any, dropdowns: str, table: Table | None = None
) -> list[str]:
    if not isinstance(items, list):
        return ["CUSTOMFIELDS must be a list of {FIELD_NAME, FIELD_VALUE}."]
    defs = {f.name.lower(): f for f in field_defs(spec, table)}
    problems = []
    for item in items:
        name = item.get("FIELD_NAME") if isinstance(item, dict) else None
        f = defs.get(str(name).lower()) if name is not None else None
        if f is None:
            problems.append(f"CUSTOMFIELDS: '{name}' is not a valid field name.")
        elif item.get("FIELD_VALUE") is not None:
            problem = value_problem(f, item["FIELD_VALUE"], dropdowns)
            if problem:
                problems.append(f"CUSTOMFIELDS {f.name}: {problem}")
    return problems


def value_problem(f: FieldDef, value: Any, dropdowns: str) -> str | None:
    """Why ``value`` cannot be stored in custom field ``f``, or None."""
    t = f.type
    if t == "AUTONUMBER":
        return "the field is not editable."
    if t == "BIT":
        return None if isinstance(value, bool) else f"'{value}' is not a boolean."
    if t in ("NUMERIC", "PERCENT"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"'{value}' is not a number."
    if t == "LOOKUP":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"'{value}' is not a record id."
    if not isinstance(value, str):
        return f"'{value}' is not text."
    if t in ("DATE", "DATETIME"):
        return None if _is_body_date(value) else f"'{value}' is not a valid date."
    if len(value) > CUSTOM_LENGTHS.get(t, 10_000):
        return f"at most {CUSTOM_LENGTHS[t]} characters."
    if dropdowns == "refused" and t in ("DROPDOWN", "MULTISELECT"):
        chosen = value.split(";") if t == "MULTISELECT" else [value]
        bad = [c for c in chosen if c not in f.options]
        if bad:
            return f"'{';'.join(bad)}' is not one of the options."
    return None


SHORT_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def widen_dates(spec: EntitySpec, body: dict[str, Any], table: Table | None = None) -> None:
    """Dates sent as yyyy-MM-dd become yyyy-MM-dd 00:00:00 (the short_dates switch)."""
    for name, value in body.items():
        if name.endswith(("_UTC", "_DATE")) and isinstance(value, str) and SHORT_DATE.match(value):
            body[name] = value + " 00:00:00"
    dates = {f.name.lower() for f in field_defs(spec, table) if f.type in ("DATE", "DATETIME")}
    for item in body.get("CUSTOMFIELDS") or []:
        if isinstance(item, dict) and str(item.get("FIELD_NAME")).lower() in dates:
            value = item.get("FIELD_VALUE")
            if isinstance(value, str) and SHORT_DATE.match(value):
                item["FIELD_VALUE"] = value + " 00:00:00"


def _is_body_date(value: Any) -> bool:
    return isinstance(value, str) and bool(BODY_DATE.match(value))


def split_locked(
    spec: EntitySpec, items: list[Any], table: Table | None = None
) -> tuple[list[Any], list[str]]:
    """CUSTOMFIELDS items without the not-editable ones (AUTONUMBER, docs/api.md §7), and the names
    of those: read-only fields like the server-set ones (the read_only_fields switch)."""
    locked = {f.name.lower(): f.name for f in field_defs(spec, table) if f.type == "AUTONUMBER"}
    kept, names = [], []
    for item in items:
        name = item.get("FIELD_NAME") if isinstance(item, dict) else None
        if isinstance(name, str) and name.lower() in locked:
            names.append(locked[name.lower()])
        else:
            kept.append(item)
    return kept, names


def canonical_custom_name(spec: EntitySpec, name: str, table: Table | None = None) -> str:
    """The FIELD_NAME as defined (names match case-insensitively)."""
    for f in field_defs(spec, table):
        if f.name.lower() == name.lower():
            return f.name
    return name
