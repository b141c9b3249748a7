"""Custom field definitions (``/CustomFields/{obj}``) and their per-record values.

Covers every FIELD_TYPE of docs/api.md §7 with the JSON type the API uses for FIELD_VALUE:
strings for TEXT/MULTILINETEXT/DROPDOWN/URL/AUTONUMBER, a ';'-joined string for
MULTISELECT, JSON booleans for BIT, numbers (int when integral, else float) for
NUMERIC/PERCENT, 'YYYY-MM-DD HH:MM:SS' for DATE/DATETIME, and the linked record's id for a
LOOKUP (with JOIN_OBJECT in the metadata; that FIELD_TYPE string is UNCONFIRMED).
Contacts also carry a legacy name (CONTACT_FIELD_3) and labels with spaces, quotes and
non-ASCII characters.  About 15 % of values are unset.

``FIELDS`` is the standard tenant's table; other tenants (tenants.py) bring their own,
so the functions here take a ``table`` (None: ``FIELDS``, read when called).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import EXTRA_SPECS, SPECS, EntitySpec
from .generator import Ctx
from .rand import DAY, Rand, fmt_day, fmt_ts, rand
from .vocab import COLORS, SENTENCES, WORDS

UNSET_SHARE = 0.15
LOOKUP_TYPE = "LOOKUP"
# Every FIELD_TYPE the emulator serves (values in ``_value``).
FIELD_TYPES = (
    "TEXT", "MULTILINETEXT", "DROPDOWN", "MULTISELECT", "BIT", "NUMERIC", "PERCENT", "DATE",
    "DATETIME", "URL", "AUTONUMBER", LOOKUP_TYPE,
)  # fmt: skip
JOIN_TARGETS = {
    "Organisation": "Organisations",
    "Contact": "Contacts",
    "Project": "Projects",
    "Fruit__c": "Fruit__c",
    **{s.name: s.name for s in EXTRA_SPECS},
}
Table = Mapping[str, tuple["FieldDef", ...]]  # FIELD_FOR -> definitions, in FIELD_ORDER


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: str
    options: tuple[str, ...] = ()
    default: str | None = None
    help: str | None = None
    join: str | None = None  # JOIN_OBJECT for lookups
    lo: float = 0.0  # NUMERIC range
    hi: float = 1000.0
    decimals: int = 0
    pool: tuple[str, ...] = ()  # TEXT values
    prefix: str = ""  # AUTONUMBER display prefix
    depends_on: str | None = None  # controlling DROPDOWN field name


def _d(name: str, label: str, type_: str, **kw: Any) -> FieldDef:
    return FieldDef(name, label, type_, **kw)


HOBBIES = ("Skiing", "Chess", "Sailing", "Photography", "Running", "Cooking", "Golf", "Jazz")
FIELDS: dict[str, tuple[FieldDef, ...]] = {
    "CONTACT": (
        _d("Hobby__c", "Hobby", "TEXT", pool=HOBBIES),
        _d("Interests__c", "Interests", "MULTISELECT",
           options=("Art", "Food", "Music", "Sports", "Technology", "Travel")),
        _d("Newsletter_Subscription__c", "Newsletter Subscription", "BIT", default="False"),
        _d("Preferred_Contact_Method__c", "Preferred Contact Method", "DROPDOWN",
           options=("Email", "Phone", "SMS", "WhatsApp")),
        _d("Customer_Since__c", "Customer Since", "DATE"),
        _d("Last_Review__c", "Last Review (UTC)", "DATETIME"),
        _d("Internal_Notes__c", "Internal Notes", "MULTILINETEXT"),
        _d("Employees_Managed__c", "Employees Managed", "NUMERIC", default="0", lo=0, hi=250),
        _d("Lifetime_Value__c", "Lifetime Value", "NUMERIC", lo=0, hi=250000, decimals=2),
        _d("Discount_Rate__c", "Discount Rate", "PERCENT", lo=0, hi=40, decimals=1),
        _d("Member_Number__c", "Member Number", "AUTONUMBER", prefix="M-"),
        _d("Homepage__c", "Homepage", "URL"),
        _d("Referred_By__c", "Referred By", LOOKUP_TYPE, join="Organisation"),
        _d("CONTACT_FIELD_3", "Region (legacy)", "TEXT",
           pool=("EMEA", "AMER", "APAC", "LATAM")),
        _d("Kundenzufriedenheit__c", 'Kundenzufriedenheit "NPS" ✓', "NUMERIC", lo=-100,
           hi=100, help="Net Promoter Score aus der Umfrage (−100 … 100)"),
        _d("Customer_Tier__c", "Customer's \"Tier\" (A–C)", "DROPDOWN",
           options=("A", "B", "C")),
        # what README's push example writes: a score computed in the warehouse (last, so
        # the values drawn for the fields before it are unchanged)
        _d("Lead_Score__c", "Lead Score", "NUMERIC", lo=0, hi=100),
    ),
    "LEAD": (
        _d("Budget__c", "Budget", "NUMERIC", lo=1000, hi=500000, decimals=2),
        _d("Timeline__c", "Timeline", "DROPDOWN", options=("This quarter", "Next quarter",
                                                           "This year", "Unknown")),
        _d("Timeline_Detail__c", "Timeline Detail", "DROPDOWN",
           options=("Urgent", "Planned", "Exploring"), depends_on="Timeline__c"),
        _d("LEAD_FIELD_1", "Campaign Code (legacy)", "TEXT", pool=("SPRING24", "WEB-EU", "TS-NY")),
        _d("Consent_Given__c", "Consent Given", "BIT", default="False"),
    ),
    "ORGANISATION": (
        _d("Industry_Segment__c", "Industry Segment", "DROPDOWN",
           options=("Enterprise", "Mid-Market", "SMB", "Public Sector")),
        _d("Annual_Revenue__c", "Annual Revenue", "NUMERIC", lo=1e5, hi=5e8, decimals=0),
        _d("ORGANISATION_FIELD_5", "Legacy ERP Id", "TEXT", pool=("ERP-001", "ERP-117", "SAP-9")),
        _d("Is_Partner__c", "Is Partner?", "BIT", default="False"),
        _d("Account_Number__c", "Account Number", "AUTONUMBER", prefix="ACC-"),
    ),
    "OPPORTUNITY": (
        _d("Competitor__c", "Competitors", "MULTISELECT",
           options=("Salesforce", "HubSpot", "Zoho", "Pipedrive", "None")),
        _d("Contract_Start__c", "Contract Start", "DATE"),
        _d("Margin__c", "Margin %", "PERCENT", lo=5, hi=60, decimals=1),
        _d("Deal_Score__c", "Deal Score", "NUMERIC", lo=0, hi=100),
    ),
    "PROJECT": (
        _d("Budget_Hours__c", "Budget (hours)", "NUMERIC", lo=10, hi=2000),
        _d("Go_Live__c", "Go-Live", "DATE"),
        _d("Health__c", "Health", "DROPDOWN", options=("Green", "Amber", "Red")),
    ),
    "TASK": (
        _d("Effort_Hours__c", "Effort (h)", "NUMERIC", lo=0, hi=40, decimals=1),
        _d("Billable__c", "Billable", "BIT", default="True"),
    ),
    "EVENT": (
        _d("Meeting_Link__c", "Meeting Link", "URL"),
        _d("Attendee_Count__c", "Attendees", "NUMERIC", lo=1, hi=40),
    ),
    "PROSPECT": (
        _d("Interest_Level__c", "Interest Level", "DROPDOWN", options=("Low", "Medium", "High")),
        _d("Last_Webinar__c", "Last Webinar", "DATETIME"),
    ),
    "TICKET": (
        _d("Product_Area__c", "Product Area", "DROPDOWN",
           options=("Billing", "Mobile App", "Integrations", "Reporting", "Login")),
        _d("SLA_Breached__c", "SLA Breached", "BIT", default="False"),
        _d("Customer_Impact__c", "Customer Impact", "MULTILINETEXT"),
    ),
    "KNOWLEDGEARTICLE": (
        _d("Audience__c", "Audience", "MULTISELECT", options=("Admins", "End Users", "Developers")),
        _d("Review_Due__c", "Review Due", "DATE"),
    ),
    "PRODUCT": (
        _d("Warranty_Months__c", "Warranty (months)", "NUMERIC", lo=0, hi=60),
        _d("Hazardous__c", "Hazardous", "BIT", default="False"),
    ),
    "PRICEBOOKENTRY": (_d("Min_Quantity__c", "Minimum Quantity", "NUMERIC", lo=1, hi=50),),
    "QUOTATION": (
        _d("Payment_Terms__c", "Payment Terms", "DROPDOWN",
           options=("Net 30", "Net 60", "Prepaid", "50/50")),
        _d("Signed_By__c", "Signed By", LOOKUP_TYPE, join="Contact"),
    ),
    "QUOTATIONLINEITEM": (_d("Line_Note__c", "Line Note", "TEXT", pool=WORDS),),
    "OPPORTUNITYLINEITEM": (_d("Delivery_Date__c", "Delivery Date", "DATE"),),
    "FRUIT__C": (
        _d("Weight__c", "Weight", "NUMERIC", default="0", lo=0.5, hi=20, decimals=1),
        _d("Color__c", "Color", "TEXT", pool=COLORS),
        _d("Ripe__c", "Ripe", "BIT", default="False"),
        _d("Origin__c", "Origin", "DROPDOWN", options=("Spain", "Ecuador", "New Zealand",
                                                       "Italy", "Brazil")),
        _d("Supplier__c", "Supplier", LOOKUP_TYPE, join="Organisation"),
    ),
    "PROJECT_SITE__C": (
        _d("Project__c", "Project", LOOKUP_TYPE, join="Project"),
        _d("Site_Status__c", "Site Status", "DROPDOWN",
           options=("Planned", "Under Construction", "Live", "Closed")),
        _d("Go_Live__c", "Go-Live Date", "DATE"),
        _d("Budget__c", "Budget", "NUMERIC", lo=5000, hi=2e6, decimals=2),
        _d("Site_Code__c", "Site Code", "AUTONUMBER", prefix="SITE-"),
        _d("Main_Fruit__c", "Main Fruit", LOOKUP_TYPE, join="Fruit__c"),
        _d("Site_Website__c", "Site Website", "URL"),
    ),
}  # fmt: skip

# Every object name the API knows (singular and plural) -> FIELD_FOR; objects without
# custom fields map to a key absent from FIELDS and answer [].
_ALIASES: dict[str, str] = {}
for _s in SPECS + EXTRA_SPECS:
    _for = _s.custom_for or (_s.link_name or _s.name).upper()
    _names = {_s.name, _s.link_name or _s.name, _for}
    _names |= {n[:-1] for n in _names if n.endswith("s")} | {n + "s" for n in _names}
    for _alias in _names:
        _ALIASES.setdefault(_alias.lower(), _for)
_ALIASES["opportunity"] = "OPPORTUNITY"
_ALIASES["opportunities"] = "OPPORTUNITY"


def metadata_item(
    field_for: str, order: int, f: FieldDef, table: Table | None = None
) -> dict[str, Any]:
    options = [
        {"OPTION_ID": n + 1, "OPTION_VALUE": v, "OPTION_DEFAULT": False}
        for n, v in enumerate(f.options)
    ]
    dependency = None
    if f.depends_on:
        defs = FIELDS[field_for] if table is None else table[field_for]
        controlling = next(x for x in defs if x.name == f.depends_on)
        dependency = {
            "CONTROLLING_FIELD_ID": f.depends_on,
            "OPTIONS_FILTERS": [
                {
                    "CONTROLLING_VALUE": value,
                    "OPTION_IDS": [n + 1 for n in range(len(f.options)) if (n + j) % 2 == 0],
                }
                for j, value in enumerate(controlling.options)
            ],
        }
    return {
        "FIELD_NAME": f.name,
        "FIELD_ORDER": order,
        "FIELD_FOR": field_for,
        "FIELD_LABEL": f.label,
        "FIELD_TYPE": f.type,
        "FIELD_HELP_TEXT": f.help,
        "DEFAULT_VALUE": f.default,
        "EDITABLE": f.type != "AUTONUMBER",
        "VISIBLE": True,
        "CUSTOM_FIELD_OPTIONS": options,
        "DEPENDENCY": dependency,
        "JOIN_OBJECT": f.join,
    }


def metadata(field_for: str, table: Table | None = None) -> list[dict[str, Any]]:
    defs = (FIELDS if table is None else table).get(field_for, ())
    return [metadata_item(field_for, n + 1, f, table) for n, f in enumerate(defs)]


def all_metadata(table: Table | None = None) -> list[dict[str, Any]]:
    table = FIELDS if table is None else table
    return [item for field_for in table for item in metadata(field_for, table)]


def resolve_object(name: str) -> str | None:
    """FIELD_FOR for an object name given singular or plural; None if unknown."""
    return _ALIASES.get(name.lower())


def field_defs(spec: EntitySpec, table: Table | None = None) -> tuple[FieldDef, ...]:
    return (FIELDS if table is None else table).get(spec.custom_for or "", ())


def _numeric(r: Rand, f: FieldDef) -> int | float:
    value = round(f.lo + r.random() * (f.hi - f.lo), f.decimals)
    return int(value) if float(value).is_integer() else value


def _value(ctx: Ctx, r: Rand, f: FieldDef, entity: str, i: int) -> Any:
    t = f.type
    if t == "AUTONUMBER":
        return f"{f.prefix}{i + 1:05d}"
    if r.random() < UNSET_SHARE:
        return None
    if t == "TEXT":
        return r.pick(f.pool or WORDS)
    if t == "MULTILINETEXT":
        return "\n".join(r.sample_of(SENTENCES, r.between(1, 3)))
    if t == "DROPDOWN":
        return r.pick(f.options)
    if t == "MULTISELECT":
        chosen = set(r.sample_of(f.options, r.between(1, min(3, len(f.options)))))
        return ";".join(o for o in f.options if o in chosen)
    if t == "BIT":
        return r.random() < 0.5
    if t in ("NUMERIC", "PERCENT"):
        return _numeric(r, f)
    if t == "DATE":
        return fmt_day(ctx.anchor - int(r.random() * 1500 * DAY))
    if t == "DATETIME":
        return fmt_ts(ctx.anchor - int(r.random() * 900 * DAY))
    if t == "URL":
        return f"https://www.{r.pick(WORDS)}-{r.between(1, 999)}.example.com/{r.pick(WORDS)}"
    if t == LOOKUP_TYPE:
        target = JOIN_TARGETS[f.join or ""]
        n = ctx.n(target)
        return ctx.id(target, int(r.random() * n)) if n else None
    raise AssertionError(f"unhandled custom field type {t}")


def values_for(ctx: Ctx, spec: EntitySpec, i: int) -> list[dict[str, Any]]:
    """CUSTOMFIELDS of record i; unset values are null (the store may drop them).

    Draws exactly what ``_value`` would, field by field, through per-field functions
    compiled once (this runs for every record of every page).
    """
    table = ctx.shape.fields
    cache_key = (spec.name, None if table is FIELDS else ctx.shape.name)
    compiled = _COMPILED.get(cache_key)
    if compiled is None:
        defs = field_defs(spec, table)
        compiled = _COMPILED[cache_key] = tuple((f.name, _compile(f)) for f in defs)
    r = rand(ctx.seed, "customfields", spec.name, i)
    rnd = r.random
    return [
        {"FIELD_NAME": name, "FIELD_VALUE": fn(ctx, r, rnd, i), "CUSTOM_FIELD_ID": name}
        for name, fn in compiled
    ]


ValueFn = Callable[[Ctx, Rand, Callable[[], float], int], Any]
_COMPILED: dict[tuple[str, str | None], tuple[tuple[str, ValueFn], ...]] = {}


def _compile(f: FieldDef) -> ValueFn:
    """A function giving the same value as ``_value(ctx, r, f, entity, i)``."""
    t, unset = f.type, UNSET_SHARE
    if t == "AUTONUMBER":
        prefix = f.prefix
        return lambda ctx, r, rnd, i: f"{prefix}{i + 1:05d}"
    if t == "TEXT":
        pool = f.pool or WORDS
        n_pool = len(pool)
        return lambda ctx, r, rnd, i: None if rnd() < unset else pool[int(rnd() * n_pool)]
    if t == "DROPDOWN":
        options, n_options = f.options, len(f.options)
        return lambda ctx, r, rnd, i: None if rnd() < unset else options[int(rnd() * n_options)]
    if t == "BIT":
        return lambda ctx, r, rnd, i: None if rnd() < unset else rnd() < 0.5
    if t in ("NUMERIC", "PERCENT"):
        return lambda ctx, r, rnd, i: None if rnd() < unset else _numeric(r, f)
    if t == "DATE":
        return lambda ctx, r, rnd, i: (
            None if rnd() < unset else fmt_day(ctx.anchor - int(rnd() * 1500 * DAY))
        )
    if t == "DATETIME":
        return lambda ctx, r, rnd, i: (
            None if rnd() < unset else fmt_ts(ctx.anchor - int(rnd() * 900 * DAY))
        )
    if t == "URL":
        n_words = len(WORDS)
        return lambda ctx, r, rnd, i: (
            None
            if rnd() < unset
            else f"https://www.{WORDS[int(rnd() * n_words)]}-{1 + int(rnd() * 999)}"
            f".example.com/{WORDS[int(rnd() * n_words)]}"
        )
    if t == LOOKUP_TYPE:
        target = JOIN_TARGETS[f.join or ""]

        def lookup(ctx: Ctx, r: Rand, rnd: Callable[[], float], i: int) -> Any:
            if rnd() < unset:
                return None
            n = ctx.n(target)
            return ctx.id(target, int(rnd() * n)) if n else None

        return lookup
    return lambda ctx, r, rnd, i: _value(ctx, r, f, "", i)  # the sampling types, as written
