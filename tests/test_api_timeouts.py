"""A GET's read timeout is fitted to the answers of the run (api/timeouts.py): a request
the API never answers costs about the floor (5 s), not the configured 60 s, and a slow
API's answers are not cut.

The emulator's "timeout" fault holds a request for `timeout_hold_s` (here 120 s, past the
ceiling) and stops holding when the client hangs up, so its request log says how long the
client waited."""

from __future__ import annotations

import time

from insightly.api.timeouts import FLOOR_S, ReadTimeouts
from insightly.config import Settings, connect
from tests.conftest import API_KEY

HOLD_S = 120.0


def test_the_read_timeout_follows_the_answers_seen():
    timeouts = ReadTimeouts(60.0)
    assert timeouts.fitted() == 60.0  # no answer yet: the ceiling
    timeouts.observe(0.2)
    assert timeouts.fitted() == FLOOR_S  # 5 x 0.2 s, raised to the floor
    assert (timeouts.for_attempt(1), timeouts.for_attempt(3)) == (2 * FLOOR_S, 8 * FLOOR_S)
    assert timeouts.for_attempt(5) == 60.0  # at most the ceiling

    slow = ReadTimeouts(60.0)  # a tenant whose slowest 2% take 3 s
    for seconds in [1.0] * 98 + [3.0] * 2:
        slow.observe(seconds)
    assert slow.p99() == 3.0 and slow.fitted() == 15.0
    for _ in range(100):
        slow.observe(20.0)  # slower still: capped by the configured timeout
    assert slow.fitted() == 60.0

    assert ReadTimeouts(2.0).floor == 2.0  # a ceiling below the floor wins


def _held_seconds(emulator) -> list[float]:
    """How long each hung request was held; the emulator logs one once it sees the client
    gone (it looks every 50 ms), which may be after the retry was answered."""
    deadline = time.monotonic() + 10
    while True:
        held = [r.finished - r.started for r in emulator.requests if r.fault == "timeout"]
        if held or time.monotonic() > deadline:
            return held
        time.sleep(0.05)


def test_a_hung_request_is_cut_at_the_fitted_timeout(emulator):
    settings = Settings(rate=500.0)
    with connect(settings, API_KEY, base_url=emulator.base_url, backoff_initial=0.01) as client:
        for _ in range(5):
            client.get_json("Users", {"top": 1}, table="users")
        assert client.read_timeouts.fitted() == FLOOR_S  # the emulator answers in ms
        emulator.configure(fail_next={"Contacts": ["timeout"]}, timeout_hold_s=HOLD_S)
        started = time.monotonic()
        page = client.get_json("Contacts", {"top": 10}, table="contacts")
        elapsed = time.monotonic() - started
    assert len(page) == 10  # the retry got the answer
    (held,) = _held_seconds(emulator)
    assert FLOOR_S - 0.5 < held < FLOOR_S + 5  # the client hung up at its fitted timeout
    assert elapsed < 30  # generous; the configured timeout alone is 60 s


def test_a_sync_with_a_hung_request_loses_seconds_not_a_minute(warehouse, emulator):
    """The lookups read first give the timeout its answers; the hang is on contacts."""
    emulator.configure(fail_next={"Contacts": ["timeout"]}, timeout_hold_s=HOLD_S)
    result = warehouse.sync()
    (held,) = _held_seconds(emulator)
    assert FLOOR_S - 0.5 < held < FLOOR_S + 5
    contacts = len(emulator.tenant.records("Contacts"))
    assert warehouse.query("select count(*) from contacts")[0][0] == contacts
    assert result.stats.requests["contacts"] > 0
