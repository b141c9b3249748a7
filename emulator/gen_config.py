"""Instance configuration: users, teams, pipelines and the small lookup lists.

Lookup lists have a fixed vocabulary, so their sizes are known before any record is
built (``STATIC_SIZES``); other builders reference them by index (e.g. the "Converted"
lead status, the stages of a pipeline).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .catalog import BY_NAME
from .gen_custom import EXTRA_OBJECT_DEFS
from .generator import Ctx, Gen, builder
from .rand import DAY, key
from .vocab import COUNTRIES, CURRENCIES, FIRST_NAMES, LAST_NAMES, USER_TIMEZONES

# (name, for_opportunities, for_projects, stages)
PIPELINES = (
    ("Sales Pipeline", True, False,
     ("Qualification", "Needs Analysis", "Proposal", "Negotiation", "Closing")),
    ("Enterprise Deals", True, False,
     ("Discovery", "Solution Design", "Business Case", "Procurement")),
    ("Project Delivery", False, True,
     ("Kick-off", "Planning", "Execution", "Review", "Handover")),
)  # fmt: skip
STAGES = tuple(
    (p, order + 1, name) for p, pl in enumerate(PIPELINES) for order, name in enumerate(pl[3])
)
RELATIONSHIPS = (
    # FORWARD_TITLE, FORWARD, REVERSE_TITLE, REVERSE, FOR_CONTACTS, FOR_ORGANISATIONS
    ("Manager", "is manager of", "Reports To", "reports to", True, False),
    ("Colleague", "is colleague of", "Colleague", "is colleague of", True, False),
    ("Spouse", "is spouse of", "Spouse", "is spouse of", True, False),
    ("Employer", "is employer of", "Employee", "is employee of", True, True),
    ("Parent Company", "is parent company of", "Subsidiary", "is subsidiary of", False, True),
    ("Partner", "is partner of", "Partner", "is partner of", False, True),
)
CATEGORIES = {
    "OpportunityCategories": ("New Business", "Upsell", "Renewal", "Cross-sell", "Services"),
    "ProjectCategories": ("Implementation", "Consulting", "Training", "Support", "Internal"),
    "TaskCategories": ("Call", "Email", "Meeting", "Follow-up", "Demo", "Admin", "To-do"),
    "FileCategories": ("Contracts", "Proposals", "Invoices", "Presentations", "Other"),
}
COLORS_HEX = ("#1ABC9C", "#3498DB", "#9B59B6", "#E67E22", "#E74C3C", "#34495E", "#F1C40F")
STATE_REASONS = (
    ("Price too high", "LOST"), ("Chose a competitor", "LOST"), ("No budget", "ABANDONED"),
    ("Project cancelled", "ABANDONED"), ("Timing - revisit next year", "SUSPENDED"),
    ("Best value", "WON"), ("Existing relationship", "WON"), ("Product fit", "WON"),
)  # fmt: skip
LEAD_SOURCES = (
    "Web",
    "Phone Enquiry",
    "Partner Referral",
    "Trade Show",
    "Email Campaign",
    "LinkedIn",
    "Cold Call",
    "Other",
)
# (status, STATUS_TYPE) where 1 = open, 2 = closed, 3 = converted (hidden unless
# include_converted=true)
LEAD_STATUSES = (
    ("New", 1), ("Attempted Contact", 1), ("Contacted", 1), ("Qualified", 1),
    ("Disqualified", 2), ("Converted", 3),
)  # fmt: skip
CONVERTED_STATUS = 5
TEAM_NAMES = (
    "Sales EMEA",
    "Sales Americas",
    "Customer Success",
    "Marketing",
    "Support",
    "Partners",
    "Leadership",
    "Engineering",
    "Finance",
    "Operations",
)
CUSTOM_OBJECT_DEFS = (
    ("Fruit__c", "Fruit", "Fruits", None, "Fruit Name", "TEXT", None),
    ("Project_Site__c", "Project Site", "Project Sites", "Physical sites of delivery projects",
     "Site Name", "TEXT", None),
)  # fmt: skip
TEMPLATES = (
    ("Standard Quote", "Quotation", "DOCX"), ("Proposal", "Opportunity", "DOCX"),
    ("Welcome Letter", "Contact", "PDF"), ("Statement of Work", "Project", "DOCX"),
    ("Invoice", "Organisation", "PDF"), ("NDA", "Organisation", "DOCX"),
)  # fmt: skip
ACTIVITY_SET_NAMES = (
    "New customer onboarding",
    "Lead follow-up",
    "Renewal reminders",
    "Project kick-off",
    "Event preparation",
    "Quarterly review",
    "Win-back campaign",
    "Trial nurture",
)
ACTIVITY_STEPS = ("Call", "Send welcome pack", "Demo", "Check-in", "Review")
REFERRERS = (
    "https://www.google.com/",
    "https://www.linkedin.com/",
    "https://news.ycombinator.com/",
)
FOLLOW_TARGETS = ("Contacts", "Organisations", "Opportunities", "Projects", "Leads")

STATIC_SIZES: dict[str, int] = {
    "Pipelines": len(PIPELINES),
    "PipelineStages": len(STAGES),
    "Relationships": len(RELATIONSHIPS),
    **{name: len(values) for name, values in CATEGORIES.items()},
    "OpportunityStateReasons": len(STATE_REASONS),
    "LeadSources": len(LEAD_SOURCES),
    "LeadStatuses": len(LEAD_STATUSES),
    "Countries": len(COUNTRIES),
    "Currencies": len(CURRENCIES),
    "CustomObjects": len(CUSTOM_OBJECT_DEFS),
}


def team_memberships(seed: int, n_teams: int, n_users: int) -> list[tuple[int, int]]:
    """(team index, user index) pairs in PERMISSION_ID order.

    User 0 (the account owner) is in teams 0 and 1, so "a user in two teams" always
    exists; every team has at least one member.
    """
    pairs: list[tuple[int, int]] = []
    for t in range(n_teams):
        members = {t % n_users}
        if t in (0, 1):
            members.add(0)
        for u in range(n_users):
            if key(seed, "team", t, u) % 100 < 30:
                members.add(u)
        pairs.extend((t, u) for u in sorted(members))
    return pairs


def _memberships(ctx: Ctx) -> list[tuple[int, int]]:
    return ctx.memo("teams", lambda: team_memberships(ctx.seed, ctx.n("Teams"), ctx.n("Users")))


@cache
def relationship_indexes(kind: str) -> tuple[int, ...]:
    """Relationships usable for contact-contact, org-org or contact-org links."""
    col = {"contacts": 4, "organisations": 5}.get(kind)
    if col is None:
        return tuple(i for i, r in enumerate(RELATIONSHIPS) if r[4] and r[5])
    return tuple(i for i, r in enumerate(RELATIONSHIPS) if r[col] and not r[9 - col])


def pipeline_indexes(for_projects: bool) -> tuple[int, ...]:
    return tuple(i for i, p in enumerate(PIPELINES) if p[2 if for_projects else 1])


def stage_indexes(pipeline: int) -> tuple[int, ...]:
    return tuple(i for i, s in enumerate(STAGES) if s[0] == pipeline)


@builder("Users")
def _user(g: Gen) -> dict[str, Any]:
    r, i = g.r, g.i
    first, last = FIRST_NAMES[(i * 7 + 3) % len(FIRST_NAMES)], r.pick(LAST_NAMES)
    ident = f"{key(g.ctx.seed, 'dropbox', i) & 0xFFFFFFFF:08x}"
    return {
        "CONTACT_ID": None,
        "FIRST_NAME": first,
        "LAST_NAME": last,
        "TIMEZONE_ID": r.pick(USER_TIMEZONES),
        "EMAIL_ADDRESS": f"{first.lower()}.{last.lower()}@acme-emulated.example",
        "EMAIL_DROPBOX_IDENTIFIER": ident,
        "EMAIL_DROPBOX_ADDRESS": f"dropbox-{ident}@mailbox.insight.ly",
        "ADMINISTRATOR": i < 2,
        "ACCOUNT_OWNER": i == 0,
        "ACTIVE": i < 2 or r.chance(0.9),
        "USER_CURRENCY": r.pick(("USD", "USD", "EUR", "GBP")),
        "CONTACT_DISPLAY": r.pick(("FirstLast", "LastFirst")),
        "CONTACT_ORDER": r.pick(("FirstName", "LastName")),
        "TASK_WEEK_START": r.pick((1, 2)),
        "INSTANCE_ID": 900000 + g.ctx.seed % 100000,
        "PROFILE_ID": None if i == 0 else 100 + r.between(1, 3),
        "ROLE_ID": r.maybe(0.6, 200 + r.between(1, 4)),
    }


@builder("Teams")
def _team(g: Gen) -> dict[str, Any]:
    members = [
        {
            "PERMISSION_ID": g.ctx.id("TeamMembers", n),
            "TEAM_ID": g.ctx.id("Teams", t),
            "MEMBER_USER_ID": g.ctx.id("Users", u),
        }
        for n, (t, u) in enumerate(_memberships(g.ctx))
        if t == g.i
    ]
    anonymous = g.i >= 3 and g.i == g.ctx.n("Teams") - 1
    return {
        "TEAM_NAME": None if anonymous else TEAM_NAMES[g.i % len(TEAM_NAMES)],
        "ANONYMOUS_TEAM": anonymous,
        "TEAMMEMBERS": members,
    }


@builder("TeamMembers")
def _team_member(g: Gen) -> dict[str, Any]:
    t, u = _memberships(g.ctx)[g.i]
    return {"TEAM_ID": g.ctx.id("Teams", t), "MEMBER_USER_ID": g.ctx.id("Users", u)}


@builder("Pipelines")
def _pipeline(g: Gen) -> dict[str, Any]:
    name, for_opps, for_projects, _ = PIPELINES[g.i]
    return {
        "PIPELINE_NAME": name,
        "FOR_OPPORTUNITIES": for_opps,
        "FOR_PROJECTS": for_projects,
        "OWNER_USER_ID": g.ctx.id("Users", 0),
    }


@builder("PipelineStages")
def _stage(g: Gen) -> dict[str, Any]:
    p, order, name = STAGES[g.i]
    n_sets = g.ctx.n("ActivitySets")
    return {
        "PIPELINE_ID": g.ctx.id("Pipelines", p),
        "STAGE_NAME": name,
        "STAGE_ORDER": order,
        "ACTIVITYSET_ID": g.ctx.id("ActivitySets", g.i % n_sets)
        if n_sets and g.i % 3 == 0
        else None,
        "OWNER_USER_ID": g.ctx.id("Users", 0),
    }


@builder("Relationships")
def _relationship(g: Gen) -> dict[str, Any]:
    ft, f, rt, rv, for_c, for_o = RELATIONSHIPS[g.i]
    return {
        "FORWARD_TITLE": ft,
        "FORWARD": f,
        "REVERSE_TITLE": rt,
        "REVERSE": rv,
        "FOR_CONTACTS": for_c,
        "FOR_ORGANISATIONS": for_o,
    }


def _category(g: Gen) -> dict[str, Any]:
    names = CATEGORIES[g.entity]
    return {
        "CATEGORY_NAME": names[g.i],
        "ACTIVE": g.i != len(names) - 1 or g.entity != "TaskCategories",
        "BACKGROUND_COLOR": COLORS_HEX[g.i % len(COLORS_HEX)],
    }


for _name in CATEGORIES:
    builder(_name)(_category)


@builder("OpportunityStateReasons")
def _state_reason(g: Gen) -> dict[str, Any]:
    reason, state = STATE_REASONS[g.i]
    return {"STATE_REASON": reason, "FOR_OPPORTUNITY_STATE": state}


@builder("LeadSources")
def _lead_source(g: Gen) -> dict[str, Any]:
    return {"LEAD_SOURCE": LEAD_SOURCES[g.i], "DEFAULT_VALUE": g.i == 0, "FIELD_ORDER": g.i + 1}


@builder("LeadStatuses")
def _lead_status(g: Gen) -> dict[str, Any]:
    status, status_type = LEAD_STATUSES[g.i]
    return {
        "LEAD_STATUS": status,
        "DEFAULT_STATUS": g.i == 0,
        "STATUS_TYPE": status_type,
        "FIELD_ORDER": g.i + 1,
    }


@builder("Countries")
def _country(g: Gen) -> dict[str, Any]:
    return {"COUNTRY_NAME": COUNTRIES[g.i]}


@builder("Currencies")
def _currency(g: Gen) -> dict[str, Any]:
    code, symbol = CURRENCIES[g.i]
    return {"CURRENCY_CODE": code, "CURRENCY_SYMBOL": symbol}


@builder("CustomObjects")
def _custom_object(g: Gen) -> dict[str, Any]:
    name, singular, plural, desc, label, rtype, fmt = (CUSTOM_OBJECT_DEFS + EXTRA_OBJECT_DEFS)[g.i]
    return {
        "OBJECT_NAME": name,
        "SINGULAR_LABEL": singular,
        "PLURAL_LABEL": plural,
        "DESCRIPTION": desc,
        "RECORD_NAME_LABEL": label,
        "RECORD_NAME_TYPE": rtype,
        "RECORD_NAME_DISPLAY_FORMAT": fmt,
        "ENABLE_NAVBAR": True,
        "ENABLE_WORKFLOWS": g.i == 0,
        "CREATED_USER_ID": g.ctx.id("Users", 0),
        "DATE_UPDATED_UTC": g.ts(g.created),
    }


@builder("ActivitySets")
def _activity_set(g: Gen) -> dict[str, Any]:
    r = g.r
    set_id = g.ctx.id("ActivitySets", g.i)
    activities = []
    for n in range(r.between(2, 5)):
        is_event = r.chance(0.3)
        activities.append(
            {
                "ACTIVITY_ID": set_id * 10 + n + 1,
                "ACTIVITYSET_ID": set_id,
                "ACTIVITY_NAME": f"Step {n + 1}: {r.pick(ACTIVITY_STEPS)}",
                "ACTIVITY_DETAILS": r.maybe(0.5, "Use the standard template."),
                "ACTIVITY_TYPE": "Event" if is_event else "Task",
                "CATEGORY_ID": None if is_event else g.ref("TaskCategories"),
                "REMINDER": r.chance(0.5),
                "REMINDER_DAYS_BEFORE_DUE": r.between(0, 3),
                "REMINDER_TIME": r.pick(("9:00AM", "1:30PM", "3:04PM")),
                "PUBLICLY_VISIBLE": True,
                "OWNER_VISIBLE": True,
                "OWNER_USER_ID": g.user(),
                "RESPONSIBLE_USER_ID": g.ref("Users", 0.7),
                "ASSIGNED_TEAM_ID": g.ref("Teams", 0.2),
                "SKIP_SUN": True,
                "SKIP_MON": False,
                "SKIP_TUE": False,
                "SKIP_WED": False,
                "SKIP_THU": False,
                "SKIP_FRI": False,
                "SKIP_SAT": True,
                "DUE_DAYS_AFTER_START": None if is_event else n * 3,
                "DUE_DAYS_BEFORE_END": None,
                "EVENT_DAYS_AFTER_START": n * 3 if is_event else None,
                "EVENT_DAYS_BEFORE_END": None,
                "EVENT_TIME": "10:00AM" if is_event else None,
                "ALL_DAY": False,
                "DURATION": 60 if is_event else None,
            }
        )
    return {
        "NAME": ACTIVITY_SET_NAMES[g.i % len(ACTIVITY_SET_NAMES)],
        "FOR_CONTACTS": g.i % 2 == 0,
        "FOR_ORGANISATIONS": g.i % 3 == 0,
        "FOR_OPPORTUNITIES": g.i % 2 == 1,
        "FOR_PROJECTS": g.i % 4 == 3,
        "FOR_LEADS": g.i % 3 == 1,
        "OWNER_USER_ID": g.user(),
        "ACTIVITIES": activities,
    }


@builder("DocumentTemplates")
def _template(g: Gen) -> dict[str, Any]:
    name, obj, ftype = TEMPLATES[g.i % len(TEMPLATES)]
    suffix = "" if g.i < len(TEMPLATES) else f" v{g.i // len(TEMPLATES) + 1}"
    return {
        "TEMPLATE_NAME": name + suffix,
        "RELATED_OBJECT_NAME": obj,
        "TEMPLATE_FILE_TYPE": ftype,
        "ACTIVE": g.r.chance(0.85),
    }


@builder("MarketingVisits")
def _visit(g: Gen) -> dict[str, Any]:
    r = g.r
    first = g.anchor - int(r.random() * 700 * DAY)
    last = first + int(r.random() * 3 * 3600)
    medium = r.pick(("organic", "cpc", "email", "referral", "social"))
    return {
        "PROSPECT_ID": g.ref("Prospect"),
        "FIRST_PAGE_VIEW_DATE_UTC": g.ts(first),
        "LAST_PAGE_VIEW_DATE_UTC": g.ts(last),
        "PAGE_VIEW_COUNT": r.between(1, 25),
        "PAGE_REFERRER": r.maybe(0.6, r.pick(REFERRERS)),
        "REFR_MEDIUM": r.maybe(0.6, r.pick(("search", "social", "unknown"))),
        "REFR_SOURCE": r.maybe(0.6, r.pick(("Google", "LinkedIn", "Bing"))),
        "MKT_SOURCE": r.maybe(0.5, r.pick(("newsletter", "google", "linkedin"))),
        "MKT_MEDIUM": medium,
        "MKT_CONTENT": r.maybe(0.3, "banner-a"),
        "MKT_TERM": r.maybe(0.3, r.pick(("crm software", "small business crm"))),
        "MKT_NETWORK": r.maybe(0.2, "search"),
        "MKT_CLICKID": r.maybe(0.2, f"gclid-{r.digits(12)}"),
    }  # fmt: skip


@builder("Follows")
def _follow(g: Gen) -> dict[str, Any]:
    target = FOLLOW_TARGETS[g.i % len(FOLLOW_TARGETS)]
    return {"RECORD_TYPE": BY_NAME[target].link_name, "RECORD_ID": g.ref(target)}
