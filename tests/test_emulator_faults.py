"""Failures the emulator serves: forbidden entities, non-array and broken JSON, the
fail_next queue, and connection faults (resets, truncated bodies, timeouts, a fault rate)
as the client sees them.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import httpx
import pytest

from insightly_emulator import Emulator, EmulatorConfig

from . import emulator_helpers
from .emulator_helpers import KEY

# the shared fixtures, bound here so that pytest finds them for this module's tests
_reset = emulator_helpers._reset  # autouse: every switch back to its default after each test
emu = emulator_helpers.emu
client = emulator_helpers.client


# ---------------------------------------------------------------------------- failures
def test_forbidden_entities_answer_403_or_404(emu: Emulator, client) -> None:
    emu.configure(forbidden={"Ticket": 403, "product": 404})
    for path in ("Ticket", "Ticket/Search"):
        r = client.get(path)
        assert r.status_code == 403 and r.json() == {"Message": "user doesn't have access"}
        assert "x-ratelimit-remaining" in r.headers
    for path in ("Product", "Product/Search"):
        assert client.get(path).status_code == 404
    assert client.get("Contacts").status_code == 200


def test_non_array_and_broken_json(emu: Emulator, client) -> None:
    emu.configure(non_array={"Notes"}, broken_json={"Events"})
    for path in ("Notes", "Notes/Search"):
        r = client.get(path)
        assert r.status_code == 200 and isinstance(r.json(), dict) and "Message" in r.json()
    for path in ("Events", "Events/Search"):
        r = client.get(path)
        assert r.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.content)
    assert isinstance(client.get("Tasks").json(), list)


def test_fail_next_queue_then_normal_service(emu: Emulator, client) -> None:
    emu.configure(fail_next={"Contacts": [500, 429, 503]})
    r1 = client.get("Contacts/Search")
    r2 = client.get("Contacts")
    r3 = client.get("Contacts/Search")
    assert [r1.status_code, r2.status_code, r3.status_code] == [500, 429, 503]
    assert "retry-after" in r2.headers and int(r2.headers["x-ratelimit-remaining"]) > 0
    assert all("Message" in r.json() for r in (r1, r2, r3))
    assert client.get("Contacts").status_code == 200
    assert client.get("Leads").status_code == 200


# ---------------------------------------------------------------------------- connection faults
def _outcome(client: httpx.Client, path: str, **kw) -> str:
    """What the client saw: a status code, or the name of the httpx exception."""
    try:
        r = client.get(path, **kw)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    try:
        json.loads(r.content)
    except ValueError:
        return f"{r.status_code} invalid JSON"
    return str(r.status_code)


def test_fail_next_connection_faults_as_the_client_sees_them(emu: Emulator, client) -> None:
    before = emu.tenant.records("Contacts")
    emu.configure(
        fail_next={"Contacts": ["reset", "truncated", "timeout", "timeout", 500, "503"]},
        timeout_hold_s=0.4,
    )
    seen = [
        _outcome(client, "Contacts/Search", params={"top": 200}),
        _outcome(client, "Contacts", params={"top": 200}),
        _outcome(client, "Contacts", timeout=0.15),  # a client timeout shorter than the hold
        _outcome(client, "Contacts"),  # a patient client: the hold ends, the line drops
        _outcome(client, "Contacts"),
        _outcome(client, "Contacts"),
    ]
    assert seen == [
        "ReadError", "RemoteProtocolError", "ReadTimeout", "RemoteProtocolError", "500", "503"
    ]  # fmt: skip
    assert _outcome(client, "Contacts") == "200"
    time.sleep(0.3)  # the abandoned hold notices the client left
    log = [(e.status, e.fault) for e in emu.requests]
    assert log == [
        (0, "reset"), (200, "truncated"), (0, "timeout"), (0, "timeout"), (500, "500"),
        (503, "503"), (200, None),
    ]  # fmt: skip
    assert emu.requests[2].duration < 0.4  # ended when the client gave up, not at 0.4 s
    assert emu.requests[3].duration >= 0.4
    summary = httpx.get(emu.url + "/_emulator/requests").json()
    assert summary["by_fault"] == {"reset": 1, "truncated": 1, "timeout": 2, "500": 1, "503": 1}
    assert emu.tenant.records("Contacts") == before


def test_truncated_answers_promise_the_whole_body(emu: Emulator) -> None:
    emu.configure(fail_next={"Leads": ["truncated"]})
    url = emu.base_url + "Leads?top=50"
    with httpx.stream("GET", url, auth=(KEY, ""), headers={"Accept-Encoding": "gzip"}) as r:
        assert r.status_code == 200 and "content-encoding" not in r.headers
        promised = int(r.headers["content-length"])
        received = bytearray()
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in r.iter_raw():
                received += chunk
    full = httpx.get(url, auth=(KEY, ""), headers={"Accept-Encoding": "identity"}).content
    assert promised == len(full) and bytes(received) == full[: len(full) // 2]


def test_fault_rate_is_reproducible_and_mixes_every_kind(emu: Emulator) -> None:
    def run() -> list[str]:
        emu.configure(fault_rate=0.4, timeout_hold_s=0.05)  # restarts the request numbering
        with httpx.Client(base_url=emu.base_url, auth=(KEY, ""), timeout=5) as c:
            return [_outcome(c, "Countries") for _ in range(90)]

    first = run()
    log = emu.requests
    second = run()
    assert first == second  # the same seed and request numbers give the same faults
    kinds = Counter(first)
    assert set(kinds) == {
        "200",
        "500",
        "502",
        "503",
        "ReadError",
        "RemoteProtocolError",
    }  # fmt: skip  (timeouts and truncations both end in RemoteProtocolError here)
    faulted = [e for e in log if e.fault is not None]
    assert 20 <= len(faulted) <= 55 and len(faulted) == 90 - kinds["200"]
    assert Counter(e.fault for e in faulted).keys() == {
        "500", "502", "503", "timeout", "reset", "truncated"
    }  # fmt: skip
    assert {e.status for e in faulted if e.fault in ("reset", "timeout")} == {0}
    assert {e.status for e in faulted if e.fault == "truncated"} == {200}
    emu.configure(fault_rate=0.0)
    assert _outcome(httpx.Client(base_url=emu.base_url, auth=(KEY, "")), "Countries") == "200"


def test_five_percent_of_requests_fail_with_a_chosen_mix(emu: Emulator, client) -> None:
    emu.configure(fault_rate=0.05, fault_mix={"500": 3, "503": 1})
    statuses = Counter(client.get("Countries").status_code for _ in range(400))
    assert set(statuses) <= {200, 500, 503} and statuses[500] > statuses[503] > 0
    assert 8 <= statuses[500] + statuses[503] <= 35  # binomial(400, 0.05): 20 ± 12
    with pytest.raises(ValueError):
        emu.configure(fault_mix={"418": 1})
    with pytest.raises(ValueError):
        emu.configure(fault_rate=1.5)
    with pytest.raises(ValueError):
        emu.configure(fail_next={"Contacts": ["explode"]})


def test_a_held_request_does_not_delay_shutdown() -> None:
    config = EmulatorConfig(seed=3, profile="tiny", api_key=KEY, timeout_hold_s=60)
    config.fail_next = {"Contacts": ["timeout"]}
    emulator = Emulator(config).start()
    outcome: list[str] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            _outcome(httpx.Client(auth=(KEY, ""), timeout=30), emulator.base_url + "Contacts")
        )
    )
    worker.start()
    deadline = time.monotonic() + 5
    while emulator._state.limits.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    emulator.stop()
    worker.join(timeout=10)
    assert time.monotonic() - started < 3
    assert outcome == ["RemoteProtocolError"]
