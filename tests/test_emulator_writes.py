"""The emulator's write side over HTTP: what v3.1 documents (write facts), and each write
switch changing behaviour observably (one per open question of facts §12)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from insightly_emulator.write_rules import REQUIRED
from tests.conftest import API_KEY

NEW = {"FIRST_NAME": "Ada", "LAST_NAME": "Lovelace", "EMAIL_ADDRESS": "ada@example.org"}


@pytest.fixture
def api(emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.base_url, auth=(API_KEY, ""), timeout=10) as client:
        yield client


def create(api: httpx.Client, entity: str = "Contacts", **fields) -> dict:
    r = api.post(entity, json={**NEW, **fields} if entity == "Contacts" else fields)
    assert r.status_code == 201, r.text
    return r.json()


def custom(record: dict, name: str):
    return next(c["FIELD_VALUE"] for c in record["CUSTOMFIELDS"] if c["FIELD_NAME"] == name)


def test_create_answers_201_with_the_record_and_an_incremental_read_sees_it(emulator, api):
    before = api.get("Contacts/Search", params={"updated_after_utc": "2026-07-01T00:00:00Z"})
    values = [{"FIELD_NAME": "Hobby__c", "FIELD_VALUE": "Chess"},
              {"FIELD_NAME": "Employees_Managed__c", "FIELD_VALUE": 12.0}]  # fmt: skip
    made = create(api, CUSTOMFIELDS=values)
    assert made["CONTACT_ID"] > emulator.tenant.records("Contacts")[-2]["CONTACT_ID"]
    assert made["DATE_CREATED_UTC"] == made["DATE_UPDATED_UTC"]
    assert made["PHONE"] is None and made["TAGS"] == [] and made["LINKS"] == []
    assert custom(made, "Hobby__c") == "Chess" and custom(made, "Interests__c") is None
    assert repr(custom(made, "Employees_Managed__c")) == "12"  # served as generated ones are
    after = api.get("Contacts/Search", params={"updated_after_utc": "2026-07-01T00:00:00Z"})
    assert before.json() == [] and [c["CONTACT_ID"] for c in after.json()] == [made["CONTACT_ID"]]


def test_put_is_partial_bumps_the_update_time_and_delete_answers_202(emulator, api):
    old = emulator.tenant.records("Contacts")[0]
    r = api.put("Contacts", json={"CONTACT_ID": old["CONTACT_ID"], "PHONE": "+44 1"})
    assert r.status_code == 201
    new = r.json()
    assert new["PHONE"] == "+44 1" and new["FIRST_NAME"] == old["FIRST_NAME"]
    assert new["DATE_UPDATED_UTC"] > old["DATE_UPDATED_UTC"]
    assert api.put("Contacts", json={"CONTACT_ID": 1, "PHONE": "x"}).status_code == 404
    assert api.put("Contacts", json={"PHONE": "x"}).status_code == 400  # no key: which record?
    assert api.delete(f"Contacts/{old['CONTACT_ID']}").status_code == 202
    assert api.get(f"Contacts/{old['CONTACT_ID']}").status_code == 404


def test_invalid_bodies_get_400_with_every_reason(api):
    bad = {
        "LAST_NAME": "No first name",
        "ORGANISATION_ID": "not an id",
        "CUSTOMFIELDS": [
            {"FIELD_NAME": "Employees_Managed__c", "FIELD_VALUE": "ten"},
            {"FIELD_NAME": "Preferred_Contact_Method__c", "FIELD_VALUE": "Pigeon"},
            {"FIELD_NAME": "Hobby__c", "FIELD_VALUE": "x" * 256},
            {"FIELD_NAME": "No_Such__c", "FIELD_VALUE": 1},
            {"FIELD_NAME": "Customer_Since__c", "FIELD_VALUE": "2024-01-02T00:00:00Z"},
        ],
    }
    r = api.post("Contacts", json=bad)
    assert r.status_code == 400
    message = r.json()["Message"]
    reasons = ("FIRST_NAME is required", "ORGANISATION_ID", "'ten' is not a number",
               "'Pigeon' is not one of the options", "255", "No_Such__c", "valid date")  # fmt: skip
    for reason in reasons:
        assert reason in message, reason
    assert api.post("Countries", json={"COUNTRY_NAME": "X"}).status_code == 405
    assert api.post("Notes", json={"TITLE": "orphan"}).status_code == 405  # only under a parent


def test_required_and_read_only_switches(emulator, api):
    emulator.configure(writes={"required_fields": "off"})
    assert api.post("Contacts", json={"LAST_NAME": "Only"}).status_code == 201
    emulator.configure(writes={"required_fields": "create_and_update"})
    cid = create(api)["CONTACT_ID"]
    assert api.put("Contacts", json={"CONTACT_ID": cid, "FIRST_NAME": None}).status_code == 400
    stamp = {"CONTACT_ID": cid, "DATE_CREATED_UTC": "2001-01-01 00:00:00", "TITLE": "Dr"}
    r = api.put("Contacts", json=stamp)
    assert r.status_code == 201 and r.json()["DATE_CREATED_UTC"] != "2001-01-01 00:00:00"
    number = [{"FIELD_NAME": "Member_Number__c", "FIELD_VALUE": "M-1"}]  # an AUTONUMBER
    kept = api.put("Contacts", json={"CONTACT_ID": cid, "CUSTOMFIELDS": number}).json()
    assert custom(kept, "Member_Number__c") != "M-1"
    emulator.configure(writes={"read_only_fields": "refused"})
    r = api.put("Contacts", json=stamp)
    assert r.status_code == 400 and "DATE_CREATED_UTC is read-only" in r.text
    r = api.put("Contacts", json={"CONTACT_ID": cid, "CUSTOMFIELDS": number})
    assert r.status_code == 400 and "Member_Number__c is read-only" in r.text


def test_custom_fields_in_a_put_merge_or_replace(emulator, api):
    fields = [{"FIELD_NAME": "Hobby__c", "FIELD_VALUE": "Golf"},
              {"FIELD_NAME": "Customer_Tier__c", "FIELD_VALUE": "A"}]  # fmt: skip
    cid = create(api, CUSTOMFIELDS=fields)["CONTACT_ID"]
    one = {"CONTACT_ID": cid, "CUSTOMFIELDS": [{"FIELD_NAME": "hobby__c", "FIELD_VALUE": "Jazz"}]}
    merged = api.put("Contacts", json=one).json()
    assert (custom(merged, "Hobby__c"), custom(merged, "Customer_Tier__c")) == ("Jazz", "A")
    emulator.configure(writes={"put_custom_fields": "replace"})
    replaced = api.put("Contacts", json=one).json()
    assert (custom(replaced, "Hobby__c"), custom(replaced, "Customer_Tier__c")) == ("Jazz", None)


def test_dates_without_a_time_refused_or_taken_as_midnight(emulator, api):
    day = [{"FIELD_NAME": "Customer_Since__c", "FIELD_VALUE": "2024-05-06"}]
    assert api.post("Contacts", json={**NEW, "CUSTOMFIELDS": day}).status_code == 400
    emulator.configure(writes={"short_dates": "accepted"})
    assert custom(create(api, CUSTOMFIELDS=day), "Customer_Since__c") == "2024-05-06 00:00:00"


def test_dropdown_values_outside_the_options_refused_or_accepted(emulator, api):
    odd = [{"FIELD_NAME": "Customer_Tier__c", "FIELD_VALUE": "Z"}]
    assert api.post("Contacts", json={**NEW, "CUSTOMFIELDS": odd}).status_code == 400
    emulator.configure(writes={"dropdown_values": "accepted"})
    assert custom(create(api, CUSTOMFIELDS=odd), "Customer_Tier__c") == "Z"


def test_second_delete_answers_404_or_417(emulator, api):
    first, second = create(api)["CONTACT_ID"], create(api)["CONTACT_ID"]
    assert api.delete(f"Contacts/{first}").status_code == 202
    assert api.delete(f"Contacts/{first}").status_code == 404
    emulator.configure(writes={"second_delete": "417"})
    assert api.delete(f"Contacts/{second}").status_code == 202
    assert api.delete(f"Contacts/{second}").status_code == 417
    assert api.delete("Contacts/1").status_code == 404  # never existed


def test_search_case_and_error_body_shape_switches(emulator, api):
    create(api, EMAIL_ADDRESS="Mixed.Case@Example.org")
    query = {"field_name": "EMAIL_ADDRESS", "field_value": "mixed.case@example.org"}
    assert api.get("Contacts/Search", params=query).json() == []
    emulator.configure(writes={"search_case": "insensitive"})
    assert len(api.get("Contacts/Search", params=query).json()) == 1
    emulator.configure(writes={"error_body": "name_message"})
    assert set(api.post("Contacts", json={}).json()) == {"Name", "Message"}
    emulator.configure(writes={"error_body": "text"})
    r = api.post("Contacts", json={})
    assert r.headers["content-type"].startswith("text/plain") and "FIRST_NAME" in r.text
    assert api.get("Contacts/1").text == "Contact not found"  # reads' errors too


def untag(api: httpx.Client, cid: int, tag: str) -> int:
    """Status of removing a tag with the documented JSON-body DELETE."""
    return api.request("DELETE", f"Contacts/{cid}/Tags", json={"TAG_NAME": tag}).status_code


def test_tags_sub_endpoints_and_their_switches(emulator, api):
    cid = create(api, TAGS=[{"TAG_NAME": "vip"}])["CONTACT_ID"]
    assert api.post(f"Contacts/{cid}/Tags", json={"TAG_NAME": "gold"}).status_code == 201
    assert untag(api, cid, "vip") == 202
    assert api.get(f"Contacts/{cid}/Tags").json() == [{"TAG_NAME": "gold"}]
    assert api.delete(f"Contacts/{cid}/Tags/gold").status_code == 202  # the v3.0 path form
    emulator.configure(writes={"tag_delete": "body"})
    api.post(f"Contacts/{cid}/Tags", json={"TAG_NAME": "gold"})
    assert api.delete(f"Contacts/{cid}/Tags/gold").status_code == 404
    emulator.configure(writes={"tag_delete": "path"})
    assert untag(api, cid, "gold") == 400
    r = api.put(f"Contacts/{cid}/Tags", json=[{"TAG_NAME": "a"}, {"TAG_NAME": "b"}])
    assert r.status_code == 200 and [t["TAG_NAME"] for t in r.json()] == ["a", "b"]
    for mode, expected in (("append", ["a", "b", "c"]), ("ignored", ["a", "b"])):
        emulator.configure(writes={"body_tags": mode})
        put = api.put("Contacts", json={"CONTACT_ID": cid, "TAGS": [{"TAG_NAME": "c"}]})
        assert [t["TAG_NAME"] for t in put.json()["TAGS"]] == expected
        api.put(f"Contacts/{cid}/Tags", json=[{"TAG_NAME": "a"}, {"TAG_NAME": "b"}])
    assert api.post(f"Tasks/{emulator.tenant.records('Tasks')[0]['TASK_ID']}/Tags",
                    json={"TAG_NAME": "x"}).status_code == 404  # fmt: skip


def test_links_show_on_both_ends_and_notes_live_under_their_parent(emulator, api):
    cid = create(api)["CONTACT_ID"]
    org = emulator.tenant.records("Organisations")[0]["ORGANISATION_ID"]
    plural = {"LINK_OBJECT_NAME": "Organisations", "LINK_OBJECT_ID": org}
    assert api.post(f"Contacts/{cid}/Links", json=plural).status_code == 400
    link = api.post(f"Contacts/{cid}/Links", json={**plural, "LINK_OBJECT_NAME": "Organisation"})
    assert link.status_code == 201
    link_id = link.json()["LINK_ID"]
    mirrored = [x for x in api.get(f"Organisations/{org}/Links").json() if x["LINK_ID"] == link_id]
    assert mirrored and mirrored[0]["LINK_OBJECT_ID"] == cid and not mirrored[0]["IS_FORWARD"]
    assert api.delete(f"Contacts/{cid}/Links/{link_id}").status_code == 202
    assert api.get(f"Contacts/{cid}/Links").json() == []
    assert link_id not in [x["LINK_ID"] for x in api.get(f"Organisations/{org}/Links").json()]
    note = api.post(f"Contacts/{cid}/Notes", json={"TITLE": "Met", "BODY": "at the fair"})
    assert note.status_code == 201
    assert [n["NOTE_ID"] for n in api.get(f"Contacts/{cid}/Notes").json()] == [
        note.json()["NOTE_ID"]
    ]


def test_pipeline_stage_and_state_changes_of_an_opportunity(emulator, api):
    opp = create(api, "Opportunities", OPPORTUNITY_NAME="Deal", OPPORTUNITY_STATE="OPEN")
    oid = opp["OPPORTUNITY_ID"]
    pipelines = [p for p in emulator.tenant.records("Pipelines") if p["FOR_OPPORTUNITIES"]]
    pid = pipelines[0]["PIPELINE_ID"]
    stages = [s["STAGE_ID"] for s in emulator.tenant.records("PipelineStages")
              if s["PIPELINE_ID"] == pid]  # fmt: skip
    body = {"PIPELINE_ID": pid, "PIPELINE_STAGE_CHANGE": {"STAGE_ID": stages[0]}}
    assert api.put(f"Opportunities/{oid}/Pipeline", json=body).json()["STAGE_ID"] == stages[0]
    stage = api.put(f"Opportunities/{oid}/PipelineStage", json={"STAGE_ID": stages[1]})
    assert stage.status_code == 200
    assert emulator.tenant.get("Opportunities", oid)["STAGE_ID"] == stages[1]
    wrong = {"PIPELINE_ID": pid, "PIPELINE_STAGE_CHANGE": {"STAGE_ID": 1}}
    assert api.put(f"Opportunities/{oid}/Pipeline", json=wrong).status_code == 404
    state = f"Opportunities/{oid}/StateChange"
    assert api.put(state, json={"FOR_OPPORTUNITY_STATE": "WON"}).status_code == 200
    assert emulator.tenant.get("Opportunities", oid)["OPPORTUNITY_STATE"] == "WON"
    assert api.put(state, json={"FOR_OPPORTUNITY_STATE": "x"}).status_code == 400
    history = f"Opportunities/{oid}/StateHistory"
    assert [h["FOR_OPPORTUNITY_STATE"] for h in api.get(history).json()] == ["WON"]
    api.put("Opportunities", json={"OPPORTUNITY_ID": oid, "OPPORTUNITY_STATE": "LOST"})
    emulator.configure(writes={"put_state_history": "not_recorded"})
    api.put("Opportunities", json={"OPPORTUNITY_ID": oid, "OPPORTUNITY_STATE": "OPEN"})
    assert [h["FOR_OPPORTUNITY_STATE"] for h in api.get(history).json()] == ["WON", "LOST"]
    lead = emulator.tenant.records("Leads")[0]["LEAD_ID"]
    assert api.put(f"Leads/{lead}/Pipeline", json=body).status_code == 404
    assert api.delete(f"Opportunities/{oid}/Pipeline").status_code == 202
    assert emulator.tenant.get("Opportunities", oid)["PIPELINE_ID"] is None


def test_record_limit_quota_and_the_put_form_switches(emulator, api):
    emulator.configure(writes={"record_limit": 1}, daily_limit=4)
    r = api.post("Contacts", json=NEW)
    assert r.status_code == 402 and "Record limit" in r.text
    emulator.configure(writes={"put_with_id": "refused", "put_status": "200"})
    cid = emulator.tenant.records("Contacts")[0]["CONTACT_ID"]
    assert api.put(f"Contacts/{cid}", json={"CONTACT_ID": cid, "TITLE": "x"}).status_code == 405
    assert api.put("Contacts", json={"CONTACT_ID": cid, "TITLE": "x"}).status_code == 200
    assert api.put("Contacts", json={"CONTACT_ID": cid, "TITLE": "y"}).status_code == 200
    spent = api.put("Contacts", json={"CONTACT_ID": cid, "TITLE": "z"})  # 5th request today
    assert spent.status_code == 429 and spent.headers["X-RateLimit-Remaining"] == "0"
    assert emulator.tenant.get("Contacts", cid)["TITLE"] == "y"


@pytest.mark.parametrize("kind", ["lost", "lost_500"])
def test_a_lost_answer_still_applies_the_write(emulator, api, kind):
    emulator.configure(fail_next={"Contacts": [kind]})
    before = emulator.tenant.count("Contacts")
    if kind == "lost":
        with pytest.raises(httpx.RemoteProtocolError):
            api.post("Contacts", json=NEW)
    else:
        assert api.post("Contacts", json=NEW).status_code == 500
    assert emulator.tenant.count("Contacts") == before + 1
    (event,) = emulator.writes.events()
    assert (event.method, event.lost) == ("POST", kind)
    (logged,) = httpx.get(emulator.url + "/_emulator/writes").json()  # for other processes
    assert (logged["record_id"], logged["lost"]) == (event.record_id, kind)
    assert [e.fault for e in emulator.requests] == [kind]


def test_other_faults_apply_nothing(emulator, api):
    emulator.configure(fail_next={"Contacts": [503, "truncated"]})
    before = emulator.tenant.count("Contacts")
    assert api.post("Contacts", json=NEW).status_code == 503
    with pytest.raises(httpx.TransportError):
        api.post("Contacts", json=NEW)
    assert emulator.tenant.count("Contacts") == before and emulator.writes.events() == []


WRITABLE = ("Contacts", "Leads", "Organisations", "Opportunities", "Projects", "Tasks",
            "Events", "Product", "Ticket", "Prospect", "Quotation", "Pricebook", "Fruit__c",
            "Project_Site__c")  # fmt: skip


def minimal_value(name: str):
    """A value of the right JSON type for a required field."""
    if name.endswith("_ID"):
        return 1
    if name in ("COMPLETED", "ACTIVE"):
        return True
    if name.endswith("_UTC"):
        return "2026-01-02 03:04:05"
    return 9.5 if name == "DEFAULT_PRICE" else "x"


def test_every_writable_object_takes_post_put_delete_and_enforces_its_required_fields(
    emulator, api
):
    for entity in WRITABLE:
        required = REQUIRED["custom" if entity.endswith("__c") else entity]
        refused = api.post(entity, json={})
        assert refused.status_code == 400 and all(f in refused.text for f in required), entity
        made = api.post(entity, json={f: minimal_value(f) for f in required})
        assert made.status_code == 201, (entity, made.text)
        pk = next(k for k in made.json() if k.endswith("_ID"))  # the key comes first
        assert api.put(entity, json={pk: made.json()[pk]}).status_code == 201, entity
        assert api.delete(f"{entity}/{made.json()[pk]}").status_code == 202, entity
    email = emulator.tenant.records("Emails")[0]["EMAIL_ID"]
    assert api.post("Emails", json={}).status_code == 405  # emails can only be deleted
    assert api.delete(f"Emails/{email}").status_code == 202
    methods = {e.method for e in emulator.writes.events()}
    assert methods == {"POST", "PUT", "DELETE"} and len(emulator.writes.events()) == 43


def test_lost_faults_in_the_fault_mix_reset_reads_and_apply_writes(emulator, api):
    emulator.configure(fault_rate=1.0, fault_mix={"lost": 1.0})
    with pytest.raises(httpx.TransportError):
        api.get("Contacts")
    with pytest.raises(httpx.TransportError):
        api.post("Contacts", json=NEW)
    emulator.configure(fault_rate=0.0)
    query = {"field_name": "EMAIL_ADDRESS", "field_value": NEW["EMAIL_ADDRESS"]}
    assert len(api.get("Contacts/Search", params=query).json()) == 1


def test_writes_are_held_to_the_per_second_rate_like_reads(emulator, api):
    emulator.configure(rate_limit_per_s=1.0)
    assert api.post("Contacts", json=NEW).status_code == 201
    burst = api.post("Contacts", json=NEW)  # the bucket holds one request
    assert burst.status_code == 429 and int(burst.headers["X-RateLimit-Remaining"]) > 0
    assert len(emulator.writes.events()) == 1  # refused before it was applied


def test_milestones_and_line_items_are_written_under_their_parent(emulator, api):
    project = emulator.tenant.records("Projects")[0]["PROJECT_ID"]
    made = api.post(f"Projects/{project}/Milestones", json={"TITLE": "Go live"})
    assert made.status_code == 201 and made.json()["PROJECT_ID"] == project
    mid = made.json()["MILESTONE_ID"]
    assert api.post("Milestones", json={"TITLE": "orphan"}).status_code == 405
    put = api.put(f"Projects/{project}/Milestones", json={"MILESTONE_ID": mid, "TITLE": "Launch"})
    assert put.status_code == 200 and put.json()["TITLE"] == "Launch"
    assert mid in [m["MILESTONE_ID"] for m in api.get(f"Projects/{project}/Milestones").json()]
    assert api.delete(f"Projects/{project + 1}/Milestones/{mid}").status_code == 404
    assert api.delete(f"Projects/{project}/Milestones/{mid}").status_code == 202
    assert emulator.tenant.get("Milestones", mid) is None
    opp = emulator.tenant.records("Opportunities")[0]["OPPORTUNITY_ID"]
    item = api.post(f"Opportunities/{opp}/OpportunityLineItem", json={"QUANTITY": 3})
    assert item.status_code == 201 and item.json()["OPPORTUNITY_ID"] == opp
