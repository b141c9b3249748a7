"""Builders for the core CRM objects: contacts, organisations, leads, prospects,
opportunities, projects and milestones.

References are valid ids of generated records (owners are real users, stages belong to
the opportunity's pipeline, a contact's ORGANISATION_ID is the organisation it is linked
to).
"""

from __future__ import annotations

from typing import Any

from .gen_config import (
    CONVERTED_STATUS,
    LEAD_STATUSES,
    STAGES,
    pipeline_indexes,
    stage_indexes,
)
from .generator import Ctx, Gen, builder, hashed_index
from .links import forward_target
from .people import (
    address,
    contact_person,
    maybe_phone,
    org_domain,
    org_name,
    person,
    phone,
)
from .rand import DAY, key, rand
from .vocab import (
    DEAL_CURRENCIES,
    INDUSTRIES,
    JOB_TITLES,
    OPPORTUNITY_NOUNS,
    PROJECT_NOUNS,
    SENTENCES,
)

CONTACT_PHONE_SHARES = (0.6, 0.1, 0.5, 0.03, 0.03, 0.05)  # PHONE, _HOME, _MOBILE, _OTHER, ...
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "web.de", "icloud.com")


def _activity_dates(g: Gen) -> tuple[str | None, str | None]:
    last = g.ts(g.between(g.created, g.updated)) if g.r.chance(0.6) else None
    nxt = g.ts(g.anchor + int(g.r.random() * 45 * DAY)) if g.r.chance(0.2) else None
    return last, nxt


def _dates(g: Gen, occasions: tuple[str, ...]) -> list[dict[str, Any]]:
    if not g.r.chance(0.25):
        return []
    base = g.ctx.id(g.entity, g.i) * 4
    out = []
    for n, name in enumerate(g.r.sample_of(occasions, g.r.between(1, 2))):
        when = g.anchor - int(g.r.random() * 15000 * DAY)
        out.append(
            {
                "DATE_ID": base + n,
                "OCCASION_NAME": name,
                "OCCASION_DATE": g.day(when),
                "REPEAT_YEARLY": name != "Contract signed",
                "CREATE_TASK_YEARLY": g.r.chance(0.3),
            }
        )
    return out


def pricebook_of_opportunity(ctx: Ctx, opp_index: int) -> int | None:
    """Pricebook index of an opportunity; line items and quotes use the same one."""
    return hashed_index(ctx, "Pricebook", "opp-pricebook", opp_index)


@builder("Contacts")
def _contact(g: Gen) -> dict[str, Any]:
    # The hottest builder (a benchmark reads a million of these), so Rand helpers are
    # inlined: ``rnd() < p`` is ``r.chance(p)``, ``seq[int(rnd() * len(seq))]`` is
    # ``r.pick(seq)``, and draws happen in the order the helper calls would make them.
    ctx, r = g.ctx, g.r
    rnd = r.random
    p = contact_person(ctx, g.i)
    org_idx = forward_target(ctx, "Contacts", "Organisations", g.i)
    domain = (
        org_domain(ctx, org_idx) if org_idx is not None else FREE_MAIL[int(rnd() * len(FREE_MAIL))]
    )
    home = address(r)
    other = address(r) if rnd() < 0.15 else None
    visible_to, team = g.visibility()
    last, nxt = _activity_dates(g)
    slug = f"{p.first_ascii}-{p.last_ascii}".lower()
    prefix = home.phone_prefix
    image = f"https://cdn.insightly.example/images/{slug}.png" if rnd() < 0.1 else None
    background = SENTENCES[int(rnd() * len(SENTENCES))]
    background = background if rnd() < 0.2 else None
    owner = g.user()
    linkedin = f"https://www.linkedin.com/in/{slug}" if rnd() < 0.3 else None
    facebook = f"https://www.facebook.com/{slug}" if rnd() < 0.05 else None
    twitter = f"@{slug.replace('-', '_')[:15]}" if rnd() < 0.1 else None
    birth = g.day(g.anchor - int((22 + rnd() * 45) * 365 * DAY)) if rnd() < 0.2 else None
    phones = [maybe_phone(r, prefix, share) for share in CONTACT_PHONE_SHARES]
    email = p.email(domain, r) if rnd() < 0.9 else None
    assistant = person(r).full
    assistant = assistant if rnd() < 0.03 else None
    street = home.street if rnd() < 0.7 else None
    creator = g.user()
    title = JOB_TITLES[int(rnd() * len(JOB_TITLES))]
    title = title if rnd() < 0.7 else None
    opted_out = rnd() < 0.05
    return {
        "SALUTATION": p.salutation,
        "FIRST_NAME": p.first,
        "LAST_NAME": p.last,
        "IMAGE_URL": image,
        "BACKGROUND": background,
        "VISIBLE_TO": visible_to,
        "OWNER_USER_ID": owner,
        "VISIBLE_TEAM_ID": team,
        "SOCIAL_LINKEDIN": linkedin,
        "SOCIAL_FACEBOOK": facebook,
        "SOCIAL_TWITTER": twitter,
        "DATE_OF_BIRTH": birth,
        "PHONE": phones[0],
        "PHONE_HOME": phones[1],
        "PHONE_MOBILE": phones[2],
        "PHONE_OTHER": phones[3],
        "PHONE_ASSISTANT": phones[4],
        "PHONE_FAX": phones[5],
        "EMAIL_ADDRESS": email,
        "ASSISTANT_NAME": assistant,
        "ADDRESS_MAIL_STREET": street,
        "ADDRESS_MAIL_CITY": home.city,
        "ADDRESS_MAIL_STATE": home.state,
        "ADDRESS_MAIL_POSTCODE": home.postcode,
        "ADDRESS_MAIL_COUNTRY": home.country,
        "ADDRESS_OTHER_STREET": other and other.street,
        "ADDRESS_OTHER_CITY": other and other.city,
        "ADDRESS_OTHER_STATE": other and other.state,
        "ADDRESS_OTHER_POSTCODE": other and other.postcode,
        "ADDRESS_OTHER_COUNTRY": other and other.country,
        "LAST_ACTIVITY_DATE_UTC": last,
        "NEXT_ACTIVITY_DATE_UTC": nxt,
        "CREATED_USER_ID": creator,
        "ORGANISATION_ID": ctx.id("Organisations", org_idx) if org_idx is not None else None,
        "TITLE": title,
        "EMAIL_OPTED_OUT": opted_out,
        "DATES": _dates(g, ("Birthday", "Work anniversary", "First purchase")),
    }


@builder("Organisations")
def _organisation(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    name = org_name(ctx, g.i)
    domain = org_domain(ctx, g.i)
    bill = address(r)
    ship = bill if r.chance(0.7) else address(r)
    visible_to, team = g.visibility()
    last, nxt = _activity_dates(g)
    org_id = ctx.id("Organisations", g.i)
    domains = []
    if r.chance(0.6):
        domains.append({"EMAIL_DOMAIN_ID": org_id * 2, "EMAIL_DOMAIN": domain})
        if r.chance(0.1):
            domains.append({"EMAIL_DOMAIN_ID": org_id * 2 + 1, "EMAIL_DOMAIN": f"mail.{domain}"})
    handle = domain.split(".")[0]
    return {
        "ORGANISATION_NAME": name,
        "BACKGROUND": r.maybe(0.3, f"{r.pick(INDUSTRIES)} company. {r.pick(SENTENCES)}"),
        "IMAGE_URL": r.maybe(0.2, f"https://logo.example.com/{handle}.png"),
        "OWNER_USER_ID": g.user(),
        "LAST_ACTIVITY_DATE_UTC": last,
        "NEXT_ACTIVITY_DATE_UTC": nxt,
        "CREATED_USER_ID": g.user(),
        "PHONE": r.maybe(0.8, phone(r, bill.phone_prefix)),
        "PHONE_FAX": r.maybe(0.1, phone(r, bill.phone_prefix)),
        "WEBSITE": r.maybe(0.85, f"https://www.{domain}"),
        "ADDRESS_BILLING_STREET": bill.street,
        "ADDRESS_BILLING_CITY": bill.city,
        "ADDRESS_BILLING_STATE": bill.state,
        "ADDRESS_BILLING_COUNTRY": bill.country,
        "ADDRESS_BILLING_POSTCODE": bill.postcode,
        "ADDRESS_SHIP_STREET": ship.street if r.chance(0.5) else None,
        "ADDRESS_SHIP_CITY": ship.city if r.chance(0.5) else None,
        "ADDRESS_SHIP_STATE": ship.state,
        "ADDRESS_SHIP_POSTCODE": ship.postcode if r.chance(0.5) else None,
        "ADDRESS_SHIP_COUNTRY": ship.country if r.chance(0.5) else None,
        "SOCIAL_LINKEDIN": r.maybe(0.4, f"https://www.linkedin.com/company/{handle}"),
        "SOCIAL_FACEBOOK": r.maybe(0.2, f"https://www.facebook.com/{handle}"),
        "SOCIAL_TWITTER": r.maybe(0.2, f"@{handle[:15]}"),
        "VISIBLE_TO": visible_to,
        "VISIBLE_TEAM_ID": team,
        "DATES": _dates(g, ("Contract signed", "Founded", "Renewal date")),
        "EMAILDOMAINS": domains,
    }


@builder("Leads")
def _lead(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    p = person(r)
    place = address(r)
    converted = r.chance(0.15)
    open_or_closed = [n for n, (_, t) in enumerate(LEAD_STATUSES) if t != 3]
    status = CONVERTED_STATUS if converted else r.pick(open_or_closed)
    company = org_name(ctx, 10_000 + g.i) if r.chance(0.8) else None
    visible_to, team = g.visibility()
    last, nxt = _activity_dates(g)
    lead_id = ctx.id("Leads", g.i)
    return {
        "SALUTATION": p.salutation,
        "FIRST_NAME": p.first,
        "LAST_NAME": p.last,
        "LEAD_SOURCE_ID": g.ref("LeadSources", 0.9),
        "LEAD_STATUS_ID": ctx.id("LeadStatuses", status),
        "TITLE": r.maybe(0.5, r.pick(JOB_TITLES)),
        "CONVERTED": converted,
        "CONVERTED_CONTACT_ID": g.ref("Contacts") if converted else None,
        "CONVERTED_DATE_UTC": g.ts(g.between(g.created, g.updated)) if converted else None,
        "CONVERTED_OPPORTUNITY_ID": g.ref("Opportunities", 0.6) if converted else None,
        "CONVERTED_ORGANISATION_ID": g.ref("Organisations", 0.9) if converted else None,
        "EMAIL": p.email("example.net", r) if r.chance(0.85) else "",
        "EMPLOYEE_COUNT": r.pick((0, 0, 5, 12, 50, 120, 800, 2500)),
        "FAX": r.maybe(0.05, phone(r, place.phone_prefix)),
        "INDUSTRY": r.maybe(0.6, r.pick(INDUSTRIES)),
        "LEAD_DESCRIPTION": r.pick(SENTENCES) if r.chance(0.4) else "",
        "LEAD_RATING": r.maybe(0.5, r.between(1, 5)),
        "MOBILE": r.maybe(0.4, phone(r, place.phone_prefix)),
        "OWNER_USER_ID": g.user(),
        "PHONE": r.maybe(0.5, phone(r, place.phone_prefix)),
        "RESPONSIBLE_USER_ID": g.user(),
        "WEBSITE": r.maybe(0.3, f"https://www.{org_domain(ctx, 10_000 + g.i)}"),
        "ADDRESS_STREET": r.maybe(0.4, place.street),
        "ADDRESS_CITY": r.maybe(0.6, place.city),
        "ADDRESS_STATE": place.state,
        "ADDRESS_POSTCODE": r.maybe(0.4, place.postcode),
        "ADDRESS_COUNTRY": place.country,
        "LAST_ACTIVITY_DATE_UTC": last,
        "NEXT_ACTIVITY_DATE_UTC": nxt,
        "VISIBLE_TO": visible_to,
        "VISIBLE_TEAM_ID": team,
        "ORGANISATION_NAME": company,
        "CREATED_USER_ID": g.user(),
        "IMAGE_URL": None,
        "EMAIL_OPTED_OUT": r.chance(0.04),
        "LINKED_EMAIL_ADDRESS": f"acme-emulated-L{lead_id}-H4PRTS1@mailbox.insight.ly",
    }


@builder("Prospect")
def _prospect(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    p = person(r)
    place = address(r)
    lead = g.ref("Leads", 0.4)
    visible_to, team = g.visibility()
    return {
        "LEAD_ID": lead,
        "CONTACT_ID": g.ref("Contacts", 0.3),
        "ORGANISATION_ID": g.ref("Organisations", 0.3),
        "SALUTATION": p.salutation,
        "FIRST_NAME": p.first,
        "LAST_NAME": p.last,
        "ORGANISATION_NAME": r.maybe(0.8, org_name(ctx, 20_000 + g.i)),
        "TITLE": r.maybe(0.6, r.pick(JOB_TITLES)),
        "EMAIL_ADDRESS": p.email("prospects.example.org", r),
        "PHONE": r.maybe(0.4, phone(r, place.phone_prefix)),
        "MOBILE": r.maybe(0.3, phone(r, place.phone_prefix)),
        "FAX": None,
        "WEBSITE": r.maybe(0.3, f"https://www.{org_domain(ctx, 20_000 + g.i)}"),
        "ADDRESS_STREET": r.maybe(0.3, place.street),
        "ADDRESS_CITY": place.city,
        "ADDRESS_STATE": place.state,
        "ADDRESS_POSTCODE": r.maybe(0.3, place.postcode),
        "ADDRESS_COUNTRY": place.country,
        "INDUSTRY": r.maybe(0.5, r.pick(INDUSTRIES)),
        "EMPLOYEE_COUNT": r.maybe(0.5, r.pick((10, 50, 200, 1000))),
        "SCORE": r.between(0, 100),
        "GRADE": r.pick(("A", "B", "C", "D", "F")),
        "GRADE_PROFILE_ID": r.maybe(0.5, 7000 + r.between(1, 3)),
        "DESCRIPTION": r.maybe(0.3, r.pick(SENTENCES)),
        "DO_NOT_EMAIL": r.chance(0.05),
        "DO_NOT_CALL": r.chance(0.1),
        "DO_NOT_SYNC": r.chance(0.02),
        "OPTED_OUT": r.chance(0.05),
        "LAST_ACTIVITY_DATE_UTC": r.maybe(0.5, g.ts(g.between(g.created, g.updated))),
        "LEAD_CONVERSION_DATE_UTC": g.ts(g.between(g.created, g.updated)) if lead else None,
        "CREATED_USER_ID": g.user(),
        "OWNER_USER_ID": g.user(),
        "VISIBLE_TO": visible_to,
        "VISIBLE_TEAM_ID": team,
    }


_STATES = (("OPEN", 0.55), ("WON", 0.75), ("LOST", 0.9), ("ABANDONED", 0.95), ("SUSPENDED", 1.0))
_BID_TYPES = ("Fixed Bid", "Fixed Bid", "Fixed Bid", "Per Hour", "Per Day", "Per Month", "Per Year")


@builder("Opportunities")
def _opportunity(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    org_idx = forward_target(ctx, "Opportunities", "Organisations", g.i)
    company = org_name(ctx, org_idx) if org_idx is not None else None
    p = rand(ctx.seed, "opp-state", g.i).random()
    state = next(s for s, limit in _STATES if p < limit)
    pipeline = r.pick(pipeline_indexes(for_projects=False))
    stages = stage_indexes(pipeline)
    if state == "WON":
        stage = stages[-1]
    elif state == "OPEN":
        stage = r.pick(stages)
    else:
        stage = r.pick(stages[:-1])
    order = STAGES[stage][1]
    probability = {
        "WON": 100, "LOST": 0, "ABANDONED": 0, "SUSPENDED": 10,
    }.get(state, min(90, round(100 * order / (len(stages) + 1) / 5) * 5))  # fmt: skip
    bid_type = r.pick(_BID_TYPES)
    duration = None if bid_type == "Fixed Bid" else r.between(3, 36)
    amount = r.money(500, 250_000, 50) if bid_type == "Fixed Bid" else r.money(50, 5000, 5)
    value = round(amount * (duration or 1), 2)
    closed = state in ("WON", "LOST", "ABANDONED")
    forecast = g.created + int((30 + r.random() * 240) * DAY)
    visible_to, team = g.visibility()
    last, nxt = _activity_dates(g)
    pricebook = pricebook_of_opportunity(ctx, g.i)
    opp_id = ctx.id("Opportunities", g.i)
    noun = r.pick(OPPORTUNITY_NOUNS)
    return {
        "OPPORTUNITY_NAME": f"{company.split(' (')[0]} – {noun}" if company else noun,
        "OPPORTUNITY_DETAILS": r.maybe(0.5, " ".join(r.sample_of(SENTENCES, 2))),
        "OPPORTUNITY_STATE": state,
        "RESPONSIBLE_USER_ID": g.ref("Users", 0.8),
        "CATEGORY_ID": g.ref("OpportunityCategories", 0.7),
        "IMAGE_URL": None,
        "BID_CURRENCY": r.pick(DEAL_CURRENCIES),
        "BID_AMOUNT": amount,
        "BID_TYPE": bid_type,
        "BID_DURATION": duration,
        "ACTUAL_CLOSE_DATE": g.day(g.between(g.created, g.updated)) if closed else None,
        "OPPORTUNITY_VALUE": value,
        "PROBABILITY": probability,
        "FORECAST_CLOSE_DATE": g.day(forecast),
        "OWNER_USER_ID": g.user(),
        "LAST_ACTIVITY_DATE_UTC": last,
        "NEXT_ACTIVITY_DATE_UTC": nxt if state == "OPEN" else None,
        "PIPELINE_ID": ctx.id("Pipelines", pipeline),
        "STAGE_ID": ctx.id("PipelineStages", stage),
        "CREATED_USER_ID": g.user(),
        "ORGANISATION_ID": ctx.id("Organisations", org_idx) if org_idx is not None else None,
        "PRICEBOOK_ID": ctx.id("Pricebook", pricebook) if pricebook is not None else None,
        "LINKED_EMAIL_ADDRESS": f"acme-emulated-O{opp_id}-H4PRTS1@mailbox.insight.ly",
        "VISIBLE_TO": visible_to,
        "VISIBLE_TEAM_ID": team,
    }


_PROJECT_STATUS = ("NOT STARTED", "IN PROGRESS", "IN PROGRESS", "COMPLETED", "COMPLETED",
                   "DEFERRED", "CANCELLED", "ABANDONED")  # fmt: skip


@builder("Projects")
def _project(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    opp_idx = forward_target(ctx, "Projects", "Opportunities", g.i)
    status = r.pick(_PROJECT_STATUS)
    started = g.between(g.created, g.updated) if status != "NOT STARTED" else None
    completed = g.between(started or g.created, g.updated) if status == "COMPLETED" else None
    pipeline = stage = None
    if r.chance(0.7):
        pipeline = r.pick(pipeline_indexes(for_projects=True))
        stages = stage_indexes(pipeline)
        stage = stages[-1] if status == "COMPLETED" else r.pick(stages)
    visible_to, team = g.visibility()
    last, nxt = _activity_dates(g)
    project_id = ctx.id("Projects", g.i)
    client = org_name(ctx, key(ctx.seed, "project-client", g.i) % 5000).split(" (")[0]
    return {
        "PROJECT_NAME": f"{client} {r.pick(PROJECT_NOUNS)}",
        "STATUS": status,
        "PROJECT_DETAILS": r.maybe(0.6, " ".join(r.sample_of(SENTENCES, 2))),
        "STARTED_DATE": g.day(started),
        "COMPLETED_DATE": g.day(completed),
        "OPPORTUNITY_ID": ctx.id("Opportunities", opp_idx) if opp_idx is not None else None,
        "CATEGORY_ID": g.ref("ProjectCategories", 0.8),
        "PIPELINE_ID": ctx.id("Pipelines", pipeline) if pipeline is not None else None,
        "STAGE_ID": ctx.id("PipelineStages", stage) if stage is not None else None,
        "IMAGE_URL": None,
        "OWNER_USER_ID": g.user(),
        "LAST_ACTIVITY_DATE_UTC": last,
        "NEXT_ACTIVITY_DATE_UTC": nxt,
        "CREATED_USER_ID": g.user(),
        "RESPONSIBLE_USER_ID": g.ref("Users", 0.8),
        "LINKED_EMAIL_ADDRESS": f"acme-emulated-P{project_id}-H4PRTS1@mailbox.insight.ly",
        "VISIBLE_TO": visible_to,
        "VISIBLE_TEAM_ID": team,
    }


def project_of_milestone(ctx: Ctx, milestone_index: int) -> int | None:
    return hashed_index(ctx, "Projects", "milestone-project", milestone_index)


@builder("Milestones")
def _milestone(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    project = project_of_milestone(ctx, g.i)
    due = g.created + int(r.between(7, 120) * DAY)
    completed = due < g.anchor and r.chance(0.7)
    return {
        "TITLE": r.pick(("Requirements signed off", "Design complete", "Pilot live",
                         "Data migrated", "Training delivered", "Go-live", "Hypercare ends")),
        "COMPLETED": completed,
        "DUE_DATE": g.day(due),
        "OWNER_USER_ID": g.user(),
        "COMPLETED_DATE_UTC": g.ts(g.between(g.created, g.updated)) if completed else None,
        "PROJECT_ID": ctx.id("Projects", project) if project is not None else None,
        "RESPONSIBLE_USER": g.ref("Users", 0.8),
    }  # fmt: skip
