"""The Insightly emulator, tested over real HTTP against /work/shared/insightly-api.md.

Expectations (paths, key lists, formats) are written out from the facts file here rather
than read from the emulator's own catalogue, so a drift in the emulator shows up.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from insightly_emulator import Emulator, EmulatorConfig

KEY = "test-key"
DEFAULT_SWITCHES = {
    name: getattr(EmulatorConfig(), name)
    for name in (
        "daily_limit", "rate_limit_per_s", "max_in_flight", "retry_after", "latency_ms",
        "top_over_max", "order", "brief_arrays", "emails_updated_after", "list_updated_after",
        "search_filter_combination", "unset_custom_fields", "forbidden", "non_array",
        "broken_json", "fail_next", "latency_jitter_ms", "gzip_level", "cache_mb",
        "readahead_pages", "fault_rate", "fault_mix", "timeout_hold_s", "drift",
    )
}  # fmt: skip
TS_FORMAT = "%Y-%m-%d %H:%M:%S"

# facts §2.2: every list path (exact spelling) of the entity table, with its primary key
LIST_PATHS = {
    "Contacts": "CONTACT_ID", "Leads": "LEAD_ID", "Organisations": "ORGANISATION_ID",
    "Opportunities": "OPPORTUNITY_ID", "Projects": "PROJECT_ID", "Tasks": "TASK_ID",
    "Events": "EVENT_ID", "Notes": "NOTE_ID", "Emails": "EMAIL_ID", "Milestones": "MILESTONE_ID",
    "Users": "USER_ID", "KnowledgeArticle": "ARTICLE_ID", "KnowledgeArticleCategory": "CATEGORY_ID",
    "KnowledgeArticleFolder": "FOLDER_ID", "Prospect": "PROSPECT_ID", "Ticket": "TICKET_ID",
    "Product": "PRODUCT_ID", "Pricebook": "PRICEBOOK_ID", "PricebookEntry": "PRICEBOOK_ENTRY_ID",
    "Quotation": "QUOTE_ID", "QuotationLineItem": "QUOTATION_ITEM_ID",
    "OpportunityLineItem": "OPPORTUNITY_ITEM_ID", "Fruit__c": "RECORD_ID",
    "Project_Site__c": "RECORD_ID", "CommunityComments": "COMMENT_ID",
    "CommunityForums": "FORUM_ID", "CommunityPosts": "POST_ID",
    "ForumCategories": "FORUM_CATEGORY_ID", "DocumentTemplates": "TEMPLATE_ID",
    "ActivitySets": "ACTIVITYSET_ID", "Teams": "TEAM_ID", "TeamMembers": "PERMISSION_ID",
    "Pipelines": "PIPELINE_ID", "PipelineStages": "STAGE_ID", "Relationships": "RELATIONSHIP_ID",
    "OpportunityCategories": "CATEGORY_ID", "ProjectCategories": "CATEGORY_ID",
    "TaskCategories": "CATEGORY_ID", "FileCategories": "CATEGORY_ID",
    "OpportunityStateReasons": "STATE_REASON_ID", "LeadSources": "LEAD_SOURCE_ID",
    "LeadStatuses": "LEAD_STATUS_ID", "Countries": "COUNTRY_NAME",
    "Currencies": "CURRENCY_CODE", "Follows": "RECORD_ID", "MarketingVisits": "VISIT_ID",
    "CustomObjects": "OBJECT_NAME",
}  # fmt: skip
SEARCH_PATHS = (
    "Contacts", "Leads", "Organisations", "Opportunities", "Projects", "Tasks", "Events",
    "Notes", "Emails", "Milestones", "Users", "KnowledgeArticle", "KnowledgeArticleCategory",
    "KnowledgeArticleFolder", "Prospect", "Ticket", "Product", "Pricebook", "PricebookEntry",
    "Quotation", "QuotationLineItem", "OpportunityLineItem", "Fruit__c", "Project_Site__c",
    "CommunityComments", "CommunityForums", "CommunityPosts", "ForumCategories",
    "DocumentTemplates",
)  # fmt: skip
INCREMENTAL = [p for p in SEARCH_PATHS if p not in ("Emails", "DocumentTemplates")]


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


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """The "test" profile, shared: tests here may switch but never mutate data."""
    with Emulator(EmulatorConfig(seed=7, profile="test", api_key=KEY)) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _reset(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "emu" in request.fixturenames:
        emulator = request.getfixturevalue("emu")
        emulator.configure(**{k: _fresh(v) for k, v in DEFAULT_SWITCHES.items()})
        emulator.reset_quota()
        emulator.clear_requests()


def _fresh(value):
    if isinstance(value, dict):
        return dict(value)  # fault_mix defaults to every kind
    return type(value)() if isinstance(value, (set, list)) else value


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, auth=(KEY, ""), timeout=30) as c:
        yield c


@pytest.fixture
def tiny() -> Iterator[Emulator]:
    """A small private tenant for mutation tests."""
    with Emulator(EmulatorConfig(seed=3, profile="tiny", api_key=KEY)) as emulator:
        yield emulator


def page_all(client: httpx.Client, path: str, top: int = 500, **params) -> list[dict]:
    out, skip = [], 0
    while True:
        r = client.get(path, params={**params, "top": top, "skip": skip})
        assert r.status_code == 200, r.text
        page = r.json()
        out.extend(page)
        if len(page) < top:
            return out
        skip += top


def basic(raw: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


# ---------------------------------------------------------------------------- transport
def test_auth_accepts_key_alone_key_colon_and_any_password(emu: Emulator) -> None:
    for raw in (KEY, f"{KEY}:", f"{KEY}:anything-at-all"):
        r = httpx.get(emu.base_url + "Countries", headers=basic(raw))
        assert r.status_code == 200, raw
    for headers in ({}, basic("wrong-key:"), basic(f"{KEY}x"), {"Authorization": "Bearer x"}):
        r = httpx.get(emu.base_url + "Contacts", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"Message": "Authentication failed"}
        assert "wrong-key" not in r.text
        assert r.headers["x-ratelimit-limit"] == "100000"
        assert "x-ratelimit-remaining" in r.headers


def test_headers_content_type_and_gzip(client: httpx.Client) -> None:
    r = client.get("Contacts", params={"top": 50}, headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["content-encoding"] == "gzip"
    assert len(r.json()) == 50
    raw = httpx.get(
        client.base_url.join("Contacts?top=50"),
        auth=(KEY, ""),
        headers={"Accept-Encoding": "identity"},
    )
    assert "content-encoding" not in raw.headers
    assert raw.json() == r.json()
    with httpx.stream(
        "GET",
        str(client.base_url.join("Contacts?top=50")),
        auth=(KEY, ""),
        headers={"Accept-Encoding": "gzip"},
    ) as streamed:
        body = b"".join(streamed.iter_raw())
    assert json.loads(gzip.decompress(body)) == r.json()  # fmt: skip


def test_paths_are_case_insensitive_and_wrong_forms_give_405(client: httpx.Client) -> None:
    for path in ("contacts", "CONTACTS", "Contacts/", "contacts/search", "ticket", "FRUIT__C"):
        assert client.get(path, params={"top": 1}).status_code == 200, path
    wrong = (
        "Tickets", "Products", "Contact", "Milestone", "Prospects", "Organisation",
        "KnowledgeArticles", "Pricebooks", "Quotations", "tickets/Search", "Tickets/12",
    )  # fmt: skip
    for path in wrong:
        r = client.get(path)
        assert r.status_code == 405, path
        assert "Message" in r.json()
    for path in ("Nothing", "Contacts/Nothing", "Countries/Search", "Teams/Search", ""):
        assert client.get(path).status_code == 404, path
    # lookups are read-only (write facts §1.2); Contacts accept writes (test_emulator_writes)
    assert client.post("Countries", json={}).status_code == 405


def test_every_entity_of_the_table_is_served_and_nonempty(emu: Emulator, client) -> None:
    assert set(LIST_PATHS) <= set(emu.tenant.entities())
    for path, pk in LIST_PATHS.items():
        r = client.get(path)
        assert r.status_code == 200, path
        body = r.json()
        assert isinstance(body, list) and body, path
        assert all(pk in rec for rec in body), path
    for path in SEARCH_PATHS:
        assert client.get(f"{path}/Search", params={"top": 1}).status_code == 200, path
    sizes = {p: len(emu.tenant.records(p)) for p in LIST_PATHS}
    assert sizes["Contacts"] == 1250 and sizes["Organisations"] == 510
    assert sizes["Leads"] == 500 and sizes["Opportunities"] == 320 and sizes["Emails"] == 260
    assert all(n >= 1 for n in sizes.values())


def test_single_record_get_and_404(emu: Emulator, client) -> None:
    for path in ("Contacts", "Ticket", "Fruit__c", "Users", "Pipelines"):
        first = emu.tenant.records(path)[0]
        pk = LIST_PATHS[path]
        r = client.get(f"{path}/{first[pk]}")
        assert r.status_code == 200 and r.json() == first
        missing = client.get(f"{path}/1")
        assert missing.status_code == 404 and "Message" in missing.json()
    me = client.get("Users/Me").json()
    assert me["USER_ID"] in {u["USER_ID"] for u in emu.tenant.records("Users")}


# ---------------------------------------------------------------------------- paging
def test_top_default_max_and_clamp_or_error(emu: Emulator, client) -> None:
    assert len(client.get("Contacts").json()) == 100
    assert len(client.get("Contacts/Search").json()) == 100
    assert len(client.get("Contacts", params={"top": 500}).json()) == 500
    assert len(client.get("Contacts", params={"top": 501}).json()) == 500
    emu.configure(top_over_max="error")
    r = client.get("Contacts", params={"top": 501})
    assert r.status_code == 400 and "Message" in r.json()
    assert client.get("Contacts", params={"top": 500}).status_code == 200
    assert client.get("Contacts", params={"top": "x"}).status_code == 400
    assert client.get("Contacts", params={"skip": -1}).status_code == 400


def test_skip_count_total_and_empty_page_past_the_end(emu: Emulator, client) -> None:
    ids = [r["LEAD_ID"] for r in emu.tenant.records("Leads")]
    r = client.get("Leads", params={"skip": 120, "top": 30})
    assert [x["LEAD_ID"] for x in r.json()] == ids[120:150]
    assert "x-total-count" not in r.headers
    r = client.get("Leads", params={"skip": 0, "top": 500, "count_total": "true"})
    assert r.headers["x-total-count"] == "500" and len(r.json()) == 500
    r = client.get("Leads", params={"skip": 500, "top": 500, "count_total": "true"})
    assert r.json() == [] and r.headers["x-total-count"] == "500"
    assert client.get("Leads", params={"skip": 10_000}).json() == []
    r = client.get("LeadSources", params={"top": 3, "skip": 2, "count_total": "true"})
    assert len(r.json()) == 3 and r.headers["x-total-count"] == "8"
    r = client.get("Countries", params={"top": 2, "skip": 5})  # no parameters: all, always
    assert len(r.json()) == len(emu.tenant.records("Countries")) > 2


@pytest.mark.parametrize("order", ["id", "updated", "unordered"])
def test_every_order_pages_through_the_whole_set_once(emu: Emulator, client, order) -> None:
    emu.configure(order=order)
    expected = {r["CONTACT_ID"] for r in emu.tenant.records("Contacts")}
    for path in ("Contacts", "Contacts/Search"):
        got = [r["CONTACT_ID"] for r in page_all(client, path, top=137)]
        assert len(got) == len(set(got)) == len(expected)
        assert set(got) == expected
    again = [r["CONTACT_ID"] for r in page_all(client, "Contacts", top=500)]
    assert again == got  # stable across requests
    if order == "id":
        assert got == sorted(got)
    if order == "updated":
        stamps = [r["DATE_UPDATED_UTC"] for r in page_all(client, "Contacts", top=500)]
        assert stamps == sorted(stamps) and got != sorted(got)
    if order == "unordered":
        assert got != sorted(got)


# ---------------------------------------------------------------------------- drift
DRIFT = {"entity": "Contacts", "every_n_pages": 1, "creates": 2, "updates": 3, "deletes": 2}


def naive_pages(client: httpx.Client, path: str, top: int, **params) -> list[int]:
    """A serial pager that trusts skip/top: ids in the order they were served."""
    ids: list[int] = []
    skip = 0
    while True:
        page = client.get(path, params={**params, "top": top, "skip": skip}).json()
        ids += [r["CONTACT_ID"] for r in page]
        if len(page) < top:
            return ids
        skip += top


@pytest.mark.parametrize("order", ["id", "updated", "unordered"])
@pytest.mark.parametrize("path", ["Contacts", "Contacts/Search"])
def test_drift_makes_a_naive_pager_miss_or_repeat_records(order: str, path: str) -> None:
    config = EmulatorConfig(seed=11, profile="tiny", api_key=KEY, order=order,
                            sizes={"Contacts": 400}, drift=DRIFT)  # fmt: skip
    clock_before = int(time.time())
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, auth=(KEY, "")) as c:
        start = [r["CONTACT_ID"] for r in emu.tenant.records("Contacts")]
        params = {"updated_after_utc": "2000-01-01"} if path.endswith("Search") else {}
        got = naive_pages(c, path, 50, **params)
        log = emu.drift_log
        assert httpx.get(emu.url + "/_emulator/drift").json() == [e._asdict() for e in log]
        final = {r["CONTACT_ID"]: r for r in emu.tenant.records("Contacts")}

    pages = len(got) // 50 + 1
    assert Counter(e.op for e in log) == {"create": 2 * pages, "update": 3 * pages,
                                          "delete": 2 * pages}  # fmt: skip
    created = {e.id for e in log if e.op == "create"}
    deleted = {e.id for e in log if e.op == "delete"}
    assert set(final) == (set(start) | created) - deleted  # the log explains the end state
    assert all(e.entity == "Contacts" and e.time >= clock_before for e in log)
    for e in log:
        if e.op == "update" and e.id in final and e.id not in deleted:
            last = max(x.time for x in log if x.id == e.id and x.op == "update")
            stamp = datetime.fromtimestamp(int(last), timezone.utc).strftime(TS_FORMAT)
            assert final[e.id]["DATE_UPDATED_UTC"] == stamp  # bumped to the clock

    always_there = set(start) - deleted  # a correct read returns each of these
    missed = always_there - set(got)
    repeated = [i for i, n in Counter(got).items() if n > 1]
    assert missed or repeated, order
    if order == "updated":
        assert repeated  # an update moves a record behind the cursor: it comes again


def test_drift_every_n_pages_counts_only_the_drift_entity(emu: Emulator, client) -> None:
    drift = {"entity": "leads", "every_n_pages": 2, "updates": 1}
    config = EmulatorConfig(seed=5, profile="tiny", api_key=KEY, sizes={"Leads": 60}, drift=drift)
    with (
        Emulator(config) as drifting,
        httpx.Client(base_url=drifting.base_url, auth=(KEY, "")) as c,
    ):
        for skip in range(0, 50, 10):
            c.get("Leads", params={"top": 10, "skip": skip})
            c.get("Contacts")  # other entities do not count
        drifting.configure(fail_next={"Leads": ["truncated"]})
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("Leads")  # a faulted page is not a served page
        assert [(e.op, e.entity) for e in drifting.drift_log] == [("update", "Leads")] * 2
        drifting.clear_drift_log()
        assert drifting.drift_log == []
        drifting.configure(drift={})
        c.get("Leads")
        assert drifting.drift_log == []
    with pytest.raises(ValueError):
        emu.configure(drift={"entity": "Countries", "updates": 1})
    with pytest.raises(ValueError):
        emu.configure(drift={"entity": "Contacts", "every_n_pages": 0})
    with pytest.raises(ValueError):
        emu.configure(drift={"entity": "Contacts", "sideways": 1})


# ---------------------------------------------------------------------------- cache and order
def _paged(c: httpx.Client, path: str, top: int, **params) -> tuple[list[int], int]:
    ids, skip, total = [], 0, -1
    while True:
        r = c.get(path, params={**params, "top": top, "skip": skip, "count_total": "true"})
        total = int(r.headers["x-total-count"])
        ids += [x["CONTACT_ID"] for x in r.json()]
        if len(r.json()) < top:
            return ids, total
        skip += top


def test_orders_and_time_filters_stay_right_through_mutations() -> None:
    config = EmulatorConfig(seed=21, profile="tiny", api_key=KEY, sizes={"Contacts": 300})
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, auth=(KEY, "")) as c:
        cuts = ["2024-06-01 00:00:00", "2026-01-01 00:00:00", "2026-06-29 00:00:00"]

        def check() -> None:
            records = emu.tenant.records("Contacts")
            for order in ("id", "updated", "unordered"):
                emu.configure(order=order)
                everything, total = _paged(c, "Contacts", 37)
                assert total == len(records) == len(everything)
                for cut in cuts:
                    got, total = _paged(c, "Contacts/Search", 37, updated_after_utc=cut)
                    wanted = [r for r in records if r["DATE_UPDATED_UTC"] > cut]
                    assert total == len(got) == len(wanted), (order, cut)
                    if order == "id":
                        assert got == [r["CONTACT_ID"] for r in wanted]
                    elif order == "updated":
                        by_time = sorted(wanted, key=lambda r: r["DATE_UPDATED_UTC"])  # stable
                        assert got == [r["CONTACT_ID"] for r in by_time]
                    else:  # a filtered read keeps the unfiltered read's order
                        keep = {r["CONTACT_ID"] for r in wanted}
                        assert got == [i for i in everything if i in keep]
            emu.configure(order="id")

        check()  # builds the sorted structures; the mutations below must maintain them
        ids = [r["CONTACT_ID"] for r in emu.tenant.records("Contacts")]
        at = datetime(2026, 1, 1, tzinfo=timezone.utc)
        for n, record_id in enumerate(ids[::7]):
            emu.tenant.update("Contacts", record_id, at=at + timedelta(seconds=n % 3))
        for record_id in ids[3::11]:
            emu.tenant.delete("Contacts", record_id)
        emu.tenant.create("Contacts", DATE_UPDATED_UTC="2020-01-01 00:00:00")
        emu.tenant.create("Contacts")
        emu.tenant.update("Contacts", ids[1], at=datetime(2019, 5, 5, tzinfo=timezone.utc))
        check()


def test_cached_pages_follow_mutations_and_modes() -> None:
    config = EmulatorConfig(seed=4, profile="test", api_key=KEY)
    with Emulator(config) as emu, httpx.Client(base_url=emu.base_url, auth=(KEY, "")) as c:

        def served(**params) -> list[dict]:
            return c.get("Contacts", params={"top": 500, **params}).json()

        first = served()
        assert served() == first == emu.tenant.records("Contacts")[:500]  # now from cache
        brief = served(brief="true")
        assert all("LINKS" not in r for r in brief)
        linked = next(r for r in first[5:] if r["ORGANISATION_ID"] and r["LINKS"])  # not edited
        org = linked["ORGANISATION_ID"]
        emu.tenant.update("Contacts", first[0]["CONTACT_ID"], {"TITLE": "Cache Buster"})
        emu.tenant.delete("Organisations", org)  # its contacts lose the link
        emu.tenant.update("Contacts", first[1]["CONTACT_ID"], {"CUSTOMFIELDS": {"Hobby__c": None}})
        expected = emu.tenant.records("Contacts")[:500]
        assert served() == expected and expected[0]["TITLE"] == "Cache Buster"
        again = next(r for r in served() if r["CONTACT_ID"] == linked["CONTACT_ID"])
        assert all(link["LINK_OBJECT_ID"] != org for link in again["LINKS"])
        assert c.get(f"Contacts/{linked['CONTACT_ID']}").json() == again
        emu.configure(unset_custom_fields="omit")
        omitted = served()
        assert omitted == emu.tenant.records("Contacts")[:500] != expected
        assert all(f["FIELD_VALUE"] is not None for r in omitted for f in r["CUSTOMFIELDS"])
        emu.configure(brief_arrays="empty", cache_mb=0, readahead_pages=0)
        assert all(r["LINKS"] == [] for r in served(brief="true"))
        assert served(brief="false") == omitted


SAME_SECOND = datetime(2026, 7, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_render_workers_serve_the_same_bytes() -> None:
    config = {"seed": 9, "profile": "test", "api_key": KEY}
    with (
        Emulator(EmulatorConfig(**config)) as alone,
        Emulator(EmulatorConfig(**config, render_workers=1, readahead_pages=0)) as helped,
    ):
        for emu in (alone, helped):  # the same changes on both: workers get only untouched
            ids = [r["CONTACT_ID"] for r in emu.tenant.records("Contacts")]  # records, and
            orgs = [r["ORGANISATION_ID"] for r in emu.tenant.records("Organisations")]
            emu.tenant.delete("Organisations", orgs[2])  # LINKS must drop deleted ends
            emu.tenant.delete("Contacts", ids[700])
            # one fixed time for both: the two updates may fall in different seconds
            emu.tenant.update("Contacts", ids[3], {"TITLE": "Overlaid"}, at=SAME_SECOND)
        paths = ["Contacts?top=500", "Contacts?top=500&skip=500&brief=true",
                 "Organisations?top=500", "Contacts/Search?top=500&skip=600"]  # fmt: skip
        for unset in ("null", "omit"):
            for emu in (alone, helped):
                emu.configure(unset_custom_fields=unset)
            for path in paths:
                got = [
                    httpx.get(emu.base_url + path, auth=(KEY, ""),
                              headers={"Accept-Encoding": "identity"}).content
                    for emu in (alone, helped)
                ]  # fmt: skip
                assert got[0] == got[1], (path, unset)
        health = httpx.get(helped.url + "/_emulator/health").json()["render_workers"]
        assert health["processes"] == 1 and health["records"] > 0
        helped.configure(render_workers=0)
        assert (
            httpx.get(helped.url + "/_emulator/health").json()["render_workers"]["processes"] == 0
        )


@pytest.mark.parametrize("level", [0, 9])
def test_gzip_level_switch(emu: Emulator, level: int) -> None:
    emu.configure(gzip_level=level)
    url, headers = emu.base_url + "Contacts?top=100", {"Accept-Encoding": "gzip"}
    r = httpx.get(url, auth=(KEY, ""), headers=headers)
    assert r.headers.get("content-encoding") == ("gzip" if level else None)
    assert r.json() == emu.tenant.records("Contacts")[:100]
    with pytest.raises(ValueError):
        emu.configure(gzip_level=10)


# ---------------------------------------------------------------------------- search
def _boundary(records: list[dict]) -> str:
    """A DATE_UPDATED_UTC value shared by several records (a bulk update second)."""
    stamps = Counter(r["DATE_UPDATED_UTC"] for r in records)
    stamp, n = stamps.most_common(1)[0]
    assert n > 1
    return stamp


@pytest.mark.parametrize("path", ["Contacts", "Leads", "Ticket", "Fruit__c", "Users"])
def test_updated_after_is_strict_in_all_three_formats(emu: Emulator, client, path) -> None:
    records = emu.tenant.records(path)
    pk = LIST_PATHS[path]
    stamp = _boundary(records) if path in ("Contacts", "Leads") else records[3]["DATE_UPDATED_UTC"]
    moment = datetime.strptime(stamp, TS_FORMAT)
    formats = {
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"): stamp,
        stamp: stamp,
        moment.strftime("%Y-%m-%d"): moment.strftime("%Y-%m-%d 00:00:00"),
    }
    for given, cut in formats.items():
        want = {r[pk] for r in records if r["DATE_UPDATED_UTC"] > cut}
        got = page_all(client, f"{path}/Search", updated_after_utc=given)
        assert {r[pk] for r in got} == want, given
        assert all(r["DATE_UPDATED_UTC"] > cut for r in got)
        r = client.get(f"{path}/Search", params={"updated_after_utc": given, "count_total": "true"})
        assert r.headers["x-total-count"] == str(len(want))
    same_second = {r[pk] for r in records if r["DATE_UPDATED_UTC"] == stamp}
    got = {r[pk] for r in page_all(client, f"{path}/Search", updated_after_utc=stamp)}
    assert not same_second & got  # the boundary second itself is excluded
    earlier = (moment - timedelta(seconds=1)).strftime(TS_FORMAT)
    got = {r[pk] for r in page_all(client, f"{path}/Search", updated_after_utc=earlier)}
    assert same_second <= got
    assert (
        client.get(f"{path}/Search", params={"updated_after_utc": "yesterday"}).status_code == 400
    )


def test_updated_after_on_lists_and_emails_switches(emu: Emulator, client) -> None:
    n = len(emu.tenant.records("Contacts"))
    after = {"updated_after_utc": "2026-06-01T00:00:00Z", "count_total": "true"}
    assert client.get("Contacts", params=after).headers["x-total-count"] == str(n)  # ignored
    emu.configure(list_updated_after="honoured")
    assert int(client.get("Contacts", params=after).headers["x-total-count"]) < n
    emails = emu.tenant.records("Emails")
    assert all("DATE_UPDATED_UTC" not in e for e in emails)
    cut = sorted(e["DATE_CREATED_UTC"] for e in emails)[200]
    query = {"updated_after_utc": cut, "count_total": "true"}
    assert client.get("Emails/Search", params=query).headers["x-total-count"] == str(len(emails))
    emu.configure(emails_updated_after="date_created")
    want = sum(1 for e in emails if e["DATE_CREATED_UTC"] > cut)
    assert client.get("Emails/Search", params=query).headers["x-total-count"] == str(want)


def test_field_search_exact_match_standard_and_custom(emu: Emulator, client) -> None:
    contacts = emu.tenant.records("Contacts")
    last = contacts[10]["LAST_NAME"]
    got = page_all(client, "Contacts/Search", field_name="LAST_NAME", field_value=last)
    assert {r["CONTACT_ID"] for r in got} == {
        r["CONTACT_ID"] for r in contacts if r["LAST_NAME"] == last
    }
    assert page_all(client, "Contacts/Search", field_name="LAST_NAME", field_value=last[:-1]) == []
    hobby = page_all(client, "Contacts/Search", field_name="Hobby__c", field_value="Chess")
    assert hobby and all(
        {"FIELD_NAME": "Hobby__c", "FIELD_VALUE": "Chess", "CUSTOM_FIELD_ID": "Hobby__c"}
        in r["CUSTOMFIELDS"]
        for r in hobby
    )
    converted = page_all(client, "Leads/Search", field_name="CONVERTED", field_value="true")
    assert converted and all(r["CONVERTED"] is True for r in converted)
    for params in (
        {"field_name": "LAST_NAME"},
        {"field_value": "x"},
        {"field_name": "NOPE", "field_value": "x"},
    ):
        assert client.get("Contacts/Search", params=params).status_code == 400, params
    combined = {"field_name": "LAST_NAME", "field_value": last, "updated_after_utc": "2020-01-01"}
    assert client.get("Contacts/Search", params=combined).status_code == 200
    emu.configure(search_filter_combination="error")
    assert client.get("Contacts/Search", params=combined).status_code == 400


def test_search_by_tag_and_tags_endpoint(emu: Emulator, client) -> None:
    contacts = emu.tenant.records("Contacts")
    used = sorted({t["TAG_NAME"] for r in contacts for t in r["TAGS"]}, key=str.lower)
    r = client.get("Tags", params={"record_type": "contacts", "top": 500, "count_total": "true"})
    assert [t["TAG_NAME"] for t in r.json()] == used
    assert r.headers["x-total-count"] == str(len(used))
    for record_type in (
        "contacts",
        "leads",
        "opportunities",
        "organisations",
        "projects",
        "emails",
    ):
        assert client.get("Tags", params={"record_type": record_type}).json(), record_type
    assert client.get("Tags").status_code == 400
    assert client.get("Tags", params={"record_type": "nonsense"}).status_code == 400
    tagged = page_all(client, "Contacts/SearchByTag", tag_name=used[0])
    assert {r["CONTACT_ID"] for r in tagged} == {
        r["CONTACT_ID"] for r in contacts if used[0] in {t["TAG_NAME"] for t in r["TAGS"]}
    }


@pytest.mark.parametrize("mode", ["omit", "empty"])
def test_brief_returns_top_level_scalars(emu: Emulator, client, mode) -> None:
    emu.configure(brief_arrays=mode)
    for path in ("Contacts", "Contacts/Search", "Organisations/Search", "Teams", "ActivitySets"):
        full = client.get(path, params={"top": 20}).json()
        brief = client.get(path, params={"top": 20, "brief": "true"}).json()
        for f, b in zip(full, brief, strict=True):
            scalars = {k: v for k, v in f.items() if not isinstance(v, list)}
            if mode == "omit":
                assert b == scalars, path
            else:
                assert b == {k: ([] if isinstance(v, list) else v) for k, v in f.items()}, path
    article = client.get("KnowledgeArticle/Search", params={"brief": "true"}).json()[0]
    assert article["Body"]  # KnowledgeArticle Body survives brief (facts §3.2)
    users = client.get("Users/Search", params={"brief": "true"}).json()  # no brief on Users
    assert users == client.get("Users/Search").json()


# ---------------------------------------------------------------------------- failures
def test_forbidden_entities_answer_403_or_404(emu: Emulator, client) -> None:
    emu.configure(forbidden={"Ticket": 403, "product": 404})
    for path in ("Ticket", "Ticket/Search"):
        r = client.get(path)
        assert r.status_code == 403 and r.json() == {"Message": "user doesn't have access"}
        assert "x-ratelimit-remaining" in r.headers
    for path in ("Product", "Product/Search"):
        assert client.get(path).status_code == 404
    assert client.get("Contacts").status_code == 200


def test_non_array_and_broken_json(emu: Emulator, client) -> None:
    emu.configure(non_array={"Notes"}, broken_json={"Events"})
    for path in ("Notes", "Notes/Search"):
        r = client.get(path)
        assert r.status_code == 200 and isinstance(r.json(), dict) and "Message" in r.json()
    for path in ("Events", "Events/Search"):
        r = client.get(path)
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.content)
    assert isinstance(client.get("Tasks").json(), list)


def test_fail_next_queue_then_normal_service(emu: Emulator, client) -> None:
    emu.configure(fail_next={"Contacts": [500, 429, 503]})
    r1 = client.get("Contacts/Search")
    r2 = client.get("Contacts")
    r3 = client.get("Contacts/Search")
    assert [r1.status_code, r2.status_code, r3.status_code] == [500, 429, 503]
    assert "retry-after" in r2.headers and int(r2.headers["x-ratelimit-remaining"]) > 0
    assert all("Message" in r.json() for r in (r1, r2, r3))
    assert client.get("Contacts").status_code == 200
    assert client.get("Leads").status_code == 200


# ---------------------------------------------------------------------------- connection faults
def _outcome(client: httpx.Client, path: str, **kw) -> str:
    """What the client saw: a status code, or the name of the httpx exception."""
    try:
        r = client.get(path, **kw)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    try:
        json.loads(r.content)
    except ValueError:
        return f"{r.status_code} invalid JSON"
    return str(r.status_code)


def test_fail_next_connection_faults_as_the_client_sees_them(emu: Emulator, client) -> None:
    before = emu.tenant.records("Contacts")
    emu.configure(
        fail_next={"Contacts": ["reset", "truncated", "timeout", "timeout", 500, "503"]},
        timeout_hold_s=0.4,
    )
    seen = [
        _outcome(client, "Contacts/Search", params={"top": 200}),
        _outcome(client, "Contacts", params={"top": 200}),
        _outcome(client, "Contacts", timeout=0.15),  # a client timeout shorter than the hold
        _outcome(client, "Contacts"),  # a patient client: the hold ends, the line drops
        _outcome(client, "Contacts"),
        _outcome(client, "Contacts"),
    ]
    assert seen == [
        "ReadError", "RemoteProtocolError", "ReadTimeout", "RemoteProtocolError", "500", "503"
    ]  # fmt: skip
    assert _outcome(client, "Contacts") == "200"
    time.sleep(0.3)  # the abandoned hold notices the client left
    log = [(e.status, e.fault) for e in emu.requests]
    assert log == [
        (0, "reset"), (200, "truncated"), (0, "timeout"), (0, "timeout"), (500, "500"),
        (503, "503"), (200, None),
    ]  # fmt: skip
    assert emu.requests[2].duration < 0.4  # ended when the client gave up, not at 0.4 s
    assert emu.requests[3].duration >= 0.4
    summary = httpx.get(emu.url + "/_emulator/requests").json()
    assert summary["by_fault"] == {"reset": 1, "truncated": 1, "timeout": 2, "500": 1, "503": 1}
    assert emu.tenant.records("Contacts") == before


def test_truncated_answers_promise_the_whole_body(emu: Emulator) -> None:
    emu.configure(fail_next={"Leads": ["truncated"]})
    url = emu.base_url + "Leads?top=50"
    with httpx.stream("GET", url, auth=(KEY, ""), headers={"Accept-Encoding": "gzip"}) as r:
        assert r.status_code == 200 and "content-encoding" not in r.headers
        promised = int(r.headers["content-length"])
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in r.iter_raw():
                received += chunk
    full = httpx.get(url, auth=(KEY, ""), headers={"Accept-Encoding": "identity"}).content
    assert promised == len(full) and bytes(received) == full[: len(full) // 2]


def test_fault_rate_is_reproducible_and_mixes_every_kind(emu: Emulator) -> None:
    def run() -> list[str]:
        emu.configure(fault_rate=0.4, timeout_hold_s=0.05)  # restarts the request numbering
        with httpx.Client(base_url=emu.base_url, auth=(KEY, ""), timeout=5) as c:
            return [_outcome(c, "Countries") for _ in range(90)]

    first = run()
    log = emu.requests
    second = run()
    assert first == second  # the same seed and request numbers give the same faults
    kinds = Counter(first)
    assert set(kinds) == {
        "200",
        "500",
        "502",
        "503",
        "ReadError",
        "RemoteProtocolError",
    }  # fmt: skip  (timeouts and truncations both end in RemoteProtocolError here)
    faulted = [e for e in log if e.fault is not None]
    assert 20 <= len(faulted) <= 55 and len(faulted) == 90 - kinds["200"]
    assert Counter(e.fault for e in faulted).keys() == {
        "500", "502", "503", "timeout", "reset", "truncated"
    }  # fmt: skip
    assert {e.status for e in faulted if e.fault in ("reset", "timeout")} == {0}
    assert {e.status for e in faulted if e.fault == "truncated"} == {200}
    emu.configure(fault_rate=0.0)
    assert _outcome(httpx.Client(base_url=emu.base_url, auth=(KEY, "")), "Countries") == "200"


def test_five_percent_of_requests_fail_with_a_chosen_mix(emu: Emulator, client) -> None:
    emu.configure(fault_rate=0.05, fault_mix={"500": 3, "503": 1})
    statuses = Counter(client.get("Countries").status_code for _ in range(400))
    assert set(statuses) <= {200, 500, 503} and statuses[500] > statuses[503] > 0
    assert 8 <= statuses[500] + statuses[503] <= 35  # binomial(400, 0.05): 20 ± 12
    with pytest.raises(ValueError):
        emu.configure(fault_mix={"418": 1})
    with pytest.raises(ValueError):
        emu.configure(fault_rate=1.5)
    with pytest.raises(ValueError):
        emu.configure(fail_next={"Contacts": ["explode"]})


def test_a_held_request_does_not_delay_shutdown() -> None:
    config = EmulatorConfig(seed=3, profile="tiny", api_key=KEY, timeout_hold_s=60)
    config.fail_next = {"Contacts": ["timeout"]}
    emulator = Emulator(config).start()
    outcome: list[str] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            _outcome(httpx.Client(auth=(KEY, ""), timeout=30), emulator.base_url + "Contacts")
        )
    )
    worker.start()
    deadline = time.monotonic() + 5
    while emulator._state.limits.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    emulator.stop()
    worker.join(timeout=10)
    assert time.monotonic() - started < 3
    assert outcome == ["RemoteProtocolError"]


def test_latency_jitter_spreads_request_times(emu: Emulator, client) -> None:
    emu.configure(latency_ms=120, latency_jitter_ms=100)
    for _ in range(16):
        client.get("Countries")
    durations = [e.duration for e in emu.requests]
    assert min(durations) >= 0.015 and max(durations) < 0.5
    assert max(durations) - min(durations) > 0.06
    with pytest.raises(ValueError):
        emu.configure(latency_jitter_ms=-1)


def test_daily_quota_gives_429_with_remaining_zero(emu: Emulator, client) -> None:
    emu.configure(daily_limit=3)
    remaining = [client.get("Countries").headers["x-ratelimit-remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    r = client.get("Countries")
    assert r.status_code == 429
    assert r.headers["x-ratelimit-remaining"] == "0" and r.headers["x-ratelimit-limit"] == "3"
    assert "Message" in r.json()
    emu.reset_quota()
    assert client.get("Countries").status_code == 200


@pytest.mark.parametrize("retry_after", [True, False])
def test_rate_limit_gives_429_with_or_without_retry_after(emu, client, retry_after) -> None:
    emu.configure(rate_limit_per_s=2.0, retry_after=retry_after)
    statuses = [client.get("Countries") for _ in range(6)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and statuses[0].status_code == 200
    for r in limited:
        assert int(r.headers["x-ratelimit-remaining"]) > 0  # a burst, not the quota
        assert ("retry-after" in r.headers) is retry_after
    time.sleep(1.1)
    assert client.get("Countries").status_code == 200


def test_max_in_flight_and_latency(emu: Emulator) -> None:
    emu.configure(max_in_flight=2, latency_ms=300)
    results: list[int] = []

    def call() -> None:
        r = httpx.get(emu.base_url + "Countries", auth=(KEY, ""), timeout=10)
        results.append(r.status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 0.3
    assert results.count(200) >= 2 and results.count(429) >= 1
    assert len(results) == 6


def test_concurrent_requests_overlap(emu: Emulator) -> None:
    emu.configure(latency_ms=400)
    started = time.monotonic()
    threads = [
        threading.Thread(target=httpx.get, args=(emu.base_url + "Contacts",),
                         kwargs={"auth": (KEY, ""), "timeout": 10})
        for _ in range(5)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started < 1.5  # served concurrently, not 5 x 0.4 s


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


# ---------------------------------------------------------------------------- mutations
def test_create_update_delete_are_visible_over_http(tiny: Emulator) -> None:
    c = httpx.Client(base_url=tiny.base_url, auth=(KEY, ""))
    before = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=1)
    since = {"updated_after_utc": before.strftime(TS_FORMAT)}
    assert c.get("Contacts/Search", params=since).json() == []

    created = tiny.tenant.create("Contacts", FIRST_NAME="Zoë", LAST_NAME="Ñúñez", TAGS=[])
    cid = created["CONTACT_ID"]
    assert cid > max(r["CONTACT_ID"] for r in tiny.tenant.records("Contacts")[:-1])
    assert created["DATE_CREATED_UTC"] == created["DATE_UPDATED_UTC"] >= before.strftime(TS_FORMAT)
    assert c.get(f"Contacts/{cid}").json() == created
    assert c.get("Contacts", params={"top": 500}).json()[-1] == created
    assert [r["CONTACT_ID"] for r in c.get("Contacts/Search", params=since).json()] == [cid]

    target = tiny.tenant.records("Contacts")[2]
    when = datetime(2026, 7, 1, 12, 0, 5, tzinfo=timezone.utc)
    updated = tiny.tenant.update(
        "Contacts",
        target["CONTACT_ID"],
        {"TITLE": "Chief Ninja", "CUSTOMFIELDS": {"Hobby__c": "Kayaking"}, "TAGS": [
            {"TAG_NAME": "Fresh"}]},
        at=when,
    )  # fmt: skip
    assert updated["DATE_UPDATED_UTC"] == "2026-07-01 12:00:05"
    changed = {k for k in updated if updated[k] != target[k]}
    assert changed == {"TITLE", "CUSTOMFIELDS", "TAGS", "DATE_UPDATED_UTC"}
    served = c.get(f"Contacts/{target['CONTACT_ID']}").json()
    assert served == updated and served["TITLE"] == "Chief Ninja"
    hobby = [f for f in served["CUSTOMFIELDS"] if f["FIELD_NAME"] == "Hobby__c"]
    assert hobby == [{"FIELD_NAME": "Hobby__c", "FIELD_VALUE": "Kayaking",
                      "CUSTOM_FIELD_ID": "Hobby__c"}]  # fmt: skip
    assert len(served["CUSTOMFIELDS"]) == len(target["CUSTOMFIELDS"])
    hits = c.get("Contacts/Search", params={"updated_after_utc": "2026-07-01T12:00:04Z"}).json()
    assert target["CONTACT_ID"] in {r["CONTACT_ID"] for r in hits}
    assert {"TAG_NAME": "Fresh"} in c.get("Tags", params={"record_type": "contacts"}).json()
    emptied = tiny.tenant.update("Contacts", target["CONTACT_ID"], {"CUSTOMFIELDS": []})
    assert emptied["CUSTOMFIELDS"] == []
    plausible = tiny.tenant.update("Contacts", target["CONTACT_ID"])
    assert plausible["TITLE"] != "Chief Ninja"
    assert {k for k in plausible if plausible[k] != emptied[k]} - {"DATE_UPDATED_UTC"} == {"TITLE"}
    for path in ("Opportunities", "Tasks", "Ticket", "Projects", "KnowledgeArticle"):
        before_edit = tiny.tenant.records(path)[0]
        edited = tiny.tenant.update(path, before_edit[LIST_PATHS[path]])
        diff = {k for k in edited if edited[k] != before_edit[k]} - {"DATE_UPDATED_UTC"}
        assert len(diff) == 1, (path, diff)
    assert plausible["DATE_UPDATED_UTC"] >= before.strftime(TS_FORMAT)

    victim = tiny.tenant.records("Organisations")[0]["ORGANISATION_ID"]
    tiny.tenant.delete("Organisations", victim)
    r = c.get(f"Organisations/{victim}")
    assert r.status_code == 404 and "Message" in r.json()
    assert victim not in {o["ORGANISATION_ID"] for o in c.get("Organisations").json()}
    assert all(
        link["LINK_OBJECT_ID"] != victim for rec in tiny.tenant.records("Contacts")
        for link in rec["LINKS"]
    )  # fmt: skip
    with pytest.raises(KeyError):
        tiny.tenant.delete("Organisations", victim)
    with pytest.raises(ValueError):
        tiny.tenant.update("Contacts", cid, {"NOT_A_FIELD": 1})
    for path in ("Ticket", "Fruit__c", "Notes"):
        made = tiny.tenant.create(path)
        assert c.get(f"{path}/{made[LIST_PATHS[path]]}").json() == made
    c.close()


def test_records_match_the_api_for_every_entity(tiny: Emulator) -> None:
    with httpx.Client(base_url=tiny.base_url, auth=(KEY, "")) as c:
        for path in tiny.tenant.entities():
            params = {"top": 500, "include_converted": "true"}  # records() lists every status
            assert tiny.tenant.records(path) == c.get(path, params=params).json(), path


# ---------------------------------------------------------------------------- admin, log, CLI
def test_request_log_and_admin_endpoints(tiny: Emulator) -> None:
    with httpx.Client(base_url=tiny.base_url, auth=(KEY, "")) as c:
        c.get("Contacts", params={"top": 2})
        c.get("Nope")
        log = tiny.requests
        assert [(e.method, e.path, e.status) for e in log] == [
            ("GET", "/v3.1/Contacts", 200), ("GET", "/v3.1/Nope", 404)]  # fmt: skip
        assert log[0].params == {"top": "2"} and log[0].finished >= log[0].started
        summary = httpx.get(tiny.url + "/_emulator/requests").json()
        assert summary["total"] == 2 and summary["by_status"] == {"200": 1, "404": 1}
        r = httpx.post(tiny.url + "/_emulator/configure", json={"forbidden": {"Contacts": 403}})
        assert r.status_code == 200 and r.json()["forbidden"] == {"Contacts": 403}
        assert c.get("Contacts").status_code == 403
        assert httpx.post(tiny.url + "/_emulator/configure", json={"order": "x"}).status_code == 400
        assert httpx.post(tiny.url + "/_emulator/configure", json={"seed": 1}).status_code == 400
        httpx.post(tiny.url + "/_emulator/configure", json={"forbidden": {}})
        lead = tiny.tenant.records("Leads")[0]["LEAD_ID"]
        r = httpx.post(tiny.url + "/_emulator/mutate", json={
            "op": "update", "entity": "Leads", "id": lead, "changes": {"TITLE": "CTO"},
            "at": "2026-08-01T00:00:00Z"})  # fmt: skip
        assert r.json()["TITLE"] == "CTO" and r.json()["DATE_UPDATED_UTC"] == "2026-08-01 00:00:00"
        made = httpx.post(tiny.url + "/_emulator/mutate", json={"op": "create", "entity": "Leads"})
        new_id = made.json()["LEAD_ID"]
        httpx.post(tiny.url + "/_emulator/mutate",
                   json={"op": "delete", "entity": "Leads", "id": new_id})  # fmt: skip
        assert c.get(f"Leads/{new_id}").status_code == 404
        tiny.clear_requests()
        assert tiny.requests == []


def test_configure_rejects_unknown_switches(tiny: Emulator) -> None:
    with pytest.raises(ValueError):
        tiny.configure(no_such_switch=1)
    with pytest.raises(ValueError):
        tiny.configure(forbidden={"Ticket": 500})
    with pytest.raises(ValueError):
        EmulatorConfig(order="random")


def test_cli_serves_on_a_free_port_until_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "insightly_emulator", "--port", "0", "--port-file", str(port_file),
         "--profile", "tiny", "--api-key", "cli-key", "--order", "updated", "--latency-ms", "5"],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text().strip():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        port = int(port_file.read_text())
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}/v3.1/"
        r = httpx.get(f"http://127.0.0.1:{port}/v3.1/Contacts", auth=("cli-key", ""), timeout=10)
        stamps = [x["DATE_UPDATED_UTC"] for x in r.json()]
        assert r.status_code == 200 and stamps == sorted(stamps)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_a_million_contacts_start_fast_and_page() -> None:
    started = time.monotonic()
    config = EmulatorConfig(seed=1, profile="tiny", api_key=KEY, sizes={"Contacts": 1_000_000})
    with Emulator(config) as big, httpx.Client(base_url=big.base_url, auth=(KEY, "")) as c:
        assert time.monotonic() - started < 5
        tenant, n = big.tenant, 1_000_000
        for skip in (0, n - 500):
            r = c.get("Contacts", params={"skip": skip, "top": 500, "count_total": "true"})
            page = r.json()
            assert r.headers["x-total-count"] == "1000000" and len(page) == 500
            assert [x["CONTACT_ID"] for x in page] == [
                tenant.id("Contacts", i) for i in range(skip, skip + 500)
            ]
            assert page[0] == tenant.get("Contacts", page[0]["CONTACT_ID"])
            assert page[-1] == tenant.get("Contacts", page[-1]["CONTACT_ID"])
            assert all(x["CUSTOMFIELDS"] and "TAGS" in x and "LINKS" in x for x in page)
        assert c.get("Contacts", params={"skip": n, "top": 500}).json() == []
        # an incremental read: total and last page come from the sorted time array
        cut = "2026-06-01 00:00:00"
        epoch = int(datetime.strptime(cut, TS_FORMAT).replace(tzinfo=timezone.utc).timestamp())
        newer = sum(1 for i in range(n) if tenant.updated("Contacts", i) > epoch)
        params = {"updated_after_utc": cut, "top": 500, "count_total": "true"}
        r = c.get("Contacts/Search", params={**params, "skip": newer - 10})
        assert int(r.headers["x-total-count"]) == newer and len(r.json()) == 10
        assert all(x["DATE_UPDATED_UTC"] > cut for x in r.json())
        big.configure(order="updated")
        last = c.get("Contacts/Search", params={**params, "skip": newer - 500}).json()
        stamps = [x["DATE_UPDATED_UTC"] for x in last]
        assert stamps == sorted(stamps) and len(last) == 500
        newest = max(tenant.updated("Contacts", i) for i in range(n))
        assert stamps[-1] == datetime.fromtimestamp(newest, timezone.utc).strftime(TS_FORMAT)


def test_cli_takes_the_new_switches() -> None:
    from insightly_emulator.__main__ import config_from, parser

    args = parser().parse_args([
        "--fault-rate", "0.05", "--fault-mix", '{"500": 2, "reset": 1}', "--timeout-hold-s", "3",
        "--drift", '{"entity": "Contacts", "updates": 2}', "--latency-jitter-ms", "5",
        "--gzip-level", "0", "--cache-mb", "16", "--readahead-pages", "0",
        "--fail-next", '{"Leads": ["truncated", 503]}',
    ])  # fmt: skip
    cfg = config_from(args)
    assert (cfg.fault_rate, cfg.fault_mix, cfg.timeout_hold_s) == (0.05, {"500": 2, "reset": 1}, 3)
    assert cfg.drift == {"entity": "Contacts", "every_n_pages": 1, "creates": 0, "updates": 2,
                         "deletes": 0, "steps": 0}  # fmt: skip
    assert (cfg.latency_jitter_ms, cfg.gzip_level, cfg.cache_mb, cfg.readahead_pages) == (
        5, 0, 16, 0)  # fmt: skip
    assert cfg.fail_next == {"Leads": ["truncated", 503]}
    assert config_from(parser().parse_args([])).fault_mix == dict.fromkeys(
        ("500", "502", "503", "timeout", "reset", "truncated"), 1.0
    )


def test_admin_configure_sets_the_new_switches(tiny: Emulator) -> None:
    body = {
        "fault_rate": 0.1,
        "fault_mix": {"503": 1},
        "latency_jitter_ms": 2,
        "drift": {"entity": "Notes", "deletes": 1},
        "fail_next": {"Contacts": ["reset"]},
    }
    r = httpx.post(tiny.url + "/_emulator/configure", json=body)
    assert r.status_code == 200, r.text
    switches = r.json()
    assert switches["fault_mix"] == {"503": 1.0} and switches["fail_next"] == {
        "Contacts": ["reset"]
    }
    assert switches["drift"]["entity"] == "Notes" and switches["drift"]["every_n_pages"] == 1
    bad = httpx.post(tiny.url + "/_emulator/configure", json={"drift": {"entity": "Countries"}})
    assert bad.status_code == 400
    health = httpx.get(tiny.url + "/_emulator/health").json()
    assert health["ok"] and health["render_cache"]["budget"] == 256 * 1024 * 1024
