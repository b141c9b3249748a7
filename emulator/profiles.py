"""Record counts per profile.

"test" is sized for the pipeline tests (every entity non-empty, Leads an exact multiple
of 500 so the last full page is followed by an empty one), "demo" for a realistic demo,
"tiny" for fast unit tests.  Lookup tables with a fixed vocabulary (Pipelines, Countries,
...) are not listed: their size comes from the generator's static definitions.  The extra
custom objects of the custom-heavy tenant (``catalog.EXTRA_SPECS``) are sized like
Fruit__c; the tenant then adjusts the counts (``tenants.Shape.adjust_sizes``).
"""

from __future__ import annotations

from collections.abc import Sequence

from .catalog import SPECS, EntitySpec
from .config import EmulatorConfig

PROFILE_SIZES: dict[str, dict[str, int]] = {
    "test": {
        "Contacts": 1250, "Organisations": 510, "Leads": 500, "Opportunities": 320,
        "Emails": 260, "Projects": 60, "Tasks": 200, "Events": 120, "Notes": 200,
        "Milestones": 40, "Users": 12, "Teams": 4, "KnowledgeArticle": 30,
        "KnowledgeArticleCategory": 5, "KnowledgeArticleFolder": 8, "Prospect": 60,
        "Ticket": 150, "Product": 40, "Pricebook": 3, "PricebookEntry": 80, "Quotation": 30,
        "QuotationLineItem": 90, "OpportunityLineItem": 120, "Fruit__c": 25,
        "Project_Site__c": 15, "CommunityForums": 6, "CommunityPosts": 40,
        "CommunityComments": 100, "ForumCategories": 3, "DocumentTemplates": 5,
        "ActivitySets": 5, "MarketingVisits": 50, "Follows": 20,
    },
    "demo": {
        "Contacts": 10000, "Organisations": 3000, "Leads": 5000, "Opportunities": 4000,
        "Emails": 5000, "Projects": 600, "Tasks": 8000, "Events": 3000, "Notes": 6000,
        "Milestones": 400, "Users": 40, "Teams": 8, "KnowledgeArticle": 200,
        "KnowledgeArticleCategory": 8, "KnowledgeArticleFolder": 20, "Prospect": 800,
        "Ticket": 2000, "Product": 150, "Pricebook": 4, "PricebookEntry": 400,
        "Quotation": 400, "QuotationLineItem": 1200, "OpportunityLineItem": 3000,
        "Fruit__c": 300, "Project_Site__c": 200, "CommunityForums": 12, "CommunityPosts": 600,
        "CommunityComments": 2000, "ForumCategories": 4, "DocumentTemplates": 12,
        "ActivitySets": 10, "MarketingVisits": 2000, "Follows": 100,
    },
    "tiny": {
        "Contacts": 12, "Organisations": 6, "Leads": 8, "Opportunities": 6, "Emails": 5,
        "Projects": 4, "Tasks": 6, "Events": 5, "Notes": 6, "Milestones": 4, "Users": 4,
        "Teams": 2, "KnowledgeArticle": 3, "KnowledgeArticleCategory": 2,
        "KnowledgeArticleFolder": 2, "Prospect": 3, "Ticket": 5, "Product": 4, "Pricebook": 2,
        "PricebookEntry": 6, "Quotation": 3, "QuotationLineItem": 6, "OpportunityLineItem": 5,
        "Fruit__c": 4, "Project_Site__c": 3, "CommunityForums": 2, "CommunityPosts": 4,
        "CommunityComments": 6, "ForumCategories": 2, "DocumentTemplates": 2,
        "ActivitySets": 2, "MarketingVisits": 4, "Follows": 3,
    },
}  # fmt: skip

# Minimums that keep cross references meaningful (e.g. a user in two teams).
MINIMUMS = {"Users": 2, "Teams": 2, "Pricebook": 1}


def resolve_sizes(
    cfg: EmulatorConfig, static_sizes: dict[str, int], specs: Sequence[EntitySpec] = SPECS
) -> dict[str, int]:
    """Final record count per entity: profile, times scale, then explicit overrides."""
    base = PROFILE_SIZES[cfg.profile]
    lower_overrides = {k.lower(): v for k, v in cfg.sizes.items()}
    out: dict[str, int] = {}
    for s in specs:
        if s.name in static_sizes:
            n = static_sizes[s.name]
        else:
            n = base.get(s.name, base["Fruit__c"])
            if s.scales and cfg.scale != 1.0:
                n = max(1, round(n * cfg.scale))
        if s.name.lower() in lower_overrides and s.name not in static_sizes:
            n = int(lower_overrides[s.name.lower()])
        out[s.name] = max(n, MINIMUMS.get(s.name, 0))
    return out
