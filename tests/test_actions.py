"""The Python actions API (pipelines/insightly/actions.py) against the emulator over HTTP:
each action's effect on the emulated tenant, quota and request counting, and the
"applied, but the answer was lost" case that must never be re-sent."""

from __future__ import annotations

import pytest

from insightly.actions import Actions
from insightly.pacing import Pacer
from tests.conftest import API_KEY, FAST_RETRIES


@pytest.fixture
def act(emulator) -> Actions:
    with Actions.connect(
        api_key=API_KEY, base_url=emulator.base_url, pacer=Pacer(500, 4), **FAST_RETRIES
    ) as actions:
        yield actions


def writes_by_method(emulator) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in emulator.requests:
        counts[entry.method] = counts.get(entry.method, 0) + 1
    return counts


def test_create_then_update_changes_only_what_is_sent(emulator, act):
    made = act.create("contacts", {"FIRST_NAME": "Ada", "EMAIL_ADDRESS": "ada@example.org"})
    cid = made["CONTACT_ID"]
    assert emulator.tenant.get("Contacts", cid)["EMAIL_ADDRESS"] == "ada@example.org"

    updated = act.update("contacts", cid, {"LAST_NAME": "Lovelace"})
    stored = emulator.tenant.get("Contacts", cid)
    assert (stored["FIRST_NAME"], stored["LAST_NAME"]) == ("Ada", "Lovelace")
    assert updated["LAST_NAME"] == "Lovelace"
    assert act.get("contacts", cid)["LAST_NAME"] == "Lovelace"
    assert writes_by_method(emulator) == {"POST": 1, "PUT": 1, "GET": 1}
    assert act.client.stats.requests["contacts"] == 3
