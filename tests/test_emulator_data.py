"""The emulator's data: the same seed gives the same bytes, every documented key present,
consistent references, mirrored links, custom fields and their metadata, lookups.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import httpx

from insightly_emulator import Emulator, EmulatorConfig

from . import emulator_helpers
from .emulator_helpers import KEY, LIST_PATHS, TS_FORMAT

# the shared fixtures, bound here so that pytest finds them for this module's tests
_reset = emulator_helpers._reset  # autouse: every switch back to its default after each test
emu = emulator_helpers.emu
client = emulator_helpers.client


def keys(text: str) -> list[str]:
    return text.split()


# facts §3.2, in the documented order
EXPECTED_KEYS = {
    "Contacts": keys(
        "CONTACT_ID SALUTATION FIRST_NAME LAST_NAME IMAGE_URL BACKGROUND VISIBLE_TO OWNER_USER_ID "
        "VISIBLE_TEAM_ID DATE_CREATED_UTC DATE_UPDATED_UTC SOCIAL_LINKEDIN SOCIAL_FACEBOOK "
        "SOCIAL_TWITTER DATE_OF_BIRTH PHONE PHONE_HOME PHONE_MOBILE PHONE_OTHER PHONE_ASSISTANT "
        "PHONE_FAX EMAIL_ADDRESS ASSISTANT_NAME ADDRESS_MAIL_STREET ADDRESS_MAIL_CITY "
        "ADDRESS_MAIL_STATE ADDRESS_MAIL_POSTCODE ADDRESS_MAIL_COUNTRY ADDRESS_OTHER_STREET "
        "ADDRESS_OTHER_CITY ADDRESS_OTHER_STATE ADDRESS_OTHER_POSTCODE ADDRESS_OTHER_COUNTRY "
        "LAST_ACTIVITY_DATE_UTC NEXT_ACTIVITY_DATE_UTC CREATED_USER_ID ORGANISATION_ID TITLE "
        "EMAIL_OPTED_OUT CUSTOMFIELDS TAGS DATES LINKS"
    ),
    "Leads": keys(
        "LEAD_ID SALUTATION FIRST_NAME LAST_NAME LEAD_SOURCE_ID LEAD_STATUS_ID TITLE CONVERTED "
        "CONVERTED_CONTACT_ID CONVERTED_DATE_UTC CONVERTED_OPPORTUNITY_ID "
        "CONVERTED_ORGANISATION_ID DATE_CREATED_UTC DATE_UPDATED_UTC EMAIL EMPLOYEE_COUNT FAX "
        "INDUSTRY LEAD_DESCRIPTION LEAD_RATING MOBILE OWNER_USER_ID PHONE RESPONSIBLE_USER_ID "
        "WEBSITE ADDRESS_STREET ADDRESS_CITY ADDRESS_STATE ADDRESS_POSTCODE ADDRESS_COUNTRY "
        "LAST_ACTIVITY_DATE_UTC NEXT_ACTIVITY_DATE_UTC VISIBLE_TO VISIBLE_TEAM_ID "
        "ORGANISATION_NAME CREATED_USER_ID IMAGE_URL EMAIL_OPTED_OUT CUSTOMFIELDS TAGS LINKS "
        "LINKED_EMAIL_ADDRESS"
    ),
    "Emails": keys(
        "EMAIL_ID EMAIL_FROM SUBJECT EMAIL_DATE_UTC FORMAT SIZE OWNER_USER_ID DATE_CREATED_UTC "
        "QUEUED_SEND_DATE_UTC CREATED_USER_ID TAGS LINKS"
    ),
    "Notes": keys("NOTE_ID TITLE BODY DATE_CREATED_UTC DATE_UPDATED_UTC OWNER_USER_ID LINKS"),
    "Ticket": keys(
        "TICKET_ID TICKET_NUMBER TICKET_TYPE SUBJECT TICKET_STATUS PRIORITY TO_EMAIL_ADDRESS "
        "SOURCE CONTACT_ID ORGANISATION_ID BRAND_ID CREATED_USER_ID OWNER_USER_ID "
        "DATE_CREATED_UTC DATE_UPDATED_UTC DATE_SOLVED_UTC DATE_CLOSED_UTC "
        "TicketCommentBodyHtml CUSTOMFIELDS TAGS"
    ),
    "KnowledgeArticle": keys(
        "ARTICLE_ID ARTICLE_NO CATEGORY_ID FOLDER_ID OWNER_USER_ID CREATED_USER_ID "
        "DATE_CREATED_UTC DATE_UPDATED_UTC FIRST_PUBLISHED_DATE_UTC LAST_PUBLISHED_DATE_UTC "
        "ARCHIVED_DATE_UTC PROMOTED UPVOTE_COUNT DOWNVOTE_COUNT URL_SLUG Title Body Status "
        "Language ArticleVersion ExternalLinkCount CUSTOMFIELDS TAGS"
    ),
    "Fruit__c": keys(
        "RECORD_ID RECORD_NAME OWNER_USER_ID DATE_CREATED_UTC DATE_UPDATED_UTC CREATED_USER_ID "
        "VISIBLE_TO VISIBLE_TEAM_ID CUSTOMFIELDS"
    ),
    "Teams": keys("TEAM_ID TEAM_NAME ANONYMOUS_TEAM DATE_CREATED_UTC DATE_UPDATED_UTC TEAMMEMBERS"),
    "Milestones": keys(
        "MILESTONE_ID TITLE COMPLETED DUE_DATE OWNER_USER_ID DATE_CREATED_UTC DATE_UPDATED_UTC "
        "COMPLETED_DATE_UTC PROJECT_ID RESPONSIBLE_USER"
    ),
}
# every key that must be present (order not checked) for further entities, facts §3.2
MUST_HAVE = {
    "Organisations": "ORGANISATION_ID ORGANISATION_NAME WEBSITE ADDRESS_BILLING_COUNTRY "
    "ADDRESS_SHIP_COUNTRY VISIBLE_TEAM_ID CUSTOMFIELDS TAGS DATES EMAILDOMAINS LINKS",
    "Opportunities": "OPPORTUNITY_ID OPPORTUNITY_STATE BID_CURRENCY BID_AMOUNT PROBABILITY "
    "FORECAST_CLOSE_DATE PIPELINE_ID STAGE_ID PRICEBOOK_ID CUSTOMFIELDS TAGS LINKS",
    "Tasks": "TASK_ID DUE_DATE COMPLETED_DATE_UTC COMPLETED PUBLICLY_VISIBLE PARENT_TASK_ID "
    "ASSIGNED_TEAM_ID CUSTOMFIELDS LINKS",
    "Users": "USER_ID CONTACT_ID TIMEZONE_ID EMAIL_DROPBOX_ADDRESS ADMINISTRATOR "
    "ACCOUNT_OWNER ACTIVE USER_CURRENCY INSTANCE_ID PROFILE_ID ROLE_ID",
    "Quotation": "QUOTE_ID QUOTATION_NAME OPPORTUNITY_ID PRICEBOOK_ID LINE_ITEM_COUNT "
    "GRAND_TOTAL ADDRESS_SHIPPING_POSTCODE CUSTOMFIELDS",
    "ActivitySets": "ACTIVITYSET_ID NAME FOR_CONTACTS FOR_LEADS OWNER_USER_ID ACTIVITIES",
    "CustomObjects": "OBJECT_NAME SINGULAR_LABEL PLURAL_LABEL RECORD_NAME_TYPE ENABLE_NAVBAR",
}
METADATA_KEYS = keys(
    "FIELD_NAME FIELD_ORDER FIELD_FOR FIELD_LABEL FIELD_TYPE FIELD_HELP_TEXT DEFAULT_VALUE "
    "EDITABLE VISIBLE CUSTOM_FIELD_OPTIONS DEPENDENCY JOIN_OBJECT"
)
FIELD_TYPES = {
    "TEXT", "MULTILINETEXT", "DROPDOWN", "MULTISELECT", "BIT", "NUMERIC", "PERCENT", "DATE",
    "DATETIME", "AUTONUMBER", "URL", "LOOKUP",
}  # fmt: skip


# ---------------------------------------------------------------------------- data
def test_same_seed_same_bytes_other_seed_other_bytes(emu: Emulator, client) -> None:
    paths = ("Contacts?top=500&skip=500", "Ticket", "CustomFields/Contacts", "Teams", "Fruit__c")
    with (
        Emulator(EmulatorConfig(seed=7, profile="test", api_key=KEY)) as twin,
        Emulator(EmulatorConfig(seed=8, profile="test", api_key=KEY)) as other,
    ):
        for path in paths:
            mine = client.get(path).content
            assert httpx.get(twin.base_url + path, auth=(KEY, "")).content == mine, path
            if path != "CustomFields/Contacts":
                assert httpx.get(other.base_url + path, auth=(KEY, "")).content != mine, path


def test_every_documented_key_is_present_with_nulls(emu: Emulator, client) -> None:
    for path, expected in EXPECTED_KEYS.items():
        for rec in client.get(path, params={"top": 200}).json():
            assert list(rec) == expected, path
    for path, must in MUST_HAVE.items():
        for rec in client.get(path).json():
            assert set(must.split()) <= set(rec), path
    nulls = Counter(k for r in emu.tenant.records("Contacts") for k, v in r.items() if v is None)
    assert nulls["SOCIAL_FACEBOOK"] > 0 and nulls["ORGANISATION_ID"] > 0
    stamp = client.get("Contacts").json()[0]["DATE_CREATED_UTC"]
    assert datetime.strptime(stamp, TS_FORMAT)


def test_realistic_and_consistent_references(emu: Emulator) -> None:
    t = emu.tenant
    ids = {p: {r[LIST_PATHS[p]] for r in t.records(p)} for p in LIST_PATHS if p != "Countries"}
    contacts = t.records("Contacts")
    names = [f"{c['FIRST_NAME']} {c['LAST_NAME']}" for c in contacts]
    assert any(not n.isascii() for n in names)
    assert all(c["OWNER_USER_ID"] in ids["Users"] for c in contacts)
    assert all(c["ORGANISATION_ID"] in ids["Organisations"] | {None} for c in contacts)
    stages = {s["STAGE_ID"]: s["PIPELINE_ID"] for s in t.records("PipelineStages")}
    opps = t.records("Opportunities")
    assert {o["OPPORTUNITY_STATE"] for o in opps} == {"OPEN", "WON", "LOST", "ABANDONED",
                                                       "SUSPENDED"}  # fmt: skip
    assert all(stages[o["STAGE_ID"]] == o["PIPELINE_ID"] for o in opps)
    assert all(o["PRICEBOOK_ID"] in ids["Pricebook"] for o in opps)
    leads = t.records("Leads")
    statuses = {s["LEAD_STATUS_ID"]: s for s in t.records("LeadStatuses")}
    assert all(lead["LEAD_SOURCE_ID"] in ids["LeadSources"] | {None} for lead in leads)
    converted = [lead for lead in leads if lead["CONVERTED"]]
    assert converted and all(c["CONVERTED_CONTACT_ID"] in ids["Contacts"] for c in converted)
    assert all(statuses[c["LEAD_STATUS_ID"]]["LEAD_STATUS"] == "Converted" for c in converted)
    tasks = t.records("Tasks")
    overdue = [x for x in tasks if not x["COMPLETED"] and x["DUE_DATE"] < "2026-06-30"]
    assert overdue and any(x["COMPLETED"] for x in tasks)
    members = Counter(m["MEMBER_USER_ID"] for m in t.records("TeamMembers"))
    assert max(members.values()) >= 2
    nested = [m for team in t.records("Teams") for m in team["TEAMMEMBERS"]]
    assert nested == t.records("TeamMembers")
    assert all(a["ACTIVITYSET_ID"] == s["ACTIVITYSET_ID"]
               for s in t.records("ActivitySets") for a in s["ACTIVITIES"])  # fmt: skip
    for item in t.records("OpportunityLineItem"):
        assert item["OPPORTUNITY_ID"] in ids["Opportunities"]
        assert item["PRICEBOOK_ENTRY_ID"] in ids["PricebookEntry"]
    quotes = {q["QUOTE_ID"]: q for q in t.records("Quotation")}
    per_quote = Counter(i["QUOTE_ID"] for i in t.records("QuotationLineItem"))
    assert all(q["LINE_ITEM_COUNT"] == per_quote[qid] for qid, q in quotes.items())
    assert any(len(n["BODY"]) > 5000 for n in t.records("Notes"))
    ticket = t.records("Ticket")[0]
    assert ticket["TicketCommentBodyHtml"].startswith("<")
    posts = {p["POST_ID"] for p in t.records("CommunityPosts")}
    assert all(c["POST_ID"] in posts for c in t.records("CommunityComments"))


def test_links_are_mirrored_on_both_ends(emu: Emulator) -> None:
    singular = {"Contact": "Contacts", "Organisation": "Organisations", "Lead": "Leads",
                "Opportunity": "Opportunities", "Project": "Projects", "Task": "Tasks",
                "Event": "Events", "Note": "Notes", "Email": "Emails"}  # fmt: skip
    by_end: dict[tuple[int, str, int], dict] = {}
    for obj, path in singular.items():
        for rec in emu.tenant.records(path):
            for link in rec["LINKS"]:
                assert link["OBJECT_NAME"] == obj
                assert link["OBJECT_ID"] == rec[LIST_PATHS[path]]
                by_end[(link["LINK_ID"], obj, link["OBJECT_ID"])] = link
    assert len(by_end) > 1000
    for link in by_end.values():
        other = by_end[(link["LINK_ID"], link["LINK_OBJECT_NAME"], link["LINK_OBJECT_ID"])]
        assert other["LINK_OBJECT_NAME"] == link["OBJECT_NAME"]
        assert other["LINK_OBJECT_ID"] == link["OBJECT_ID"]
        assert other["IS_FORWARD"] is not link["IS_FORWARD"]
        assert (other["ROLE"], other["RELATIONSHIP_ID"]) == (link["ROLE"], link["RELATIONSHIP_ID"])
    assert set(singular) >= {link["LINK_OBJECT_NAME"] for link in by_end.values()}
    contacts = emu.tenant.records("Contacts")
    employer = {
        (link["OBJECT_ID"], link["LINK_OBJECT_ID"])
        for c in contacts
        for link in c["LINKS"]
        if link["LINK_OBJECT_NAME"] == "Organisation" and link["IS_FORWARD"]
    }
    assert {(c["CONTACT_ID"], c["ORGANISATION_ID"]) for c in contacts if c["ORGANISATION_ID"]} == (
        employer
    )


def test_custom_fields_metadata_and_value_types(emu: Emulator, client) -> None:
    meta = client.get("CustomFields/Contacts").json()
    assert client.get("CustomFields/Contact").json() == meta
    assert client.get("customfields/CONTACTS").json() == meta
    assert client.get("CustomFields/Notes").json() == []
    everything = client.get("CustomFields/NoSuchObject").json()
    assert len(everything) > len(meta) and {m["FIELD_FOR"] for m in everything} >= {
        "CONTACT", "FRUIT__C", "PROJECT_SITE__C", "TICKET", "KNOWLEDGEARTICLE", "PRODUCT",
    }  # fmt: skip
    for m in everything:
        assert set(m) == set(METADATA_KEYS)
        has_options = m["FIELD_TYPE"] in ("DROPDOWN", "MULTISELECT")
        assert bool(m["CUSTOM_FIELD_OPTIONS"]) is has_options
        assert (m["JOIN_OBJECT"] is not None) is (m["FIELD_TYPE"] == "LOOKUP")
        assert m["EDITABLE"] is (m["FIELD_TYPE"] != "AUTONUMBER")
    assert {m["FIELD_TYPE"] for m in meta} == FIELD_TYPES
    labels = {m["FIELD_NAME"]: m["FIELD_LABEL"] for m in meta}
    assert labels["Kundenzufriedenheit__c"] == 'Kundenzufriedenheit "NPS" ✓'
    assert "CONTACT_FIELD_3" in labels
    assert any(m["DEPENDENCY"] for m in everything)
    one = client.get("CustomFields/Contacts/Search", params={"field_name": "Hobby__c"}).json()
    assert one == meta[0]
    fruit = client.get("CustomObjects/fruit__c").json()
    assert fruit["OBJECT_NAME"] == "Fruit__c"
    assert client.get("CustomObjects/Nope__c").status_code == 404

    types = {m["FIELD_NAME"]: m for m in meta}
    values = [cf for r in emu.tenant.records("Contacts") for cf in r["CUSTOMFIELDS"]]
    unset = sum(1 for v in values if v["FIELD_VALUE"] is None) / len(values)
    assert 0.08 < unset < 0.22
    checks = {
        "TEXT": lambda v: isinstance(v, str),
        "MULTILINETEXT": lambda v: isinstance(v, str),
        "URL": lambda v: isinstance(v, str) and v.startswith("https://"),
        "AUTONUMBER": lambda v: isinstance(v, str),
        "BIT": lambda v: isinstance(v, bool),
        "NUMERIC": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "PERCENT": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "DATE": lambda v: datetime.strptime(v, TS_FORMAT).strftime("%H:%M:%S") == "00:00:00",
        "DATETIME": lambda v: bool(datetime.strptime(v, TS_FORMAT)),
        "LOOKUP": lambda v: isinstance(v, int),
    }
    seen_numeric: set[type] = set()
    for cf in values:
        m, v = types[cf["FIELD_NAME"]], cf["FIELD_VALUE"]
        assert cf["CUSTOM_FIELD_ID"] == cf["FIELD_NAME"]
        if v is None:
            continue
        kind = m["FIELD_TYPE"]
        options = [o["OPTION_VALUE"] for o in m["CUSTOM_FIELD_OPTIONS"]]
        if kind == "DROPDOWN":
            assert v in options
        elif kind == "MULTISELECT":
            assert isinstance(v, str) and set(v.split(";")) <= set(options)
        else:
            assert checks[kind](v), (cf, kind)
        if kind == "NUMERIC":
            seen_numeric.add(type(v))
    assert seen_numeric == {int, float}
    multi = [
        cf["FIELD_VALUE"] for cf in values if types[cf["FIELD_NAME"]]["FIELD_TYPE"] == "MULTISELECT"
    ]
    assert any(";" in v for v in multi if v)


def test_unset_custom_fields_null_or_omitted(emu: Emulator, client) -> None:
    n_fields = len(client.get("CustomFields/Contacts").json())
    full = client.get("Contacts", params={"top": 50}).json()
    assert all(len(r["CUSTOMFIELDS"]) == n_fields for r in full)
    emu.configure(unset_custom_fields="omit")
    omitted = client.get("Contacts", params={"top": 50}).json()
    for f, o in zip(full, omitted, strict=True):
        assert o["CUSTOMFIELDS"] == [c for c in f["CUSTOMFIELDS"] if c["FIELD_VALUE"] is not None]
    assert emu.tenant.records("Contacts")[:50] == omitted


def test_lookup_lists_and_single_objects(emu: Emulator, client) -> None:
    statuses = client.get("LeadStatuses").json()
    all_statuses = client.get("LeadStatuses", params={"include_converted": "true"}).json()
    assert len(all_statuses) == len(statuses) + 1
    assert emu.tenant.records("LeadStatuses") == all_statuses
    instance = client.get("Instance").json()
    assert set(instance) == {"INSTANCE_NAME", "INSTANCE_SUBDOMAIN", "PLAN_NAME",
                             "NEW_USER_EXPERIENCE_ENABLED"}  # fmt: skip
    permissions = client.get("Permissions").json()
    assert isinstance(permissions, dict) and permissions["OBJECT_PERMISSIONS"]
    currencies = client.get("Currencies").json()
    assert {"CURRENCY_CODE": "EUR", "CURRENCY_SYMBOL": "€"} in currencies
