"""The emulator's transport over real HTTP: authentication, headers and gzip, path
spelling, every entity served, single-record reads.
"""

from __future__ import annotations

import gzip
import json

import httpx

from insightly_emulator import Emulator

from . import emulator_helpers
from .emulator_helpers import KEY, LIST_PATHS, SEARCH_PATHS, basic

# the shared fixtures, bound here so that pytest finds them for this module's tests
_reset = emulator_helpers._reset  # autouse: every switch back to its default after each test
emu = emulator_helpers.emu
client = emulator_helpers.client


# ---------------------------------------------------------------------------- transport
def test_auth_accepts_key_alone_key_colon_and_any_password(emu: Emulator) -> None:
    for raw in (KEY, f"{KEY}:", f"{KEY}:anything-at-all"):
        r = httpx.get(emu.base_url + "Countries", headers=basic(raw))
        assert r.status_code == 200, raw
    for headers in ({}, basic("wrong-key:"), basic(f"{KEY}x"), {"Authorization": "Bearer x"}):
        r = httpx.get(emu.base_url + "Contacts", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"Message": "Authentication failed"}
        assert "wrong-key" not in r.text
        assert r.headers["x-ratelimit-limit"] == "100000"
        assert "x-ratelimit-remaining" in r.headers


def test_headers_content_type_and_gzip(client: httpx.Client) -> None:
    r = client.get("Contacts", params={"top": 50}, headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["content-encoding"] == "gzip"
    assert len(r.json()) == 50
    raw = httpx.get(
        client.base_url.join("Contacts?top=50"),
        auth=(KEY, ""),
        headers={"Accept-Encoding": "identity"},
    )
    assert "content-encoding" not in raw.headers
    assert raw.json() == r.json()
    with httpx.stream(
        "GET",
        str(client.base_url.join("Contacts?top=50")),
        auth=(KEY, ""),
        headers={"Accept-Encoding": "gzip"},
    ) as streamed:
        body = b"".join(streamed.iter_raw())
    assert json.loads(gzip.decompress(body)) == r.json()  # fmt: skip


def test_paths_are_case_insensitive_and_wrong_forms_give_405(client: httpx.Client) -> None:
    for path in ("contacts", "CONTACTS", "Contacts/", "contacts/search", "ticket", "FRUIT__C"):
        assert client.get(path, params={"top": 1}).status_code == 200, path
    wrong = (
        "Tickets", "Products", "Contact", "Milestone", "Prospects", "Organisation",
        "KnowledgeArticles", "Pricebooks", "Quotations", "tickets/Search", "Tickets/12",
    )  # fmt: skip
    for path in wrong:
        r = client.get(path)
        assert r.status_code == 405, path
        assert "Message" in r.json()
    for path in ("Nothing", "Contacts/Nothing", "Countries/Search", "Teams/Search", ""):
        assert client.get(path).status_code == 404, path
    # lookups are read-only (write facts §1.2); Contacts accept writes (test_emulator_writes)
    assert client.post("Countries", json={}).status_code == 405


def test_every_entity_of_the_table_is_served_and_nonempty(emu: Emulator, client) -> None:
    assert set(LIST_PATHS) <= set(emu.tenant.entities())
    for path, pk in LIST_PATHS.items():
        r = client.get(path)
        assert r.status_code == 200, path
        body = r.json()
        assert isinstance(body, list) and body, path
        assert all(pk in rec for rec in body), path
    for path in SEARCH_PATHS:
        assert client.get(f"{path}/Search", params={"top": 1}).status_code == 200, path
    sizes = {p: len(emu.tenant.records(p)) for p in LIST_PATHS}
    assert sizes["Contacts"] == 1250 and sizes["Organisations"] == 510
    assert sizes["Leads"] == 500 and sizes["Opportunities"] == 320 and sizes["Emails"] == 260
    assert all(n >= 1 for n in sizes.values())


def test_single_record_get_and_404(emu: Emulator, client) -> None:
    for path in ("Contacts", "Ticket", "Fruit__c", "Users", "Pipelines"):
        first = emu.tenant.records(path)[0]
        pk = LIST_PATHS[path]
        r = client.get(f"{path}/{first[pk]}")
        assert r.status_code == 200 and r.json() == first
        missing = client.get(f"{path}/1")
        assert missing.status_code == 404 and "Message" in missing.json()
    me = client.get("Users/Me").json()
    assert me["USER_ID"] in {u["USER_ID"] for u in emu.tenant.records("Users")}
