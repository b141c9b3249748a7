"""The emulator's limits: latency and jitter, the daily quota, the per-second rate limit,
requests in flight, concurrency.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from insightly_emulator import Emulator

from . import emulator_helpers
from .emulator_helpers import KEY

# the shared fixtures, bound here so that pytest finds them for this module's tests
_reset = emulator_helpers._reset  # autouse: every switch back to its default after each test
emu = emulator_helpers.emu
client = emulator_helpers.client


def test_latency_jitter_spreads_request_times(emu: Emulator, client) -> None:
    emu.configure(latency_ms=120, latency_jitter_ms=100)
    for _ in range(16):
        client.get("Countries")
    durations = [e.duration for e in emu.requests]
    assert min(durations) >= 0.015 and max(durations) < 0.5
    assert max(durations) - min(durations) > 0.06
    with pytest.raises(ValueError):
        emu.configure(latency_jitter_ms=-1)


def test_daily_quota_gives_429_with_remaining_zero(emu: Emulator, client) -> None:
    emu.configure(daily_limit=3)
    remaining = [client.get("Countries").headers["x-ratelimit-remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    r = client.get("Countries")
    assert r.status_code == 429
    assert r.headers["x-ratelimit-remaining"] == "0" and r.headers["x-ratelimit-limit"] == "3"
    assert "Message" in r.json()
    emu.reset_quota()
    assert client.get("Countries").status_code == 200


@pytest.mark.parametrize("retry_after", [True, False])
def test_rate_limit_gives_429_with_or_without_retry_after(emu, client, retry_after) -> None:
    emu.configure(rate_limit_per_s=2.0, retry_after=retry_after)
    statuses = [client.get("Countries") for _ in range(6)]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and statuses[0].status_code == 200
    for r in limited:
        assert int(r.headers["x-ratelimit-remaining"]) > 0  # a burst, not the quota
        assert ("retry-after" in r.headers) is retry_after
    time.sleep(1.1)
    assert client.get("Countries").status_code == 200


def test_max_in_flight_and_latency(emu: Emulator) -> None:
    emu.configure(max_in_flight=2, latency_ms=300)
    results: list[int] = []

    def call() -> None:
        r = httpx.get(emu.base_url + "Countries", auth=(KEY, ""), timeout=10)
        results.append(r.status_code)

    threads = [threading.Thread(target=call) for _ in range(6)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started >= 0.3
    assert results.count(200) >= 2 and results.count(429) >= 1
    assert len(results) == 6


def test_concurrent_requests_overlap(emu: Emulator) -> None:
    emu.configure(latency_ms=400)
    started = time.monotonic()
    threads = [
        threading.Thread(target=httpx.get, args=(emu.base_url + "Contacts",),
                         kwargs={"auth": (KEY, ""), "timeout": 10})
        for _ in range(5)
    ]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - started < 1.5  # served concurrently, not 5 x 0.4 s
