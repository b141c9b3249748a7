"""Builders for activities: tasks, events, notes and e-mails.

Tasks mix completed, open-and-overdue and upcoming ones relative to the anchor; notes
have HTML bodies, a few of them long; e-mails have no DATE_UPDATED_UTC (docs/api.md §5).
"""

from __future__ import annotations

from typing import Any

from .gen_crm import project_of_milestone
from .generator import Gen, builder
from .links import forward_target
from .people import contact_person, org_domain, person
from .rand import DAY
from .vocab import EVENT_KINDS, SENTENCES, TASK_VERBS, WORDS


def _linked_name(g: Gen, link_target: str = "Contacts") -> str | None:
    idx = forward_target(g.ctx, g.entity, link_target, g.i)
    return contact_person(g.ctx, idx).full if idx is not None else None


@builder("Tasks")
def _task(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    name = _linked_name(g) or person(r).full
    start = g.created + int(r.random() * 3 * DAY)
    due = start + int(r.between(1, 30) * DAY)
    old = due < g.anchor - 30 * DAY
    completed = r.chance(0.85 if old else 0.3)
    done_at = (
        g.between(g.created, min(g.anchor - 1, max(g.updated, g.created))) if completed else None
    )
    status = (
        "COMPLETED" if completed else r.pick(("NOT STARTED", "IN PROGRESS", "WAITING", "DEFERRED"))
    )
    milestone_idx = g.ref_index("Milestones") if r.chance(0.15) else None
    project_idx = project_of_milestone(ctx, milestone_idx) if milestone_idx is not None else None
    if project_idx is None and r.chance(0.1):
        project_idx = g.ref_index("Projects")
    opp_idx = forward_target(ctx, "Tasks", "Opportunities", g.i)
    assigned = r.chance(0.3)
    reminder = g.ts(due - 3600) if r.chance(0.3) else None
    parent = g.i - 1 - int(r.random() * min(g.i, 20)) if g.i and r.chance(0.05) else None
    return {
        "TITLE": f"{r.pick(TASK_VERBS)} {name}",
        "CATEGORY_ID": g.ref("TaskCategories", 0.8),
        "DUE_DATE": g.day(due),
        "COMPLETED_DATE_UTC": g.ts(done_at),
        "COMPLETED": completed,
        "DETAILS": r.maybe(0.5, r.pick(SENTENCES)),
        "STATUS": status,
        "PRIORITY": r.pick((1, 2, 2, 3)),
        "PERCENT_COMPLETE": 100 if completed else r.pick((0, 0, 25, 50, 75)),
        "START_DATE": g.day(start),
        "MILESTONE_ID": ctx.id("Milestones", milestone_idx) if milestone_idx is not None else None,
        "PUBLICLY_VISIBLE": r.chance(0.8),
        "RESPONSIBLE_USER_ID": g.user(),
        "OWNER_USER_ID": g.user(),
        "EMAIL_ID": g.ref("Emails", 0.05),
        "PROJECT_ID": ctx.id("Projects", project_idx) if project_idx is not None else None,
        "REMINDER_DATE_UTC": reminder,
        "REMINDER_SENT": bool(reminder) and due - 3600 < g.anchor,
        "OWNER_VISIBLE": True,
        "STAGE_ID": None,
        "ASSIGNED_BY_USER_ID": g.user() if assigned else None,
        "PARENT_TASK_ID": ctx.id("Tasks", parent) if parent is not None else None,
        "RECURRENCE": "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO" if r.chance(0.03) else None,
        "OPPORTUNITY_ID": ctx.id("Opportunities", opp_idx) if opp_idx is not None else None,
        "ASSIGNED_TEAM_ID": g.ref("Teams", 0.3) if assigned else None,
        "ASSIGNED_DATE_UTC": g.ts(g.created) if assigned else None,
        "CREATED_USER_ID": g.user(),
    }  # fmt: skip


@builder("Events")
def _event(g: Gen) -> dict[str, Any]:
    r = g.r
    name = _linked_name(g)
    all_day = r.chance(0.1)
    start = g.created + int(r.random() * 20 * DAY)
    if all_day:
        start -= start % DAY
        end = start + DAY
    else:
        start -= start % 900
        end = start + r.pick((30, 45, 60, 60, 90, 120)) * 60
    reminder = start - 900 if r.chance(0.4) else None
    kind = r.pick(EVENT_KINDS)
    return {
        "TITLE": f"{kind} with {name}" if name else kind,
        "LOCATION": r.pick(("Zoom", "Microsoft Teams", "Head office, room 3", "Customer site",
                            "Café Central, Wien", None)),
        "START_DATE_UTC": g.ts(start),
        "END_DATE_UTC": g.ts(end),
        "ALL_DAY": all_day,
        "DETAILS": r.maybe(0.4, r.pick(SENTENCES)),
        "REMINDER_DATE_UTC": g.ts(reminder),
        "REMINDER_SENT": reminder is not None and reminder < g.anchor,
        "OWNER_USER_ID": g.user(),
    }  # fmt: skip


def _html_body(g: Gen) -> str:
    r = g.r
    paragraphs = [f"<p>{s}</p>" for s in r.sample_of(SENTENCES, r.between(1, 4))]
    if r.chance(0.3):
        items = "".join(f"<li>{w.capitalize()}</li>" for w in r.sample_of(WORDS, 4))
        paragraphs.append(f"<ul>{items}</ul>")
    if r.chance(0.05):  # meeting minutes pasted from a document: long bodies exist
        for n in range(r.between(80, 250)):
            words = " ".join(r.sample_of(WORDS, 9))
            paragraphs.append(f"<p><strong>{n + 1}.</strong> {r.pick(SENTENCES)} {words}</p>")
    return "".join(paragraphs)


@builder("Notes")
def _note(g: Gen) -> dict[str, Any]:
    r = g.r
    return {
        "TITLE": r.pick(("Call notes", "Meeting minutes", "Follow-up", "Internal note",
                         "Requirements", "Pricing discussion", "Notiz zum Gespräch")),
        "BODY": _html_body(g),
        "OWNER_USER_ID": g.user(),
    }  # fmt: skip


@builder("Emails")
def _email(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    contact_idx = forward_target(ctx, "Emails", "Contacts", g.i)
    org_idx = forward_target(ctx, "Emails", "Organisations", g.i)
    sender = contact_person(ctx, contact_idx) if contact_idx is not None else person(r)
    domain = org_domain(ctx, org_idx) if org_idx is not None else "example.org"
    queued = r.chance(0.02)
    return {
        "EMAIL_FROM": sender.email(domain, r),
        "SUBJECT": r.pick(("Re: ", "", "Fwd: ", "AW: ")) + r.pick(
            ("Quote request", "Meeting next week", "Contract draft", "Welcome aboard!",
             f"Invoice #{r.between(1000, 9999)}", "Questions about pricing", "Ihre Anfrage",
             "Follow-up")
        ),
        "EMAIL_DATE_UTC": g.ts(g.created - r.between(0, 600)),
        "FORMAT": r.pick(("HTML", "HTML", "Text")),
        "SIZE": r.between(2_000, 250_000),
        "OWNER_USER_ID": g.user(),
        "QUEUED_SEND_DATE_UTC": g.ts(g.created + 3600) if queued else None,
        "CREATED_USER_ID": g.user(),
    }  # fmt: skip
