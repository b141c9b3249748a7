"""Builders for custom object records (``Fruit__c``, ``Project_Site__c``).

Their shape is a small fixed header (RECORD_ID, RECORD_NAME, OWNER_USER_ID,
DATE_CREATED_UTC, DATE_UPDATED_UTC, CREATED_USER_ID, VISIBLE_TO, VISIBLE_TEAM_ID) plus
CUSTOMFIELDS, which the generator adds from ``customfields.FIELDS``.
"""

from __future__ import annotations

from typing import Any

from .generator import Gen, builder
from .vocab import FRUITS, PLACES


def _header(g: Gen, name: str) -> dict[str, Any]:
    visible_to, team = g.visibility()
    return {
        "RECORD_NAME": name,
        "OWNER_USER_ID": g.user(),
        "CREATED_USER_ID": g.user(),
        "VISIBLE_TO": visible_to,
        "VISIBLE_TEAM_ID": team,
    }


@builder("Fruit__c")
def _fruit(g: Gen) -> dict[str, Any]:
    name = FRUITS[g.i % len(FRUITS)]
    batch = g.i // len(FRUITS)
    return _header(g, name if batch == 0 else f"{name} (batch {batch + 1})")


@builder("Project_Site__c")
def _site(g: Gen) -> dict[str, Any]:
    city = PLACES[g.i % len(PLACES)][0]
    part = ("North", "Central", "Harbour", "Airport", "West")[(g.i // len(PLACES)) % 5]
    return _header(g, f"{city} {part} Site")
