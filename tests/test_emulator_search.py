"""Searches in the emulator: updated_after_utc in all three formats, field searches, tags,
brief answers.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest

from insightly_emulator import Emulator

from . import emulator_helpers
from .emulator_helpers import LIST_PATHS, TS_FORMAT, page_all

# the shared fixtures, bound here so that pytest finds them for this module's tests
_reset = emulator_helpers._reset  # autouse: every switch back to its default after each test
emu = emulator_helpers.emu
client = emulator_helpers.client


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
