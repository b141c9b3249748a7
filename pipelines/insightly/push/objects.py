"""What the write side of each object is: its path, key, required and read-only fields, and
whether it has tags and links. Data only, from the API's documented write side
(docs/api.md §10), so that the push never learns an object's rules from a failed request."""

from __future__ import annotations

from dataclasses import dataclass, field

from insightly.catalogue.entities import ENTITIES, Entity
from insightly.catalogue.fields import FIELDS

# Set by the server on every object; never sent (not in the write schema: docs/api.md §10).
SERVER_SET = frozenset(
    {
        "DATE_CREATED_UTC",
        "DATE_UPDATED_UTC",
        "CREATED_USER_ID",
        "LAST_ACTIVITY_DATE_UTC",
        "NEXT_ACTIVITY_DATE_UTC",
        "IMAGE_URL",
        "LINKED_EMAIL_ADDRESS",
    }
)

# table -> (required on create, read-only beyond SERVER_SET): the swagger's `required`
# minus the read-only key and server-set fields.
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "contacts": (("FIRST_NAME",), ()),
    "leads": (
        ("LAST_NAME", "LEAD_SOURCE_ID", "LEAD_STATUS_ID"),
        (
            "CONVERTED",
            "CONVERTED_CONTACT_ID",
            "CONVERTED_DATE_UTC",
            "CONVERTED_OPPORTUNITY_ID",
            "CONVERTED_ORGANISATION_ID",
        ),
    ),
    "organisations": (("ORGANISATION_NAME",), ()),
    "opportunities": (
        ("OPPORTUNITY_NAME",),
        ("PIPELINE_ID", "STAGE_ID", "PRICEBOOK_ID", "OPPORTUNITY_VALUE"),
    ),
    "projects": (("PROJECT_NAME", "STATUS"), ("PIPELINE_ID", "STAGE_ID", "OPPORTUNITY_ID")),
    "tasks": (
        ("TITLE", "COMPLETED", "OWNER_USER_ID"),
        (
            "ASSIGNED_BY_USER_ID",
            "ASSIGNED_DATE_UTC",
            "COMPLETED_DATE_UTC",
            "REMINDER_SENT",
            "STAGE_ID",
        ),
    ),
    "events": (("START_DATE_UTC", "END_DATE_UTC"), ()),
    "notes": (("TITLE",), ("OWNER_USER_ID",)),
    "products": (("PRODUCT_NAME", "DEFAULT_PRICE", "ACTIVE"), ("CURRENCY_CODE", "OWNER_USER_ID")),
    "pricebooks": (("NAME", "ACTIVE"), ("IS_STANDARD",)),
    "tickets": (
        ("SUBJECT", "TICKET_STATUS", "CONTACT_ID"),
        ("TICKET_NUMBER", "SOURCE", "DATE_SOLVED_UTC", "DATE_CLOSED_UTC"),
    ),
    "prospects": (
        ("EMAIL_ADDRESS",),
        ("LEAD_ID", "CONTACT_ID", "ORGANISATION_ID", "SCORE", "GRADE"),
    ),
    "quotations": (("QUOTATION_NAME", "OPPORTUNITY_ID"), ("QUOTATION_NUMBER",)),
}
CUSTOM_OBJECT_RULES = (("RECORD_NAME",), ())

# The objects with /Tags and with /Links that the push writes (docs/api.md §8, §10;
# emails are not writable).
WITH_TAGS = frozenset(
    {"contacts", "leads", "opportunities", "organisations", "projects", "prospects", "tickets"}
)
WITH_LINKS = frozenset(
    {"contacts", "events", "notes", "opportunities", "organisations", "projects", "tasks"}
)
EMAIL_FIELD = {"contacts": "EMAIL_ADDRESS", "leads": "EMAIL", "prospects": "EMAIL_ADDRESS"}
# Notes have no POST /Notes: they are created under one of these parents (docs/api.md §10).
NOTE_PARENTS = ("contacts", "leads", "opportunities", "organisations", "projects")
# LINK_OBJECT_NAME is singular (docs/api.md §7, §10).
SINGULAR = {
    "contacts": "Contact",
    "leads": "Lead",
    "organisations": "Organisation",
    "opportunities": "Opportunity",
    "projects": "Project",
    "tasks": "Task",
    "events": "Event",
    "notes": "Note",
    "emails": "Email",
}


@dataclass(frozen=True)
class Target:
    """One writable object: its warehouse table, API path and write rules."""

    table: str
    path: str
    key: str  # the primary key: read-only, sent only to identify a record on update
    fields: dict[str, str]  # standard API field -> warehouse type (fields.py)
    required: tuple[str, ...]
    read_only: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_tags(self) -> bool:
        return self.table in WITH_TAGS

    @property
    def has_links(self) -> bool:
        return self.table in WITH_LINKS

    @property
    def writable(self) -> dict[str, str]:
        """Standard fields a push may set."""
        return {f: t for f, t in self.fields.items() if f not in self.read_only}


def writable_tables() -> list[str]:
    return sorted(RULES)


def target_for(entity: Entity, custom: bool = False) -> Target:
    required, read_only = CUSTOM_OBJECT_RULES if custom else RULES[entity.table]
    fields = FIELDS["custom_object_records" if custom else entity.table]
    key = entity.primary_key[0]
    return Target(
        table=entity.table,
        path=entity.path,
        key=key,
        fields=dict(fields),
        required=required,
        read_only=frozenset({key, *SERVER_SET, *read_only}),
    )


def standard_target(table: str) -> Target | None:
    """The target of a standard object, or None when it is not writable."""
    entity = next((e for e in ENTITIES if e.table == table), None)
    if entity is None or table not in RULES:
        return None
    return target_for(entity)
