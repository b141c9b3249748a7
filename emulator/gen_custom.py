"""Builders for custom object records (``Fruit__c``, ``Project_Site__c``, and the four
more the custom-heavy tenant has: ``EXTRA_OBJECT_DEFS``, ``catalog.EXTRA_SPECS``).

Their shape is a small fixed header (RECORD_ID, RECORD_NAME, OWNER_USER_ID,
DATE_CREATED_UTC, DATE_UPDATED_UTC, CREATED_USER_ID, VISIBLE_TO, VISIBLE_TEAM_ID) plus
CUSTOMFIELDS, which the generator adds from ``customfields.FIELDS``.
"""

from __future__ import annotations

from typing import Any

from .generator import Gen, builder
from .vocab import FRUITS, PLACES

# /CustomObjects rows of the custom-heavy tenant's extra objects, in EXTRA_SPECS order:
# OBJECT_NAME, SINGULAR_LABEL, PLURAL_LABEL, DESCRIPTION, RECORD_NAME_LABEL,
# RECORD_NAME_TYPE, RECORD_NAME_DISPLAY_FORMAT (as gen_config.CUSTOM_OBJECT_DEFS)
EXTRA_OBJECT_DEFS = (
    ("Vehicle__c", "Vehicle", "Vehicles", "Company cars and vans", "Registration", "TEXT", None),
    ("Service_Contract__c", "Service Contract", "Service Contracts", None, "Contract Number",
     "AUTONUMBER", "SC-{0000}"),
    ("Asset__c", "Asset", "Assets", "Equipment installed at customer sites", "Asset Name",
     "TEXT", None),
    ("Survey_Response__c", "Survey Response", "Survey Responses",
     "Answers to the yearly customer survey", "Response", "TEXT", None),
)  # fmt: skip
ASSETS = ("Pump", "Boiler", "Router", "Forklift", "Printer", "Chiller", "Compressor")


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


@builder(*(d[0] for d in EXTRA_OBJECT_DEFS))
def _extra(g: Gen) -> dict[str, Any]:
    i = g.i
    if g.entity == "Vehicle__c":
        letters = chr(65 + i % 26) + chr(65 + i // 26 % 26)
        name = f"{g.r.pick(('B', 'M', 'HH', 'K'))}-{letters} {1000 + i}"
    elif g.entity == "Service_Contract__c":
        name = f"SC-{i + 1:04d}"
    elif g.entity == "Asset__c":
        name = f"{ASSETS[i % len(ASSETS)]} #{i + 1}"
    else:
        name = f"Response {i + 1:05d}"
    return _header(g, name)
