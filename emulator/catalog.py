"""The entity table (docs/api.md §3) and the v3.1 record shapes, as data.

One ``EntitySpec`` per API collection says how it is addressed (path, wrong forms that
give 405), what parameters it takes (kind), whether it has ``/Search``, its primary key,
and the exact key order of its records.  The router, the store and the generator all read
this table, so a new entity is one entry here plus one builder.
"""

from __future__ import annotations

from dataclasses import dataclass

# kind:
#   "record": brief, skip, top, count_total (entity lists, ActivitySets, Teams, custom objects)
#   "lookup": skip, top, count_total (simple lookup lists, Users, Follows, MarketingVisits)
#   "static": no parameters, everything at once (Countries, Currencies, CustomObjects)


@dataclass(frozen=True)
class EntitySpec:
    """How one collection is served and what its records look like."""

    name: str  # exact API path name, e.g. "Contacts", "Ticket", "Fruit__c"
    pk: str
    fields: tuple[str, ...]
    kind: str = "record"
    search: bool = False
    has_updated: bool = False  # records carry DATE_UPDATED_UTC
    has_created: bool = True  # records carry DATE_CREATED_UTC (drives the time arrays)
    link_name: str | None = None  # singular object name used in LINKS, e.g. "Contact"
    custom_for: str | None = None  # FIELD_FOR of its custom fields, e.g. "CONTACT"
    tag_type: str | None = None  # record_type of /Tags, e.g. "contacts"
    search_by_tag: bool = False
    wrong_forms: tuple[str, ...] = ()  # other spellings that answer 405
    scales: bool = True  # multiplied by EmulatorConfig.scale
    numeric_pk: bool = True  # single GET /{name}/{id} exists


def _f(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ADDR_MAIL = "ADDRESS_MAIL_STREET ADDRESS_MAIL_CITY ADDRESS_MAIL_STATE ADDRESS_MAIL_POSTCODE"
_ADDR_OTHER = "ADDRESS_OTHER_STREET ADDRESS_OTHER_CITY ADDRESS_OTHER_STATE ADDRESS_OTHER_POSTCODE"
CONTACT_FIELDS = _f(
    "CONTACT_ID SALUTATION FIRST_NAME LAST_NAME IMAGE_URL BACKGROUND VISIBLE_TO OWNER_USER_ID "
    "VISIBLE_TEAM_ID DATE_CREATED_UTC DATE_UPDATED_UTC SOCIAL_LINKEDIN SOCIAL_FACEBOOK "
    "SOCIAL_TWITTER DATE_OF_BIRTH PHONE PHONE_HOME PHONE_MOBILE PHONE_OTHER PHONE_ASSISTANT "
    f"PHONE_FAX EMAIL_ADDRESS ASSISTANT_NAME {_ADDR_MAIL} ADDRESS_MAIL_COUNTRY {_ADDR_OTHER} "
    "ADDRESS_OTHER_COUNTRY LAST_ACTIVITY_DATE_UTC NEXT_ACTIVITY_DATE_UTC CREATED_USER_ID "
    "ORGANISATION_ID TITLE EMAIL_OPTED_OUT CUSTOMFIELDS TAGS DATES LINKS"
)
LEAD_FIELDS = _f(
    "LEAD_ID SALUTATION FIRST_NAME LAST_NAME LEAD_SOURCE_ID LEAD_STATUS_ID TITLE CONVERTED "
    "CONVERTED_CONTACT_ID CONVERTED_DATE_UTC CONVERTED_OPPORTUNITY_ID CONVERTED_ORGANISATION_ID "
    "DATE_CREATED_UTC DATE_UPDATED_UTC EMAIL EMPLOYEE_COUNT FAX INDUSTRY LEAD_DESCRIPTION "
    "LEAD_RATING MOBILE OWNER_USER_ID PHONE RESPONSIBLE_USER_ID WEBSITE ADDRESS_STREET "
    "ADDRESS_CITY ADDRESS_STATE ADDRESS_POSTCODE ADDRESS_COUNTRY LAST_ACTIVITY_DATE_UTC "
    "NEXT_ACTIVITY_DATE_UTC VISIBLE_TO VISIBLE_TEAM_ID ORGANISATION_NAME CREATED_USER_ID "
    "IMAGE_URL EMAIL_OPTED_OUT CUSTOMFIELDS TAGS LINKS LINKED_EMAIL_ADDRESS"
)
ORGANISATION_FIELDS = _f(
    "ORGANISATION_ID ORGANISATION_NAME BACKGROUND IMAGE_URL OWNER_USER_ID DATE_CREATED_UTC "
    "DATE_UPDATED_UTC LAST_ACTIVITY_DATE_UTC NEXT_ACTIVITY_DATE_UTC CREATED_USER_ID PHONE "
    "PHONE_FAX WEBSITE ADDRESS_BILLING_STREET ADDRESS_BILLING_CITY ADDRESS_BILLING_STATE "
    "ADDRESS_BILLING_COUNTRY ADDRESS_BILLING_POSTCODE ADDRESS_SHIP_STREET ADDRESS_SHIP_CITY "
    "ADDRESS_SHIP_STATE ADDRESS_SHIP_POSTCODE ADDRESS_SHIP_COUNTRY SOCIAL_LINKEDIN "
    "SOCIAL_FACEBOOK SOCIAL_TWITTER VISIBLE_TO VISIBLE_TEAM_ID CUSTOMFIELDS TAGS DATES "
    "EMAILDOMAINS LINKS"
)
OPPORTUNITY_FIELDS = _f(
    "OPPORTUNITY_ID OPPORTUNITY_NAME OPPORTUNITY_DETAILS OPPORTUNITY_STATE RESPONSIBLE_USER_ID "
    "CATEGORY_ID IMAGE_URL BID_CURRENCY BID_AMOUNT BID_TYPE BID_DURATION ACTUAL_CLOSE_DATE "
    "DATE_CREATED_UTC DATE_UPDATED_UTC OPPORTUNITY_VALUE PROBABILITY FORECAST_CLOSE_DATE "
    "OWNER_USER_ID LAST_ACTIVITY_DATE_UTC NEXT_ACTIVITY_DATE_UTC PIPELINE_ID STAGE_ID "
    "CREATED_USER_ID ORGANISATION_ID PRICEBOOK_ID LINKED_EMAIL_ADDRESS VISIBLE_TO "
    "VISIBLE_TEAM_ID CUSTOMFIELDS TAGS LINKS"
)
PROJECT_FIELDS = _f(
    "PROJECT_ID PROJECT_NAME STATUS PROJECT_DETAILS STARTED_DATE COMPLETED_DATE OPPORTUNITY_ID "
    "CATEGORY_ID PIPELINE_ID STAGE_ID IMAGE_URL OWNER_USER_ID DATE_CREATED_UTC DATE_UPDATED_UTC "
    "LAST_ACTIVITY_DATE_UTC NEXT_ACTIVITY_DATE_UTC CREATED_USER_ID RESPONSIBLE_USER_ID "
    "LINKED_EMAIL_ADDRESS VISIBLE_TO VISIBLE_TEAM_ID CUSTOMFIELDS TAGS LINKS"
)
TASK_FIELDS = _f(
    "TASK_ID TITLE CATEGORY_ID DUE_DATE COMPLETED_DATE_UTC COMPLETED DETAILS STATUS PRIORITY "
    "PERCENT_COMPLETE START_DATE MILESTONE_ID PUBLICLY_VISIBLE RESPONSIBLE_USER_ID OWNER_USER_ID "
    "DATE_CREATED_UTC DATE_UPDATED_UTC EMAIL_ID PROJECT_ID REMINDER_DATE_UTC REMINDER_SENT "
    "OWNER_VISIBLE STAGE_ID ASSIGNED_BY_USER_ID PARENT_TASK_ID RECURRENCE OPPORTUNITY_ID "
    "ASSIGNED_TEAM_ID ASSIGNED_DATE_UTC CREATED_USER_ID CUSTOMFIELDS LINKS"
)
EVENT_FIELDS = _f(
    "EVENT_ID TITLE LOCATION START_DATE_UTC END_DATE_UTC ALL_DAY DETAILS DATE_CREATED_UTC "
    "DATE_UPDATED_UTC REMINDER_DATE_UTC REMINDER_SENT OWNER_USER_ID CUSTOMFIELDS LINKS"
)
NOTE_FIELDS = _f("NOTE_ID TITLE BODY DATE_CREATED_UTC DATE_UPDATED_UTC OWNER_USER_ID LINKS")
EMAIL_FIELDS = _f(
    "EMAIL_ID EMAIL_FROM SUBJECT EMAIL_DATE_UTC FORMAT SIZE OWNER_USER_ID DATE_CREATED_UTC "
    "QUEUED_SEND_DATE_UTC CREATED_USER_ID TAGS LINKS"
)
MILESTONE_FIELDS = _f(
    "MILESTONE_ID TITLE COMPLETED DUE_DATE OWNER_USER_ID DATE_CREATED_UTC DATE_UPDATED_UTC "
    "COMPLETED_DATE_UTC PROJECT_ID RESPONSIBLE_USER"
)
USER_FIELDS = _f(
    "USER_ID CONTACT_ID FIRST_NAME LAST_NAME TIMEZONE_ID EMAIL_ADDRESS EMAIL_DROPBOX_IDENTIFIER "
    "EMAIL_DROPBOX_ADDRESS ADMINISTRATOR ACCOUNT_OWNER ACTIVE DATE_CREATED_UTC DATE_UPDATED_UTC "
    "USER_CURRENCY CONTACT_DISPLAY CONTACT_ORDER TASK_WEEK_START INSTANCE_ID PROFILE_ID ROLE_ID"
)
PROSPECT_FIELDS = _f(
    "PROSPECT_ID LEAD_ID CONTACT_ID ORGANISATION_ID SALUTATION FIRST_NAME LAST_NAME "
    "ORGANISATION_NAME TITLE EMAIL_ADDRESS PHONE MOBILE FAX WEBSITE ADDRESS_STREET ADDRESS_CITY "
    "ADDRESS_STATE ADDRESS_POSTCODE ADDRESS_COUNTRY INDUSTRY EMPLOYEE_COUNT SCORE GRADE "
    "GRADE_PROFILE_ID DESCRIPTION DO_NOT_EMAIL DO_NOT_CALL DO_NOT_SYNC OPTED_OUT "
    "LAST_ACTIVITY_DATE_UTC LEAD_CONVERSION_DATE_UTC CREATED_USER_ID OWNER_USER_ID VISIBLE_TO "
    "VISIBLE_TEAM_ID DATE_CREATED_UTC DATE_UPDATED_UTC CUSTOMFIELDS TAGS"
)
TICKET_FIELDS = _f(
    "TICKET_ID TICKET_NUMBER TICKET_TYPE SUBJECT TICKET_STATUS PRIORITY TO_EMAIL_ADDRESS SOURCE "
    "CONTACT_ID ORGANISATION_ID BRAND_ID CREATED_USER_ID OWNER_USER_ID DATE_CREATED_UTC "
    "DATE_UPDATED_UTC DATE_SOLVED_UTC DATE_CLOSED_UTC TicketCommentBodyHtml CUSTOMFIELDS TAGS"
)
ARTICLE_FIELDS = _f(
    "ARTICLE_ID ARTICLE_NO CATEGORY_ID FOLDER_ID OWNER_USER_ID CREATED_USER_ID DATE_CREATED_UTC "
    "DATE_UPDATED_UTC FIRST_PUBLISHED_DATE_UTC LAST_PUBLISHED_DATE_UTC ARCHIVED_DATE_UTC "
    "PROMOTED UPVOTE_COUNT DOWNVOTE_COUNT URL_SLUG Title Body Status Language ArticleVersion "
    "ExternalLinkCount CUSTOMFIELDS TAGS"
)
ARTICLE_CATEGORY_FIELDS = _f(
    "CATEGORY_ID CATEGORY_NAME DESCRIPTION CREATED_USER_ID DATE_CREATED_UTC DATE_UPDATED_UTC"
)
ARTICLE_FOLDER_FIELDS = _f(
    "FOLDER_ID FOLDER_NAME CATEGORY_ID VISIBILITY ORDER_ARTICLES CREATED_USER_ID "
    "DATE_CREATED_UTC DATE_UPDATED_UTC"
)
PRODUCT_FIELDS = _f(
    "PRODUCT_ID PRODUCT_NAME PRODUCT_CODE PRODUCT_SKU DESCRIPTION PRODUCT_FAMILY "
    "PRODUCT_IMAGE_URL CURRENCY_CODE DEFAULT_PRICE DATE_CREATED_UTC DATE_UPDATED_UTC "
    "CREATED_USER_ID OWNER_USER_ID ACTIVE CUSTOMFIELDS"
)
PRICEBOOK_FIELDS = _f(
    "PRICEBOOK_ID NAME DESCRIPTION CURRENCY_CODE IS_STANDARD ACTIVE OWNER_USER_ID "
    "CREATED_USER_ID DATE_CREATED_UTC DATE_UPDATED_UTC"
)
PRICEBOOK_ENTRY_FIELDS = _f(
    "PRICEBOOK_ENTRY_ID PRICEBOOK_ID PRODUCT_ID CURRENCY_CODE PRICE USE_STANDARD_PRICE ACTIVE "
    "CREATED_USER_ID DATE_CREATED_UTC DATE_UPDATED_UTC CUSTOMFIELDS"
)
QUOTATION_FIELDS = _f(
    "QUOTE_ID QUOTATION_NAME OPPORTUNITY_ID CONTACT_ID ORGANISATION_ID PRICEBOOK_ID "
    "QUOTATION_NUMBER QUOTATION_DESCRIPTION QUOTATION_PHONE QUOTATION_EMAIL QUOTATION_FAX "
    "QUOTE_STATUS QUOTATION_EXPIRATION_DATE LINE_ITEM_COUNT IS_SYNCING QUOTATION_CURRENCY_CODE "
    "SUBTOTAL DISCOUNT TOTAL_PRICE SHIPPING_HANDLING TAX GRAND_TOTAL ADDRESS_BILLING_NAME "
    "ADDRESS_BILLING_STREET ADDRESS_BILLING_CITY ADDRESS_BILLING_STATE ADDRESS_BILLING_COUNTRY "
    "ADDRESS_BILLING_POSTCODE ADDRESS_SHIPPING_NAME ADDRESS_SHIPPING_STREET ADDRESS_SHIPPING_CITY "
    "ADDRESS_SHIPPING_STATE ADDRESS_SHIPPING_COUNTRY ADDRESS_SHIPPING_POSTCODE OWNER_USER_ID "
    "DATE_CREATED_UTC DATE_UPDATED_UTC CREATED_USER_ID CUSTOMFIELDS"
)
QUOTATION_ITEM_FIELDS = _f(
    "QUOTATION_ITEM_ID QUOTE_ID OPPORTUNITY_ITEM_ID PRICEBOOK_ENTRY_ID DESCRIPTION CURRENCY_CODE "
    "QUANTITY LIST_PRICE UNIT_PRICE SUBTOTAL DISCOUNT TOTAL_PRICE DATE_CREATED_UTC "
    "DATE_UPDATED_UTC SORT_ORDER CUSTOMFIELDS"
)
OPPORTUNITY_ITEM_FIELDS = _f(
    "OPPORTUNITY_ITEM_ID OPPORTUNITY_ID PRICEBOOK_ENTRY_ID CURRENCY_CODE UNIT_PRICE DESCRIPTION "
    "QUANTITY SERVICE_DATE TOTAL_PRICE DATE_CREATED_UTC DATE_UPDATED_UTC LIST_PRICE SUBTOTAL "
    "DISCOUNT CUSTOMFIELDS"
)
CUSTOM_RECORD_FIELDS = _f(
    "RECORD_ID RECORD_NAME OWNER_USER_ID DATE_CREATED_UTC DATE_UPDATED_UTC CREATED_USER_ID "
    "VISIBLE_TO VISIBLE_TEAM_ID CUSTOMFIELDS"
)
CUSTOM_OBJECT_FIELDS = _f(
    "OBJECT_NAME SINGULAR_LABEL PLURAL_LABEL DESCRIPTION RECORD_NAME_LABEL RECORD_NAME_TYPE "
    "RECORD_NAME_DISPLAY_FORMAT ENABLE_NAVBAR ENABLE_WORKFLOWS CREATED_USER_ID DATE_CREATED_UTC "
    "DATE_UPDATED_UTC"
)
ACTIVITYSET_FIELDS = _f(
    "ACTIVITYSET_ID NAME FOR_CONTACTS FOR_ORGANISATIONS FOR_OPPORTUNITIES FOR_PROJECTS "
    "FOR_LEADS OWNER_USER_ID ACTIVITIES"
)
ACTIVITY_FIELDS = _f(
    "ACTIVITY_ID ACTIVITYSET_ID ACTIVITY_NAME ACTIVITY_DETAILS ACTIVITY_TYPE CATEGORY_ID "
    "REMINDER REMINDER_DAYS_BEFORE_DUE REMINDER_TIME PUBLICLY_VISIBLE OWNER_VISIBLE "
    "OWNER_USER_ID RESPONSIBLE_USER_ID ASSIGNED_TEAM_ID SKIP_SUN SKIP_MON SKIP_TUE SKIP_WED "
    "SKIP_THU SKIP_FRI SKIP_SAT DUE_DAYS_AFTER_START DUE_DAYS_BEFORE_END EVENT_DAYS_AFTER_START "
    "EVENT_DAYS_BEFORE_END EVENT_TIME ALL_DAY DURATION"
)
TEAM_FIELDS = _f("TEAM_ID TEAM_NAME ANONYMOUS_TEAM DATE_CREATED_UTC DATE_UPDATED_UTC TEAMMEMBERS")
TEAM_MEMBER_FIELDS = _f("PERMISSION_ID TEAM_ID MEMBER_USER_ID")
CATEGORY_FIELDS = _f("CATEGORY_ID CATEGORY_NAME ACTIVE BACKGROUND_COLOR")
FORUM_CATEGORY_FIELDS = _f("FORUM_CATEGORY_ID CATEGORY_NAME DATE_CREATED_UTC DATE_UPDATED_UTC")
FORUM_FIELDS = _f(
    "FORUM_ID FORUM_NAME DESCRIPTION FORUM_CATEGORY_ID FORUM_TYPE FORUM_ORDER VISIBILITY "
    "CREATED_USER_ID DATE_CREATED_UTC DATE_UPDATED_UTC"
)
POST_FIELDS = _f(
    "POST_ID FORUM_ID POST_NAME MESSAGE STATUS TICKET_ID CLOSED FEATURED PINNED PENDING SPAM "
    "COMMENT_COUNT FOLLOWER_COUNT VIEW_COUNT UPVOTE_COUNT DOWNVOTE_COUNT CREATED_CONTACT_ID "
    "EDITED_CONTACT_ID DATE_CREATED_UTC DATE_EDITED_UTC DATE_UPDATED_UTC"
)
COMMENT_FIELDS = _f(
    "COMMENT_ID POST_ID FORUM_ID BODY ANSWER OFFICIAL PENDING SPAM UPVOTE_COUNT DOWNVOTE_COUNT "
    "CREATED_CONTACT_ID EDITED_CONTACT_ID DATE_CREATED_UTC DATE_EDITED_UTC DATE_UPDATED_UTC"
)
TEMPLATE_FIELDS = _f(
    "TEMPLATE_ID TEMPLATE_NAME RELATED_OBJECT_NAME TEMPLATE_FILE_TYPE ACTIVE DATE_CREATED_UTC"
)
VISIT_FIELDS = _f(
    "VISIT_ID PROSPECT_ID FIRST_PAGE_VIEW_DATE_UTC LAST_PAGE_VIEW_DATE_UTC PAGE_VIEW_COUNT "
    "PAGE_REFERRER REFR_MEDIUM REFR_SOURCE MKT_SOURCE MKT_MEDIUM MKT_CONTENT MKT_TERM "
    "MKT_NETWORK MKT_CLICKID"
)

_REC = {"kind": "record", "search": True, "has_updated": True}
_LOOKUP = {"kind": "lookup", "scales": False, "has_created": False}


def _e(name: str, pk: str, fields: tuple[str, ...], **kw: object) -> EntitySpec:
    return EntitySpec(name=name, pk=pk, fields=fields, **kw)  # type: ignore[arg-type]


SPECS: tuple[EntitySpec, ...] = (
    # --- main CRM objects (Search, incremental) ---------------------------------------------
    _e("Contacts", "CONTACT_ID", CONTACT_FIELDS, **_REC, link_name="Contact",
       custom_for="CONTACT", tag_type="contacts", search_by_tag=True, wrong_forms=("contact",)),
    _e("Leads", "LEAD_ID", LEAD_FIELDS, **_REC, link_name="Lead", custom_for="LEAD",
       tag_type="leads", search_by_tag=True, wrong_forms=("lead",)),
    _e("Organisations", "ORGANISATION_ID", ORGANISATION_FIELDS, **_REC,
       link_name="Organisation", custom_for="ORGANISATION", tag_type="organisations",
       search_by_tag=True, wrong_forms=("organisation",)),
    _e("Opportunities", "OPPORTUNITY_ID", OPPORTUNITY_FIELDS, **_REC, link_name="Opportunity",
       custom_for="OPPORTUNITY", tag_type="opportunities", search_by_tag=True,
       wrong_forms=("opportunity",)),
    _e("Projects", "PROJECT_ID", PROJECT_FIELDS, **_REC, link_name="Project",
       custom_for="PROJECT", tag_type="projects", search_by_tag=True, wrong_forms=("project",)),
    _e("Tasks", "TASK_ID", TASK_FIELDS, **_REC, link_name="Task", custom_for="TASK",
       wrong_forms=("task",)),
    _e("Events", "EVENT_ID", EVENT_FIELDS, **_REC, link_name="Event", custom_for="EVENT",
       wrong_forms=("event",)),
    _e("Notes", "NOTE_ID", NOTE_FIELDS, **_REC, link_name="Note", wrong_forms=("note",)),
    _e("Emails", "EMAIL_ID", EMAIL_FIELDS, kind="record", search=True, has_updated=False,
       link_name="Email", tag_type="emails", search_by_tag=True, wrong_forms=("email",)),
    _e("Milestones", "MILESTONE_ID", MILESTONE_FIELDS, **_REC, link_name="Milestone",
       wrong_forms=("milestone",)),
    _e("Users", "USER_ID", USER_FIELDS, kind="lookup", search=True, has_updated=True,
       scales=False, wrong_forms=("user",)),
    _e("KnowledgeArticle", "ARTICLE_ID", ARTICLE_FIELDS, **_REC,
       custom_for="KNOWLEDGEARTICLE", search_by_tag=True, wrong_forms=("knowledgearticles",)),
    _e("KnowledgeArticleCategory", "CATEGORY_ID", ARTICLE_CATEGORY_FIELDS, **_REC,
       scales=False, wrong_forms=("knowledgearticlecategories",)),
    _e("KnowledgeArticleFolder", "FOLDER_ID", ARTICLE_FOLDER_FIELDS, **_REC, scales=False,
       wrong_forms=("knowledgearticlefolders",)),
    _e("Prospect", "PROSPECT_ID", PROSPECT_FIELDS, **_REC, custom_for="PROSPECT",
       search_by_tag=True, wrong_forms=("prospects",)),
    _e("Ticket", "TICKET_ID", TICKET_FIELDS, **_REC, custom_for="TICKET", search_by_tag=True,
       wrong_forms=("tickets",)),
    _e("Product", "PRODUCT_ID", PRODUCT_FIELDS, **_REC, custom_for="PRODUCT",
       wrong_forms=("products",)),
    _e("Pricebook", "PRICEBOOK_ID", PRICEBOOK_FIELDS, **_REC, scales=False,
       wrong_forms=("pricebooks",)),
    _e("PricebookEntry", "PRICEBOOK_ENTRY_ID", PRICEBOOK_ENTRY_FIELDS, **_REC,
       custom_for="PRICEBOOKENTRY", wrong_forms=("pricebookentries",)),
    _e("Quotation", "QUOTE_ID", QUOTATION_FIELDS, **_REC, custom_for="QUOTATION",
       wrong_forms=("quotations",)),
    _e("QuotationLineItem", "QUOTATION_ITEM_ID", QUOTATION_ITEM_FIELDS, **_REC,
       custom_for="QUOTATIONLINEITEM", wrong_forms=("quotationlineitems",)),
    _e("OpportunityLineItem", "OPPORTUNITY_ITEM_ID", OPPORTUNITY_ITEM_FIELDS, **_REC,
       custom_for="OPPORTUNITYLINEITEM", wrong_forms=("opportunitylineitems",)),
    _e("Fruit__c", "RECORD_ID", CUSTOM_RECORD_FIELDS, **_REC, custom_for="FRUIT__C"),
    _e("Project_Site__c", "RECORD_ID", CUSTOM_RECORD_FIELDS, **_REC,
       custom_for="PROJECT_SITE__C"),
    _e("CommunityForums", "FORUM_ID", FORUM_FIELDS, **_REC, scales=False,
       wrong_forms=("communityforum",)),
    _e("CommunityPosts", "POST_ID", POST_FIELDS, **_REC, wrong_forms=("communitypost",)),
    _e("CommunityComments", "COMMENT_ID", COMMENT_FIELDS, **_REC,
       wrong_forms=("communitycomment",)),
    _e("ForumCategories", "FORUM_CATEGORY_ID", FORUM_CATEGORY_FIELDS, **_REC, scales=False,
       wrong_forms=("forumcategory",)),
    _e("DocumentTemplates", "TEMPLATE_ID", TEMPLATE_FIELDS, kind="record", search=True,
       has_updated=False, scales=False, wrong_forms=("documenttemplate",)),
    # --- lists without /Search ---------------------------------------------------------------
    _e("ActivitySets", "ACTIVITYSET_ID", ACTIVITYSET_FIELDS, kind="record", scales=False,
       has_created=False, wrong_forms=("activityset",)),
    _e("Teams", "TEAM_ID", TEAM_FIELDS, kind="record", has_updated=True, scales=False,
       wrong_forms=("team",)),
    _e("TeamMembers", "PERMISSION_ID", TEAM_MEMBER_FIELDS, **_LOOKUP, wrong_forms=("teammember",)),
    _e("Pipelines", "PIPELINE_ID", _f("PIPELINE_ID PIPELINE_NAME FOR_OPPORTUNITIES FOR_PROJECTS "
       "OWNER_USER_ID"), **_LOOKUP, wrong_forms=("pipeline",)),
    _e("PipelineStages", "STAGE_ID", _f("STAGE_ID PIPELINE_ID STAGE_NAME STAGE_ORDER "
       "ACTIVITYSET_ID OWNER_USER_ID"), **_LOOKUP, wrong_forms=("pipelinestage",)),
    _e("Relationships", "RELATIONSHIP_ID", _f("RELATIONSHIP_ID FORWARD_TITLE FORWARD "
       "REVERSE_TITLE REVERSE FOR_CONTACTS FOR_ORGANISATIONS"), **_LOOKUP,
       wrong_forms=("relationship",)),
    _e("OpportunityCategories", "CATEGORY_ID", CATEGORY_FIELDS, **_LOOKUP,
       wrong_forms=("opportunitycategory",)),
    _e("ProjectCategories", "CATEGORY_ID", CATEGORY_FIELDS, **_LOOKUP,
       wrong_forms=("projectcategory",)),
    _e("TaskCategories", "CATEGORY_ID", CATEGORY_FIELDS, **_LOOKUP,
       wrong_forms=("taskcategory",)),
    _e("FileCategories", "CATEGORY_ID", CATEGORY_FIELDS, **_LOOKUP,
       wrong_forms=("filecategory",)),
    _e("OpportunityStateReasons", "STATE_REASON_ID", _f("STATE_REASON_ID STATE_REASON "
       "FOR_OPPORTUNITY_STATE"), **_LOOKUP, wrong_forms=("opportunitystatereason",)),
    _e("LeadSources", "LEAD_SOURCE_ID", _f("LEAD_SOURCE_ID LEAD_SOURCE DEFAULT_VALUE "
       "FIELD_ORDER"), **_LOOKUP, wrong_forms=("leadsource",)),
    _e("LeadStatuses", "LEAD_STATUS_ID", _f("LEAD_STATUS_ID LEAD_STATUS DEFAULT_STATUS "
       "STATUS_TYPE FIELD_ORDER"), **_LOOKUP, wrong_forms=("leadstatus",)),
    _e("Follows", "RECORD_ID", _f("RECORD_TYPE RECORD_ID"), **_LOOKUP, numeric_pk=False,
       wrong_forms=("follow",)),
    _e("MarketingVisits", "VISIT_ID", VISIT_FIELDS, kind="lookup", has_created=False,
       wrong_forms=("marketingvisit",)),
    # --- no parameters -----------------------------------------------------------------------
    _e("Countries", "COUNTRY_NAME", ("COUNTRY_NAME",), kind="static", scales=False,
       has_created=False, numeric_pk=False, wrong_forms=("country",)),
    _e("Currencies", "CURRENCY_CODE", ("CURRENCY_CODE", "CURRENCY_SYMBOL"), kind="static",
       scales=False, has_created=False, numeric_pk=False, wrong_forms=("currency",)),
    _e("CustomObjects", "OBJECT_NAME", CUSTOM_OBJECT_FIELDS, kind="static", scales=False,
       numeric_pk=False, wrong_forms=("customobject",)),
)  # fmt: skip

# Custom objects that only the custom-heavy tenant has (tenants.py): addressable by name,
# but outside SPECS, so the standard tenant neither lists nor serves them.
EXTRA_SPECS: tuple[EntitySpec, ...] = tuple(
    _e(name, "RECORD_ID", CUSTOM_RECORD_FIELDS, **_REC, custom_for=name.upper())
    for name in ("Vehicle__c", "Service_Contract__c", "Asset__c", "Survey_Response__c")
)
BY_NAME: dict[str, EntitySpec] = {s.name: s for s in SPECS + EXTRA_SPECS}
BY_LOWER: dict[str, EntitySpec] = {s.name.lower(): s for s in SPECS + EXTRA_SPECS}
WRONG_FORMS: frozenset[str] = frozenset(w for s in SPECS for w in s.wrong_forms) | {"milestone"}
CUSTOM_OBJECTS: tuple[str, ...] = tuple(s.name for s in SPECS if s.name.endswith("__c"))
TAG_TYPES: dict[str, str] = {s.tag_type: s.name for s in SPECS if s.tag_type}

# Endpoints that are not collections of records but still have a name for switches
# (fail_next={"Instance": [500]} etc.).
SPECIAL_ENDPOINTS = (
    "Tags", "CustomFields", "Instance", "Permissions", "Comments", "FileAttachments",
)  # fmt: skip
SPECIAL_WRONG_FORMS = frozenset({"tag", "customfield", "instances", "permission"})


def spec(name: str) -> EntitySpec:
    """Look an entity up by API name, case-insensitively; KeyError if unknown."""
    found = BY_LOWER.get(name.lower())
    if found is None:
        raise KeyError(f"unknown entity {name!r}")
    return found


def canonical(name: str) -> str:
    """Canonical spelling of an entity or special endpoint name (for switch keys)."""
    found = BY_LOWER.get(name.lower())
    if found is not None:
        return found.name
    for special in SPECIAL_ENDPOINTS:
        if special.lower() == name.lower():
            return special
    return name
