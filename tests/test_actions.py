"""The Python actions API (pipelines/insightly/actions.py) against the emulator over HTTP:
each action's effect on the emulated tenant, quota and request counting, and the
"applied, but the answer was lost" case that must never be re-sent."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from insightly.actions import Actions, WriteOutcomeUnknown, WriteRefused
from insightly.api.pacing import Pacer
from insightly.errors import AuthenticationError, QuotaExhausted, QuotaReserveReached
from tests.conftest import API_KEY, FAST_RETRIES


def connect(emulator, api_key: str = API_KEY, **options) -> Actions:
    """Actions on the emulator, paced fast (the emulator has no rate limit unless set)."""
    options = {"pacer": Pacer(500, 4), **FAST_RETRIES, **options}
    return Actions.connect(api_key=api_key, base_url=emulator.base_url, **options)


@pytest.fixture
def act(emulator) -> Iterator[Actions]:
    with connect(emulator) as actions:
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


def test_get_search_and_delete(emulator, act):
    made = act.create("contacts", {"FIRST_NAME": "Grace", "EMAIL_ADDRESS": "grace@example.org"})
    cid = made["CONTACT_ID"]
    assert [
        r["CONTACT_ID"] for r in act.search("contacts", "EMAIL_ADDRESS", "grace@example.org")
    ] == [cid]
    assert act.search("contacts", "EMAIL_ADDRESS", "GRACE@example.org") == []  # exact match
    assert act.delete("contacts", cid) is True
    assert act.delete("contacts", cid) is False  # already gone: 404
    emulator.configure(writes={"second_delete": "417"})
    assert act.delete("contacts", cid) is False  # already gone: 417
    assert act.get("contacts", cid) is None
    assert emulator.tenant.get("Contacts", cid) is None


def test_custom_objects_by_table_name_and_search_by_custom_field(emulator, act):
    fruit = act.create(
        "custom_fruit",
        {
            "RECORD_NAME": "Kiwi",
            "CUSTOMFIELDS": [{"FIELD_NAME": "Origin__c", "FIELD_VALUE": "Italy"}],
        },
    )
    assert emulator.tenant.get("Fruit__c", fruit["RECORD_ID"])["RECORD_NAME"] == "Kiwi"
    act.update("custom_fruit", fruit["RECORD_ID"], {"RECORD_NAME": "Gold kiwi"})
    hits = act.search("custom_fruit", "RECORD_NAME", "Gold kiwi")
    assert [h["RECORD_ID"] for h in hits] == [fruit["RECORD_ID"]]
    assert len(act.search("custom_fruit", "Origin__c", "Italy")) >= 1


def test_tags_in_both_delete_forms(emulator, act):
    cid = act.create("contacts", {"FIRST_NAME": "Tag"})["CONTACT_ID"]
    act.add_tag("contacts", cid, "vip")
    act.add_tag("contacts", cid, "gold")
    act.remove_tag("contacts", cid, "vip")  # the JSON body form
    emulator.configure(writes={"tag_delete": "path"})
    act.remove_tag("contacts", cid, "gold")  # body refused: the v3.0 path form
    act.remove_tag("contacts", cid, "never there")  # no error
    assert emulator.tenant.get("Contacts", cid)["TAGS"] == []
    assert [t["TAG_NAME"] for t in act.set_tags("contacts", cid, ["a", "b"])] == ["a", "b"]


def test_links_and_notes(emulator, act):
    cid = act.create("contacts", {"FIRST_NAME": "Link"})["CONTACT_ID"]
    org = emulator.tenant.records("Organisations")[0]["ORGANISATION_ID"]
    link = act.add_link(
        "contacts", cid, {"LINK_OBJECT_NAME": "Organisation", "LINK_OBJECT_ID": org}
    )
    assert [x["LINK_ID"] for x in act.links("contacts", cid)] == [link["LINK_ID"]]
    act.remove_link("contacts", cid, link["LINK_ID"])
    act.remove_link("contacts", cid, link["LINK_ID"])  # already gone: no error
    assert act.links("contacts", cid) == []
    note = act.create_note("contacts", cid, {"TITLE": "Called", "BODY": "Left a message"})
    assert [n["NOTE_ID"] for n in act.notes("contacts", cid)] == [note["NOTE_ID"]]


def test_pipeline_stage_and_state(emulator, act):
    oid = act.create("opportunities", {"OPPORTUNITY_NAME": "Deal"})["OPPORTUNITY_ID"]
    pipeline = next(p for p in emulator.tenant.records("Pipelines") if p["FOR_OPPORTUNITIES"])
    stages = [s["STAGE_ID"] for s in emulator.tenant.records("PipelineStages")
              if s["PIPELINE_ID"] == pipeline["PIPELINE_ID"]]  # fmt: skip
    act.set_pipeline("opportunities", oid, pipeline["PIPELINE_ID"], stages[0])
    act.set_stage("opportunities", oid, stages[-1])
    reason = next(r for r in emulator.tenant.records("OpportunityStateReasons")
                  if r["FOR_OPPORTUNITY_STATE"] == "WON")  # fmt: skip
    state = act.change_state(oid, "WON", reason_id=reason["STATE_REASON_ID"])
    assert state["STATE_REASON"] == reason["STATE_REASON"]
    stored = emulator.tenant.get("Opportunities", oid)
    assert (stored["STAGE_ID"], stored["OPPORTUNITY_STATE"]) == (stages[-1], "WON")
    assert act.clear_pipeline("opportunities", oid) is True
    assert emulator.tenant.get("Opportunities", oid)["PIPELINE_ID"] is None


def test_refusals_carry_status_body_and_reason_but_never_the_key(emulator, act):
    bad = {
        "FIRST_NAME": "X",
        "CUSTOMFIELDS": [{"FIELD_NAME": "Customer_Tier__c", "FIELD_VALUE": "Z"}],
    }
    with pytest.raises(WriteRefused) as refused:
        act.create("contacts", bad)
    assert refused.value.status == 400 and "Customer_Tier__c" in refused.value.reason
    assert isinstance(refused.value.body, dict)
    emulator.configure(writes={"error_body": "text"})
    with pytest.raises(WriteRefused) as as_text:
        act.create("contacts", {})
    assert "FIRST_NAME is required" in as_text.value.reason
    emulator.configure(writes={"record_limit": 0, "error_body": "name_message"})
    with pytest.raises(WriteRefused) as limit:
        act.create("contacts", {"FIRST_NAME": "Z"})
    assert (limit.value.status, limit.value.reason) == (402, "Record limit reached")
    emulator.configure(fail_next={"Contacts": ["lost_500"]}, writes={})
    with pytest.raises(WriteOutcomeUnknown) as unknown:
        act.create("contacts", {"FIRST_NAME": "Y"})
    for exc in (refused.value, as_text.value, unknown.value):
        assert API_KEY not in str(exc) and API_KEY not in repr(exc)
        # no httpx request (whose headers hold the key) is attached to the error
        assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


@pytest.mark.parametrize("kind", ["lost", "lost_500", "timeout"])
def test_a_create_that_may_have_been_applied_is_never_resent(emulator, kind):
    emulator.configure(fail_next={"Contacts": [kind]}, timeout_hold_s=1.5)
    email = f"once-{kind}@example.org"
    # a 0.5 s timeout gives up before the held answer of the timeout fault
    with connect(emulator, timeout=0.5) as act, pytest.raises(WriteOutcomeUnknown):
        act.create("contacts", {"FIRST_NAME": "Once", "EMAIL_ADDRESS": email})
    deadline = time.monotonic() + 5
    while not emulator.requests and time.monotonic() < deadline:
        time.sleep(0.05)  # a held request is logged when the emulator closes it
    assert writes_by_method(emulator) == {"POST": 1}
    found = [r for r in emulator.tenant.records("Contacts") if r["EMAIL_ADDRESS"] == email]
    assert len(found) == (0 if kind == "timeout" else 1)  # applied only when the answer was lost


def test_idempotent_writes_are_retried_and_a_burst_429_is_retried_for_all(emulator, act):
    cid = emulator.tenant.records("Contacts")[0]["CONTACT_ID"]
    emulator.configure(fail_next={"Contacts": ["lost", 503]})
    act.update("contacts", cid, {"TITLE": "Retried"})
    assert emulator.tenant.get("Contacts", cid)["TITLE"] == "Retried"
    emulator.configure(fail_next={"Contacts": [429, 429]}, retry_after=False)
    made = act.create("contacts", {"FIRST_NAME": "Patient"})
    assert emulator.tenant.get("Contacts", made["CONTACT_ID"]) is not None
    assert writes_by_method(emulator) == {"PUT": 3, "POST": 3}
    assert len([e for e in emulator.writes.events() if e.method == "POST"]) == 1


def test_writes_spend_the_quota_and_stop_at_the_reserve(emulator, act):
    emulator.configure(daily_limit=20)
    cid = act.create("contacts", {"FIRST_NAME": "Q"})["CONTACT_ID"]
    assert act.client.stats.rate_remaining == 19
    with pytest.raises(QuotaReserveReached) as stop:
        for n in range(30):
            act.update("contacts", cid, {"TITLE": f"t{n}"})
    assert stop.value.exit_code == 75
    assert emulator.tenant.get("Contacts", cid)["TITLE"] == "t16"  # 2 of 20 kept in reserve
    emulator.configure(daily_limit=2)  # a new quota day
    with connect(emulator, quota_reserve=0) as other:
        other.update("contacts", cid, {"TITLE": "seen"})  # it saw 1 request left
        httpx.get(emulator.base_url + "Users/Me", auth=(API_KEY, ""))  # someone spends it
        with pytest.raises(QuotaExhausted) as spent:
            other.update("contacts", cid, {"TITLE": "too many"})
    assert type(spent.value) is QuotaExhausted and spent.value.exit_code == 75
    assert emulator.tenant.get("Contacts", cid)["TITLE"] == "seen"


def test_children_written_under_their_parent(emulator, act):
    project = emulator.tenant.records("Projects")[0]["PROJECT_ID"]
    made = act.create_child("projects", project, "milestones", {"TITLE": "Go live"})
    mid = made["MILESTONE_ID"]
    act.update_child("projects", project, "milestones", mid, {"TITLE": "Launch"})
    assert emulator.tenant.get("Milestones", mid)["TITLE"] == "Launch"
    assert mid in [m["MILESTONE_ID"] for m in act.children("projects", project, "milestones")]
    assert act.delete_child("projects", project, "milestones", mid) is True
    assert act.delete_child("projects", project, "milestones", mid) is False


def test_a_wrong_key_stops_with_exit_3_and_is_not_echoed(emulator):
    wrong = "wrong-0f1e2d3c-4b5a-6978"
    with connect(emulator, wrong) as act, pytest.raises(AuthenticationError) as denied:
        act.create("contacts", {"FIRST_NAME": "Nobody"})
    assert denied.value.exit_code == 3 and wrong not in str(denied.value)
    assert emulator.writes.events() == []
