"""Mutations of the emulated tenant (create, update, delete) visible over HTTP, and the
tenant's records equal to the API's answers for every entity.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from insightly_emulator import Emulator

from . import emulator_helpers
from .emulator_helpers import KEY, LIST_PATHS, TS_FORMAT

# the shared fixtures, bound here so that pytest finds them for this module's tests
tiny = emulator_helpers.tiny


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
