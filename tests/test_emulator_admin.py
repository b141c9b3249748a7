"""The emulator's admin endpoints, request log and command line: configure, mutate, the
request summary, serving on a free port, a million contacts, the new switches.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from insightly_emulator import Emulator, EmulatorConfig

from . import emulator_helpers
from .emulator_helpers import KEY, TS_FORMAT

# the shared fixtures, bound here so that pytest finds them for this module's tests
tiny = emulator_helpers.tiny


# ---------------------------------------------------------------------------- admin, log, CLI
def test_request_log_and_admin_endpoints(tiny: Emulator) -> None:
    with httpx.Client(base_url=tiny.base_url, auth=(KEY, "")) as c:
        c.get("Contacts", params={"top": 2})
        c.get("Nope")
        log = tiny.requests
        assert [(e.method, e.path, e.status) for e in log] == [
            ("GET", "/v3.1/Contacts", 200), ("GET", "/v3.1/Nope", 404)]  # fmt: skip
        assert log[0].params == {"top": "2"} and log[0].finished >= log[0].started
        summary = httpx.get(tiny.url + "/_emulator/requests").json()
        assert summary["total"] == 2 and summary["by_status"] == {"200": 1, "404": 1}
        r = httpx.post(tiny.url + "/_emulator/configure", json={"forbidden": {"Contacts": 403}})
        assert r.status_code == 200 and r.json()["forbidden"] == {"Contacts": 403}
        assert c.get("Contacts").status_code == 403
        assert httpx.post(tiny.url + "/_emulator/configure", json={"order": "x"}).status_code == 400
        assert httpx.post(tiny.url + "/_emulator/configure", json={"seed": 1}).status_code == 400
        httpx.post(tiny.url + "/_emulator/configure", json={"forbidden": {}})
        lead = tiny.tenant.records("Leads")[0]["LEAD_ID"]
        r = httpx.post(tiny.url + "/_emulator/mutate", json={
            "op": "update", "entity": "Leads", "id": lead, "changes": {"TITLE": "CTO"},
            "at": "2026-08-01T00:00:00Z"})  # fmt: skip
        assert r.json()["TITLE"] == "CTO" and r.json()["DATE_UPDATED_UTC"] == "2026-08-01 00:00:00"
        made = httpx.post(tiny.url + "/_emulator/mutate", json={"op": "create", "entity": "Leads"})
        new_id = made.json()["LEAD_ID"]
        httpx.post(tiny.url + "/_emulator/mutate",
                   json={"op": "delete", "entity": "Leads", "id": new_id})  # fmt: skip
        assert c.get(f"Leads/{new_id}").status_code == 404
        tiny.clear_requests()
        assert tiny.requests == []


def test_configure_rejects_unknown_switches(tiny: Emulator) -> None:
    with pytest.raises(ValueError):
        tiny.configure(no_such_switch=1)
    with pytest.raises(ValueError):
        tiny.configure(forbidden={"Ticket": 500})
    with pytest.raises(ValueError):
        EmulatorConfig(order="random")


def test_cli_serves_on_a_free_port_until_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "insightly_emulator", "--port", "0", "--port-file", str(port_file),
         "--profile", "tiny", "--api-key", "cli-key", "--order", "updated", "--latency-ms", "5"],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not port_file.exists() or not port_file.read_text().strip():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        port = int(port_file.read_text())
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}/v3.1/"
        r = httpx.get(f"http://127.0.0.1:{port}/v3.1/Contacts", auth=("cli-key", ""), timeout=10)
        stamps = [x["DATE_UPDATED_UTC"] for x in r.json()]
        assert r.status_code == 200 and stamps == sorted(stamps)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_a_million_contacts_start_fast_and_page() -> None:
    started = time.monotonic()
    config = EmulatorConfig(seed=1, profile="tiny", api_key=KEY, sizes={"Contacts": 1_000_000})
    with Emulator(config) as big, httpx.Client(base_url=big.base_url, auth=(KEY, "")) as c:
        assert time.monotonic() - started < 5
        tenant, n = big.tenant, 1_000_000
        for skip in (0, n - 500):
            r = c.get("Contacts", params={"skip": skip, "top": 500, "count_total": "true"})
            page = r.json()
            assert r.headers["x-total-count"] == "1000000" and len(page) == 500
            assert [x["CONTACT_ID"] for x in page] == [
                tenant.id("Contacts", i) for i in range(skip, skip + 500)
            ]
            assert page[0] == tenant.get("Contacts", page[0]["CONTACT_ID"])
            assert page[-1] == tenant.get("Contacts", page[-1]["CONTACT_ID"])
            assert all(x["CUSTOMFIELDS"] and "TAGS" in x and "LINKS" in x for x in page)
        assert c.get("Contacts", params={"skip": n, "top": 500}).json() == []
        # an incremental read: total and last page come from the sorted time array
        cut = "2026-06-01 00:00:00"
        epoch = int(datetime.strptime(cut, TS_FORMAT).replace(tzinfo=timezone.utc).timestamp())
        newer = sum(1 for i in range(n) if tenant.updated("Contacts", i) > epoch)
        params = {"updated_after_utc": cut, "top": 500, "count_total": "true"}
        r = c.get("Contacts/Search", params={**params, "skip": newer - 10})
        assert int(r.headers["x-total-count"]) == newer and len(r.json()) == 10
        assert all(x["DATE_UPDATED_UTC"] > cut for x in r.json())
        big.configure(order="updated")
        last = c.get("Contacts/Search", params={**params, "skip": newer - 500}).json()
        stamps = [x["DATE_UPDATED_UTC"] for x in last]
        assert stamps == sorted(stamps) and len(last) == 500
        newest = max(tenant.updated("Contacts", i) for i in range(n))
        assert stamps[-1] == datetime.fromtimestamp(newest, timezone.utc).strftime(TS_FORMAT)


def test_cli_takes_the_new_switches() -> None:
    from insightly_emulator.__main__ import config_from, parser

    args = parser().parse_args([
        "--fault-rate", "0.05", "--fault-mix", '{"500": 2, "reset": 1}', "--timeout-hold-s", "3",
        "--drift", '{"entity": "Contacts", "updates": 2}', "--latency-jitter-ms", "5",
        "--gzip-level", "0", "--cache-mb", "16", "--readahead-pages", "0",
        "--fail-next", '{"Leads": ["truncated", 503]}',
    ])  # fmt: skip
    cfg = config_from(args)
    assert (cfg.fault_rate, cfg.fault_mix, cfg.timeout_hold_s) == (0.05, {"500": 2, "reset": 1}, 3)
    assert cfg.drift == {"entity": "Contacts", "every_n_pages": 1, "creates": 0, "updates": 2,
                         "deletes": 0, "steps": 0}  # fmt: skip
    assert (cfg.latency_jitter_ms, cfg.gzip_level, cfg.cache_mb, cfg.readahead_pages) == (
        5, 0, 16, 0)  # fmt: skip
    assert cfg.fail_next == {"Leads": ["truncated", 503]}
    assert config_from(parser().parse_args([])).fault_mix == dict.fromkeys(
        ("500", "502", "503", "timeout", "reset", "truncated"), 1.0
    )


def test_admin_configure_sets_the_new_switches(tiny: Emulator) -> None:
    body = {
        "fault_rate": 0.1,
        "fault_mix": {"503": 1},
        "latency_jitter_ms": 2,
        "drift": {"entity": "Notes", "deletes": 1},
        "fail_next": {"Contacts": ["reset"]},
    }
    r = httpx.post(tiny.url + "/_emulator/configure", json=body)
    assert r.status_code == 200, r.text
    switches = r.json()
    assert switches["fault_mix"] == {"503": 1.0} and switches["fail_next"] == {
        "Contacts": ["reset"]
    }
    assert switches["drift"]["entity"] == "Notes" and switches["drift"]["every_n_pages"] == 1
    bad = httpx.post(tiny.url + "/_emulator/configure", json={"drift": {"entity": "Countries"}})
    assert bad.status_code == 400
    health = httpx.get(tiny.url + "/_emulator/health").json()
    assert health["ok"] and health["render_cache"]["budget"] == 256 * 1024 * 1024


def test_cli_anchor_is_today_or_an_iso_date() -> None:
    from datetime import date

    from insightly_emulator.__main__ import config_from, main, parser
    from insightly_emulator.config import DEFAULT_ANCHOR, anchor_from

    def anchor(*argv: str) -> datetime:
        return config_from(parser().parse_args(list(argv))).anchor

    assert anchor() == DEFAULT_ANCHOR  # tests keep their fixed anchor
    assert anchor("--anchor", "today") == anchor_from("today")
    assert anchor_from("today", date(2027, 3, 1)) == datetime(2027, 3, 1, tzinfo=timezone.utc)
    assert anchor("--anchor", "2026-12-07") == datetime(2026, 12, 7, tzinfo=timezone.utc)
    at = datetime(2026, 12, 7, 10, 30, tzinfo=timezone.utc)
    assert anchor("--anchor", "2026-12-07T10:30:00Z") == at
    assert anchor("--anchor", "2026-12-07T12:30:00+02:00") == at
    assert main(["--anchor", "last tuesday"]) == 2


def test_the_demo_anchors_its_tenant_at_today(tmp_path: Path) -> None:
    """`make demo`'s emulator (started as the demo starts it) generates its data up to
    today's midnight: open tasks fall due both before and after today; and the data is the
    same as any tenant's of that seed and anchor, different from the fixed anchor's."""
    from insightly_emulator.config import anchor_from
    from insightly_emulator.demo import DEMO_KEY, _start_emulator

    today, path = anchor_from("today"), "Tasks?top=500"
    process, root = _start_emulator(tmp_path, "test", 3, today.isoformat())
    try:
        served = httpx.get(f"{root}/v3.1/{path}", auth=(DEMO_KEY, ""), timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=30)
    same = EmulatorConfig(seed=3, profile="test", api_key=DEMO_KEY, anchor=today)
    fixed = EmulatorConfig(seed=3, profile="test", api_key=DEMO_KEY)
    with Emulator(same) as twin, Emulator(fixed) as old:
        assert httpx.get(twin.base_url + path, auth=(DEMO_KEY, "")).content == served.content
        assert httpx.get(old.base_url + path, auth=(DEMO_KEY, "")).content != served.content
    tasks, day = served.json(), f"{today:%Y-%m-%d}"
    due = sorted(t["DUE_DATE"][:10] for t in tasks if not t["COMPLETED"])
    assert due[0] < day < due[-1], (due[0], due[-1])
    assert max(t["DATE_CREATED_UTC"] for t in tasks) < day
