"""Shared by the emulator tests (tests/test_emulator_*.py): the emulator started once per
module with the "test" profile, every switch reset after each test, a small private tenant
for mutations, and the documented paths and formats.

Expectations (paths, key lists, formats) are written out from the facts file here rather
than read from the emulator's own catalogue, so a drift in the emulator shows up.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

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


# ---------------------------------------------------------------------------- fixtures
# A test module imports the ones it uses: `emu` and `client` with the autouse `_reset`.
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
