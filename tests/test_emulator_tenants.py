"""Tenant profiles (emulator/tenants.py, docs/emulator.md): each tenant started on its own
and checked over HTTP for what defines it, and that writes still work on it.

Expectations (which objects a plan leaves out, which array keys there are, the FIELD_TYPEs)
are written out here rather than read from the emulator, so a drift shows up.
"""

from __future__ import annotations

import httpx
import pytest

from insightly_emulator import EmulatorConfig, Tenant
from insightly_emulator.__main__ import config_from, parser
from insightly_emulator.customfields import FIELD_TYPES
from insightly_emulator.workers import data_config

from .conftest import API_KEY

FIXED_LOOKUPS = {
    "Pipelines", "PipelineStages", "Relationships", "OpportunityCategories",
    "ProjectCategories", "TaskCategories", "FileCategories", "OpportunityStateReasons",
    "LeadSources", "LeadStatuses", "Countries", "Currencies",
}  # fmt: skip
STATIC = {"Countries", "Currencies", "CustomObjects"}  # no paging, no X-Total-Count
ARRAYS = ("TAGS", "LINKS", "DATES", "CUSTOMFIELDS", "EMAILDOMAINS", "TEAMMEMBERS", "ACTIVITIES")
TYPES = {
    "TEXT", "MULTILINETEXT", "DROPDOWN", "MULTISELECT", "BIT", "NUMERIC", "PERCENT", "DATE",
    "DATETIME", "URL", "AUTONUMBER", "LOOKUP",
}  # fmt: skip
CUSTOM_FIELD_OBJECTS = (
    "Contacts", "Leads", "Organisations", "Opportunities", "Projects", "Tasks", "Events",
    "Prospect", "Ticket", "KnowledgeArticle", "Product", "PricebookEntry", "Quotation",
    "QuotationLineItem", "OpportunityLineItem",
)  # fmt: skip
OUTSIDE_PLAN_403 = ("Projects", "Milestones", "Ticket", "Quotation", "Product", "Pricebook",
                    "PricebookEntry", "KnowledgeArticle", "Prospect", "CommunityPosts")  # fmt: skip
OUTSIDE_PLAN_404 = ("Fruit__c", "Project_Site__c", "CustomObjects")
IN_PLAN = ("Contacts", "Organisations", "Leads", "Opportunities", "Tasks", "Events", "Notes",
           "Emails", "Users", "Pipelines", "LeadStatuses", "Countries")  # fmt: skip


def api(emu) -> httpx.Client:
    return httpx.Client(base_url=emu.base_url, auth=(API_KEY, ""), timeout=30)


def first_id(c: httpx.Client, path: str, pk: str) -> int:
    return c.get(path, params={"top": 1}).json()[0][pk]


# ------------------------------------------------------------------------------ the switch
def test_tenant_is_a_data_field_checked_against_its_choices(emulator_factory) -> None:
    assert EmulatorConfig().tenant == "standard"
    with pytest.raises(ValueError, match=r"tenant must be one of .*'empty'.*'odd'"):
        EmulatorConfig(tenant="enterprise")
    emu = emulator_factory(tenant="bare", profile="tiny")
    with pytest.raises(ValueError, match="shapes the generated data"):
        emu.configure(tenant="odd")
    assert data_config(emu.config).tenant == "bare"  # render workers rebuild the same data
    assert config_from(parser().parse_args(["--tenant", "minimal-plan"])).tenant == "minimal-plan"
    with pytest.raises(SystemExit):
        parser().parse_args(["--tenant", "nope"])


@pytest.mark.parametrize("tenant", ["bare", "custom-heavy", "odd"])
def test_each_tenant_is_generated_from_the_seed(tenant: str) -> None:
    a, b = (Tenant(EmulatorConfig(seed=3, profile="tiny", tenant=tenant)) for _ in range(2))
    for entity in a.entities():
        assert a.records(entity) == b.records(entity), entity


# ------------------------------------------------------------------------------ empty
def test_empty_has_only_the_api_user_and_the_fixed_lookups(emulator_factory) -> None:
    emu = emulator_factory(tenant="empty", profile="tiny")
    with api(emu) as c:
        assert c.get("Contacts").json() == []
        users = c.get("Users", params={"count_total": "true"})
        assert len(users.json()) == 1 and users.headers["x-total-count"] == "1"
        assert c.get("Users/Me").json() == users.json()[0]
        for path in emu.tenant.entities():
            r = c.get(path, params={} if path in STATIC else {"count_total": "true"})
            assert r.status_code == 200, path
            if path in FIXED_LOOKUPS:
                assert r.json(), path
            elif path != "Users":
                assert r.json() == [], path
                assert path in STATIC or r.headers["x-total-count"] == "0", path
        assert c.get("CustomFields/Contacts").json() == []
        assert c.get("Tags", params={"record_type": "contacts"}).json() == []
        assert c.get("Fruit__c").status_code == 404  # no custom objects
        made = c.post("Contacts", json={"FIRST_NAME": "First"})
        assert made.status_code == 201, made.text
        cid = made.json()["CONTACT_ID"]
        assert c.put("Contacts", json={"CONTACT_ID": cid, "LAST_NAME": "Contact"}).is_success
        assert c.get("Contacts").json()[0]["LAST_NAME"] == "Contact"
        assert c.delete(f"Contacts/{cid}").status_code == 202


# ------------------------------------------------------------------------------ bare
def test_bare_records_carry_no_arrays_and_some_lack_the_keys(emulator_factory) -> None:
    emu = emulator_factory(tenant="bare", profile="tiny")
    with_tags, without_tags = set(), set()
    with api(emu) as c:
        for path in emu.tenant.entities():
            records = c.get(path, params={} if path in STATIC else {"top": 500}).json()
            for record in records:
                assert not any(record.get(k) for k in ARRAYS), (path, record)
                if "TAGS" in record:
                    assert record["TAGS"] == []
                    with_tags.add(path)
                elif path in ("Contacts", "Leads", "Organisations", "Opportunities"):
                    without_tags.add(path)
        assert with_tags and without_tags
        assert {"Contacts", "Organisations"} <= with_tags and "Leads" in without_tags
        assert c.get("CustomFields/Contacts").json() == []
        assert c.get("CustomObjects").json() == []
        assert c.get("Tags", params={"record_type": "contacts"}).json() == []
        lead = c.get("Leads", params={"top": 1}).json()[0]
        assert "TAGS" not in lead and "CUSTOMFIELDS" not in lead and "LINKS" not in lead
        lid = lead["LEAD_ID"]
        assert c.post(f"Leads/{lid}/Tags", json={"TAG_NAME": "VIP"}).status_code == 201
        assert c.get(f"Leads/{lid}").json()["TAGS"] == [{"TAG_NAME": "VIP"}]
        assert c.put("Leads", json={"LEAD_ID": lid, "TITLE": "CEO"}).is_success
        assert c.delete(f"Leads/{lid}").status_code == 202


# ------------------------------------------------------------------------------ minimal-plan
def test_minimal_plan_refuses_objects_and_every_per_record_read(emulator_factory) -> None:
    plan = emulator_factory(tenant="minimal-plan", profile="tiny")
    full = emulator_factory(profile="tiny")
    with api(plan) as c, api(full) as s:
        for path in OUTSIDE_PLAN_403:
            assert c.get(path).status_code == 403, path
            assert s.get(path).status_code == 200, path
        for path in OUTSIDE_PLAN_404:
            assert c.get(path).status_code == 404, path
        for path in IN_PLAN:
            assert c.get(path).status_code == 200, path
        project = first_id(s, "Projects", "PROJECT_ID")
        assert c.get(f"Projects/{project}").status_code == 403
        contact = first_id(c, "Contacts", "CONTACT_ID")
        opportunity = first_id(c, "Opportunities", "OPPORTUNITY_ID")
        note = first_id(c, "Notes", "NOTE_ID")
        assert c.get(f"Contacts/{contact}").status_code == 200  # the parents exist
        sub_reads = [
            f"Contacts/{contact}/Comments", f"Contacts/{contact}/FileAttachments",
            f"Notes/{note}/Comments", f"Opportunities/{opportunity}/StateHistory",
            f"Contacts/{contact}/Tags", f"Contacts/{contact}/Links", f"Contacts/{contact}/Notes",
            f"Opportunities/{opportunity}/OpportunityLineItem",
        ]  # fmt: skip
        for path in sub_reads:
            assert c.get(path).status_code == 404, path
            if "/Comments" not in path or path.startswith("Notes"):  # Contacts have none
                assert s.get(path).status_code == 200, path
        permissions = c.get("Permissions").json()["OBJECT_PERMISSIONS"]
        denied = {p["OBJECT_TYPE"] for p in permissions if not p["CAN_READ"]}
        assert {"Project", "Ticket"} <= denied and "Contact" not in denied
        made = c.post("Contacts", json={"FIRST_NAME": "Plan"})
        assert made.status_code == 201, made.text
        new_id = made.json()["CONTACT_ID"]
        assert c.post(f"Contacts/{new_id}/Tags", json={"TAG_NAME": "Plus"}).status_code == 201
        project_body = {"PROJECT_NAME": "x", "STATUS": "NOT STARTED"}
        assert c.post("Projects", json=project_body).status_code == 403


# ------------------------------------------------------------------------------ custom-heavy
def test_custom_heavy_has_many_custom_objects_fields_and_types(emulator_factory) -> None:
    emu = emulator_factory(tenant="custom-heavy", profile="tiny")
    with api(emu) as c:
        objects = [o["OBJECT_NAME"] for o in c.get("CustomObjects").json()]
        assert len(objects) >= 4
        fields: dict[tuple[str, str], dict] = {}
        for name in (*CUSTOM_FIELD_OBJECTS, *objects):
            for f in c.get(f"CustomFields/{name}").json():
                fields[(f["FIELD_FOR"], f["FIELD_NAME"])] = f
        assert len(fields) >= 200
        assert {f["FIELD_TYPE"] for f in fields.values()} == TYPES == set(FIELD_TYPES)
        valued: set[str] = set()
        for name in objects:
            records = c.get(name, params={"top": 500}).json()
            assert records, name
            defined = {n for (obj, n) in fields if obj == name.upper()}
            for record in records:
                assert {v["FIELD_NAME"] for v in record["CUSTOMFIELDS"]} == defined, name
                for v in record["CUSTOMFIELDS"]:
                    if v["FIELD_VALUE"] is not None:
                        valued.add(fields[(name.upper(), v["FIELD_NAME"])]["FIELD_TYPE"])
        assert valued == TYPES  # every type has values on records
        extra = next(o for o in objects if o not in ("Fruit__c", "Project_Site__c"))
        made = c.post(extra, json={"RECORD_NAME": "New"})
        assert made.status_code == 201, made.text
        text = next(n for (obj, n), f in fields.items()
                    if obj == extra.upper() and f["FIELD_TYPE"] == "TEXT")  # fmt: skip
        body = {"RECORD_ID": made.json()["RECORD_ID"],
                "CUSTOMFIELDS": [{"FIELD_NAME": text, "FIELD_VALUE": "set"}]}  # fmt: skip
        assert c.put(extra, json=body).is_success
    with api(emulator_factory(profile="tiny")) as standard:
        assert standard.get(extra).status_code == 404  # the standard tenant hasn't got them
        assert len(standard.get("CustomObjects").json()) == 2


# ------------------------------------------------------------------------------ odd
def test_odd_has_nulls_hostile_text_and_colliding_custom_field_names(emulator_factory) -> None:
    emu = emulator_factory(tenant="odd", profile="tiny")
    with api(emu) as c:
        contacts = c.get("Contacts", params={"top": 500}).json()
        names = [f"{r['FIRST_NAME']} {r['LAST_NAME']}" for r in contacts]
        assert any(
            ("'" in n or '"' in n) and "\n" in n and any(ord(ch) > 127 for ch in n) for n in names
        )
        assert any("\r\n" in n and "\\" in n for n in names)
        assert max(len(r["LAST_NAME"] or "") for r in contacts) == 255
        assert max(len(r["BACKGROUND"] or "") for r in contacts) >= 2000
        nulled = [r for r in contacts if r["LAST_NAME"] is None]
        assert nulled and all(r["EMAIL_ADDRESS"] is None and r["PHONE"] is None for r in nulled)
        assert all(r["FIRST_NAME"] and r["DATE_UPDATED_UTC"] for r in contacts)  # not nullable
        assert all(isinstance(r["EMAIL_OPTED_OUT"], bool) for r in contacts)
        opportunities = c.get("Opportunities", params={"top": 500}).json()
        assert any(o["OPPORTUNITY_DETAILS"] is None for o in opportunities)
        assert all(o["OPPORTUNITY_NAME"] and o["OPPORTUNITY_STATE"] for o in opportunities)
        for obj in ("Contacts", "Organisations"):
            defined = [f["FIELD_NAME"] for f in c.get(f"CustomFields/{obj}").json()]
            assert len({n.lower() for n in defined}) < len(defined), obj
        labels = [f["FIELD_LABEL"] for f in c.get("CustomFields/Contacts").json()]
        assert any("\n" in label and '"' in label for label in labels)
        texts = [v["FIELD_VALUE"] for r in contacts for v in r["CUSTOMFIELDS"]
                 if v["FIELD_NAME"] == "score__c"]  # fmt: skip
        assert None in texts and 255 in {len(t) for t in texts if t}
        cid = contacts[1]["CONTACT_ID"]
        title = 'Chief "Odd" Officer\n🚀'
        assert c.put("Contacts", json={"CONTACT_ID": cid, "TITLE": title}).is_success
        assert c.get(f"Contacts/{cid}").json()["TITLE"] == title
