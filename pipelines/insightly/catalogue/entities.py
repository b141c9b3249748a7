"""The entity catalogue: every list endpoint of Insightly API v3.1 as data.

One row per warehouse table. The resource factory in `read/source.py` turns each row into
a dlt resource; nothing else in the package knows entity names. Paths, primary keys and
search support are the API's, as docs/api.md §3 lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from dlt.common.normalizers.naming.snake_case import NamingConvention


class Load(str, Enum):
    """How an entity is read and written."""

    INCREMENTAL = "incremental"  # /{path}/Search?updated_after_utc=..., merge on the primary key
    FULL = "full"  # every record on every run, replace


class Paging(str, Enum):
    """Which query parameters an endpoint takes."""

    PAGED = "paged"  # top/skip/count_total
    NONE = "none"  # the endpoint takes no parameters and returns everything


@dataclass(frozen=True)
class Entity:
    """One Insightly list endpoint and the table it loads into."""

    table: str
    path: str
    primary_key: tuple[str, ...]
    load: Load = Load.INCREMENTAL
    paging: Paging = Paging.PAGED
    brief_param: bool = True  # Users/Search and the lookup lists take no `brief`
    params: dict[str, str] = field(default_factory=dict)
    custom_fields: bool = False  # records carry CUSTOMFIELDS; /CustomFields/{path} has metadata
    lookup: bool = False  # rarely-changing reference data
    nested: tuple[str, ...] = ()  # nested arrays the records carry besides CUSTOMFIELDS
    single: bool = False  # the endpoint answers one object (Instance, Permissions), not a list

    @property
    def arrays(self) -> tuple[str, ...]:
        """Every nested array of the records, CUSTOMFIELDS included."""
        return (*self.nested, "CUSTOMFIELDS") if self.custom_fields else self.nested

    @property
    def list_path(self) -> str:
        """The path a read starts from: /Search for incremental entities."""
        return f"{self.path}/Search" if self.load is Load.INCREMENTAL else self.path


CURSOR = "DATE_UPDATED_UTC"
CUSTOMFIELDS = "CUSTOMFIELDS"


def _inc(
    table: str,
    path: str,
    pk: str,
    *nested: str,
    custom_fields: bool = False,
    brief: bool = True,
) -> Entity:
    return Entity(table, path, (pk,), custom_fields=custom_fields, brief_param=brief, nested=nested)


def _lookup(
    table: str,
    path: str,
    *pk: str,
    paging: Paging = Paging.PAGED,
    nested: tuple[str, ...] = (),
    single: bool = False,
    **params: str,
) -> Entity:
    return Entity(
        table,
        path,
        pk,
        load=Load.FULL,
        paging=paging,
        brief_param=False,
        params=dict(params),
        lookup=True,
        nested=nested,
        single=single,
    )


ORG_NESTED = ("TAGS", "LINKS", "DATES", "EMAILDOMAINS")

ENTITIES: tuple[Entity, ...] = (
    _inc("contacts", "Contacts", "CONTACT_ID", "TAGS", "LINKS", "DATES", custom_fields=True),
    _inc("leads", "Leads", "LEAD_ID", "TAGS", "LINKS", custom_fields=True),
    _inc("organisations", "Organisations", "ORGANISATION_ID", *ORG_NESTED, custom_fields=True),
    _inc("opportunities", "Opportunities", "OPPORTUNITY_ID", "TAGS", "LINKS", custom_fields=True),
    _inc("projects", "Projects", "PROJECT_ID", "TAGS", "LINKS", custom_fields=True),
    _inc("tasks", "Tasks", "TASK_ID", "LINKS", custom_fields=True),
    _inc("events", "Events", "EVENT_ID", "LINKS", custom_fields=True),
    _inc("notes", "Notes", "NOTE_ID", "LINKS"),
    # Emails carry no DATE_UPDATED_UTC, and their tags and links change after creation, so an
    # append-only cursor on EMAIL_DATE_UTC would miss changes: they are re-read in full.
    Entity("emails", "Emails", ("EMAIL_ID",), load=Load.FULL, nested=("TAGS", "LINKS")),
    _inc("milestones", "Milestones", "MILESTONE_ID"),
    _inc("users", "Users", "USER_ID", brief=False),
    _inc("tickets", "Ticket", "TICKET_ID", "TAGS", custom_fields=True),
    _inc("prospects", "Prospect", "PROSPECT_ID", "TAGS", custom_fields=True),
    _inc("products", "Product", "PRODUCT_ID", custom_fields=True),
    _inc("pricebooks", "Pricebook", "PRICEBOOK_ID"),
    _inc("pricebook_entries", "PricebookEntry", "PRICEBOOK_ENTRY_ID", custom_fields=True),
    _inc("quotations", "Quotation", "QUOTE_ID", custom_fields=True),
    _inc("quotation_line_items", "QuotationLineItem", "QUOTATION_ITEM_ID", custom_fields=True),
    _inc(
        "opportunity_line_items", "OpportunityLineItem", "OPPORTUNITY_ITEM_ID", custom_fields=True
    ),
    _inc("knowledge_articles", "KnowledgeArticle", "ARTICLE_ID", "TAGS", custom_fields=True),
    _inc("knowledge_article_categories", "KnowledgeArticleCategory", "CATEGORY_ID"),
    _inc("knowledge_article_folders", "KnowledgeArticleFolder", "FOLDER_ID"),
    _inc("community_forums", "CommunityForums", "FORUM_ID"),
    _inc("community_posts", "CommunityPosts", "POST_ID"),
    _inc("community_comments", "CommunityComments", "COMMENT_ID"),
    _inc("forum_categories", "ForumCategories", "FORUM_CATEGORY_ID"),
    _lookup("activity_sets", "ActivitySets", "ACTIVITYSET_ID", nested=("ACTIVITIES",)),
    _lookup("teams", "Teams", "TEAM_ID", nested=("TEAMMEMBERS",)),
    # A user can sit in several teams, so MEMBER_USER_ID alone (Airbyte's key) would collide.
    _lookup("team_members", "TeamMembers", "TEAM_ID", "MEMBER_USER_ID"),
    _lookup("pipelines", "Pipelines", "PIPELINE_ID"),
    _lookup("pipeline_stages", "PipelineStages", "STAGE_ID"),
    _lookup("relationships", "Relationships", "RELATIONSHIP_ID"),
    _lookup("opportunity_categories", "OpportunityCategories", "CATEGORY_ID"),
    _lookup("project_categories", "ProjectCategories", "CATEGORY_ID"),
    _lookup("task_categories", "TaskCategories", "CATEGORY_ID"),
    _lookup("file_categories", "FileCategories", "CATEGORY_ID"),
    _lookup("opportunity_state_reasons", "OpportunityStateReasons", "STATE_REASON_ID"),
    _lookup("lead_sources", "LeadSources", "LEAD_SOURCE_ID"),
    _lookup("lead_statuses", "LeadStatuses", "LEAD_STATUS_ID", include_converted="true"),
    _lookup("countries", "Countries", "COUNTRY_NAME", paging=Paging.NONE),
    _lookup("currencies", "Currencies", "CURRENCY_CODE", paging=Paging.NONE),
    # The calling user's follows only (docs/api.md §3): what the API key's user follows.
    _lookup("follows", "Follows", "RECORD_TYPE", "RECORD_ID"),
    # DocumentTemplates and MarketingVisits have /Search but no DATE_UPDATED_UTC: re-read.
    _lookup("document_templates", "DocumentTemplates", "TEMPLATE_ID"),
    _lookup("marketing_visits", "MarketingVisits", "VISIT_ID"),
    _lookup("instance", "Instance", "INSTANCE_SUBDOMAIN", paging=Paging.NONE, single=True),
    # One object for the calling user; its state names the one row. OBJECT_PERMISSIONS stays
    # a JSON column: its items' own PERMISSIONS_STATE would collide with a child's parent key.
    _lookup("permissions", "Permissions", "PERMISSIONS_STATE", paging=Paging.NONE, single=True),
)

# /Tags needs a record_type; one table holds them all, keyed by (RECORD_TYPE, TAG_NAME).
TAGS = _lookup("tags", "Tags", "RECORD_TYPE", "TAG_NAME")
TAG_RECORD_TYPES: tuple[str, ...] = (
    "contacts",
    "leads",
    "opportunities",
    "organisations",
    "projects",
    "emails",
)

CUSTOM_OBJECTS = _lookup("custom_objects", "CustomObjects", "OBJECT_NAME", paging=Paging.NONE)
CUSTOM_FIELDS = _lookup(
    "custom_fields",
    "CustomFields",
    "FIELD_FOR",
    "FIELD_NAME",
    paging=Paging.NONE,
    nested=("CUSTOM_FIELD_OPTIONS",),
)


@dataclass(frozen=True)
class PerRecord:
    """A list every record of some entities has, `/{Parent}/{id}/{path}` (read/activity.py reads
    it for the parents that changed, plus a resumable backfill). Rows carry PARENT_ENTITY
    (the parent's table) and PARENT_ID besides their own fields."""

    table: str
    path: str
    primary_key: tuple[str, ...]
    parents: tuple[str, ...]  # parent tables, from ENTITIES
    custom_objects: bool = False  # custom object records are parents too


PARENT_ENTITY, PARENT_ID = "PARENT_ENTITY", "PARENT_ID"
# docs/api.md §8. Ticket comments have a shape (and an id) of their own.
PER_RECORD: tuple[PerRecord, ...] = (
    PerRecord("comments", "Comments", ("COMMENT_ID",), ("tasks", "notes", "emails")),
    PerRecord("ticket_comments", "Comments", ("TICKET_COMMENT_ID",), ("tickets",)),
    PerRecord(
        "file_attachments",
        "FileAttachments",
        ("FILE_ID",),
        ("contacts", "leads", "organisations", "opportunities", "projects", "notes", "emails"),
        custom_objects=True,
    ),
)

TABLES: tuple[str, ...] = (
    *(e.table for e in ENTITIES),
    TAGS.table,
    CUSTOM_OBJECTS.table,
    CUSTOM_FIELDS.table,
    *(p.table for p in PER_RECORD),
)


def custom_object_entity(object_name: str, table: str) -> Entity:
    """A custom object's records (`/Fruit__c`), discovered at run time from /CustomObjects."""
    return _inc(table, object_name, "RECORD_ID", custom_fields=True)


_naming = NamingConvention()


def custom_table_name(object_name: str, taken: set[str]) -> str:
    """`Fruit__c` -> `custom_fruit`; a clash gets a numeric suffix, in name order."""
    base = object_name[:-3] if object_name.lower().endswith("__c") else object_name
    name = "custom_" + _naming.normalize_table_identifier(base).strip("_")
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    taken.add(candidate)
    return candidate


def custom_object_entities(definitions: list[dict]) -> list[Entity]:
    """One incremental entity per /CustomObjects definition, named in OBJECT_NAME order."""
    taken: set[str] = set()
    names = sorted(str(d["OBJECT_NAME"]) for d in definitions if d.get("OBJECT_NAME"))
    return [custom_object_entity(name, custom_table_name(name, taken)) for name in names]
