"""Comments and file attachments of the records that changed (read/activity.py): they land
under both answers to "does new activity bump the parent's DATE_UPDATED_UTC?", the backfill
resumes after a quota stop without reading a parent twice, and `plan` prices them. Also the
lookups loaded since: Follows, DocumentTemplates, MarketingVisits, Instance, Permissions."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timezone

import httpx

from insightly.api.client import InsightlyClient
from insightly.api.connection import Connection
from insightly.api.pacing import Pacer
from insightly.catalogue.entities import PER_RECORD
from insightly.sync.cost import estimate, render
from tests.conftest import API_KEY, Warehouse
from tests.helpers import differences, entity_paths

SIZES = {"Tasks": 16, "Notes": 16, "Emails": 10, "Ticket": 10, "Contacts": 16}
PARENTS = ["tasks", "notes", "emails", "tickets", "contacts"]
ACTIVITY = [k.table for k in PER_RECORD]
ITEM_PATH = re.compile(r"^/v3\.1/(\w+)/(\d+)/(Comments|FileAttachments)$")


def expected(emu, tables: list[str]) -> dict[str, list[dict]]:
    """Every item the emulator has under the parents in `tables`, as the warehouse rows
    should hold them (with PARENT_ENTITY and PARENT_ID)."""
    paths = entity_paths(emu)
    out: dict[str, list[dict]] = {}
    for kind in PER_RECORD:
        rows = []
        for parent in kind.parents:
            if parent not in tables:
                continue
            path, (pk,) = paths[parent]
            for record in emu.tenant.records(path):
                items = emu.tenant.activity.items(kind.path, path, record[pk]) or []
                rows += [{**i, "PARENT_ENTITY": parent, "PARENT_ID": record[pk]} for i in items]
        out[kind.table] = rows
    return out


def lists_per_table(emu, tables: list[str]) -> dict[str, int]:
    """Activity table -> parent records of `tables` it has (one list request each)."""
    paths = entity_paths(emu)
    return {
        kind.table: sum(len(emu.tenant.records(paths[p][0])) for p in kind.parents if p in tables)
        for kind in PER_RECORD
    }


def missing(emu, wh: Warehouse, tables: list[str]) -> dict[str, list[str]]:
    """Differences between the emulator's activity and the warehouse, per table."""
    problems = {}
    for kind in PER_RECORD:
        if not set(kind.parents) & set(tables):
            continue
        rows = expected(emu, tables)[kind.table]
        assert rows, f"the tenant must have {kind.table}"
        stored = wh.query(f"select count(*) from {kind.table}")[0][0]
        found = differences(wh, kind.table, kind.primary_key, rows)
        if found or stored != len(rows):
            problems[kind.table] = found or [f"{stored} rows stored, {len(rows)} expected"]
    return problems


def item_requests(emu, since: int = 0) -> list[tuple[str, int, str]]:
    """(parent path, parent id, list) of every activity request answered 200."""
    out = []
    for r in emu.requests[since:]:
        match = ITEM_PATH.match(r.path)
        if match and r.status == 200:
            out.append((match[1], int(match[2]), match[3]))
    return out


def _warehouse(tmp_path, emu, monkeypatch) -> Warehouse:
    wh = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__ACTIVITY", "true")  # opt in: all per-record tables
    return wh


def test_activity_of_changed_records_lands_under_both_switch_settings(
    emulator_factory, tmp_path, monkeypatch
):
    emu = emulator_factory(profile="tiny", sizes=SIZES)  # activity_updates_parent="no"
    wh = _warehouse(tmp_path, emu, monkeypatch)
    first = wh.sync(entities=PARENTS + ACTIVITY)
    assert missing(emu, wh, PARENTS) == {}  # the backfill fits in one sync here
    assert len(item_requests(emu)) == sum(lists_per_table(emu, PARENTS).values())
    assert first.stats.rows["file_attachments"] == len(expected(emu, PARENTS)["file_attachments"])
    tasks = [r["TASK_ID"] for r in emu.tenant.records("Tasks")]
    contact = emu.tenant.records("Contacts")[5]["CONTACT_ID"]
    ticket = emu.tenant.records("Ticket")[2]["TICKET_ID"]
    note, comment = next(
        (n["NOTE_ID"], items[0]["COMMENT_ID"])
        for n in emu.tenant.records("Notes")
        if (items := emu.tenant.activity.items("Comments", "Notes", n["NOTE_ID"]))
    )

    # activity that leaves its parent's DATE_UPDATED_UTC alone is not seen by an incremental
    # read; a new email's is (emails: those new since the last sync)
    emu.tenant.activity.add("Comments", "Tasks", tasks[3])
    emu.tenant.activity.add("FileAttachments", "Contacts", contact)
    email = emu.tenant.create("Emails")["EMAIL_ID"]
    emu.tenant.activity.add("Comments", "Emails", email)
    emu.tenant.activity.add("FileAttachments", "Emails", email)
    before = len(emu.requests)
    wh.sync(entities=PARENTS + ACTIVITY)
    assert Counter((p, i) for p, i, _ in item_requests(emu, before)) == {("Emails", email): 2}
    assert set(missing(emu, wh, PARENTS)) == {"comments", "file_attachments"}
    assert wh.query("select count(*) from comments where parent_id = ?", email) == [(1,)]

    # activity that bumps its parent: one request per list of each changed parent
    emu.configure(activity_updates_parent="yes")
    emu.tenant.activity.add("Comments", "Tasks", tasks[7])
    emu.tenant.activity.add("Comments", "Ticket", ticket)
    emu.tenant.activity.edit("Comments", "Notes", note, comment)
    before = len(emu.requests)
    wh.sync(entities=PARENTS + ACTIVITY)
    asked = Counter((p, i) for p, i, _ in item_requests(emu, before))
    assert asked == {("Tasks", tasks[7]): 1, ("Ticket", ticket): 1, ("Notes", note): 2}
    assert set(missing(emu, wh, PARENTS)) == {"comments", "file_attachments"}  # the first two

    # the periodic full pass (here due at once) completes what no incremental read could see;
    # it needs the parents in the warehouse only, not their read
    monkeypatch.setenv("SOURCES__INSIGHTLY__ACTIVITY_FULL_PASS_HOURS", "0")
    before = len(emu.requests)
    wh.sync(entities=ACTIVITY)
    assert len(item_requests(emu, before)) == sum(lists_per_table(emu, PARENTS).values())
    assert missing(emu, wh, PARENTS) == {}
    for kind in PER_RECORD:
        key = kind.primary_key[0].lower()
        dupes = wh.query(f"select {key} from {kind.table} group by all having count(*) > 1")
        assert dupes == [], kind.table


def test_the_backfill_resumes_after_a_quota_stop_without_reading_a_parent_twice(
    emulator_factory, tmp_path, monkeypatch
):
    emu = emulator_factory(profile="tiny", sizes={"Contacts": 60}, daily_limit=30)
    emu.configure(activity_updates_parent="yes")
    wh = _warehouse(tmp_path, emu, monkeypatch)
    monkeypatch.setenv("SOURCES__INSIGHTLY__QUOTA_RESERVE", "0")
    monkeypatch.setenv("SOURCES__INSIGHTLY__MAX_IN_FLIGHT", "1")
    # the whole quota for per-record reads: the quota stop, not the daily share, cuts them
    monkeypatch.setenv("SOURCES__INSIGHTLY__PER_RECORD_QUOTA_SHARE", "1")
    tables = ["contacts", "file_attachments"]
    contacts = [r["CONTACT_ID"] for r in emu.tenant.records("Contacts")]
    stops, late = 0, None
    for day in range(6):
        httpx.post(emu.url + "/_emulator/quota")  # a new quota day
        result = wh.sync(entities=tables)
        stops += result.stats.quota_stop is not None
        read = {i for p, i, _ in item_requests(emu) if p == "Contacts"}
        if day == 0:  # a contact the backfill has read gets an attachment: read next day
            late = sorted(read)[0]
            emu.tenant.activity.add("FileAttachments", "Contacts", late)
        elif read >= set(contacts) and result.stats.quota_stop is None:
            break
    assert stops >= 2  # the backfill took several days
    fetched = Counter(i for p, i, _ in item_requests(emu) if p == "Contacts")
    assert set(fetched) == set(contacts)
    assert [i for i, n in fetched.items() if n > 1] == [late]  # only the changed one again
    assert missing(emu, wh, ["contacts"]) == {}


def test_plan_prices_the_activity(emulator_factory, monkeypatch):
    emu = emulator_factory(profile="tiny", sizes=SIZES)
    monkeypatch.setenv("SOURCES__INSIGHTLY__ACTIVITY_REQUESTS_PER_TABLE", "25")
    monkeypatch.setenv("SOURCES__INSIGHTLY__ACTIVITY", "true")
    with InsightlyClient(Connection(API_KEY, emu.base_url), pacer=Pacer(500, 4)) as client:
        plan = estimate(client)
    cost = plan.activity
    counts = {t: len(emu.tenant.records(p)) for t, (p, _) in entity_paths(emu).items()}
    assert cost.backfill["comments"] == counts["tasks"] + counts["notes"] + counts["emails"]
    assert cost.backfill["ticket_comments"] == counts["tickets"]
    parents = ("contacts", "leads", "organisations", "opportunities", "projects", "notes")
    customs = [t for t in counts if t.startswith("custom_")]
    attachable = sum(counts[t] for t in (*parents, "emails", *customs))
    assert cost.backfill["file_attachments"] == attachable
    assert cost.syncs == -(-attachable // 25)

    # what real syncs spend against this pricing: tests/test_sync_cost.py (the first two syncs of
    # the test tenant, whose attachment backfill is larger than a sync's budget)
    assert counts["tickets"] < 25  # its backfill fits in one sync, the other two don't
    assert cost.in_sync(0) == 25 + counts["tickets"] + 25 and cost.in_sync(cost.syncs) == 0
    text = render(plan, rate_per_s=4, reserve=0.1, cadence_hours=24)
    for table, backfill in cost.backfill.items():  # each per-record table priced apart
        assert f"{table}: " in text
        assert f"read; backfill {backfill} requests (one per parent record, at most 25" in text
    assert "activity full pass" not in text  # off unless activity_full_pass_hours is set


def test_the_new_lookups_land(emulator_factory, tmp_path, monkeypatch):
    emu = emulator_factory(profile="tiny")
    wh = _warehouse(tmp_path, emu, monkeypatch)
    lookups = ["follows", "document_templates", "marketing_visits", "instance", "permissions"]
    wh.sync(entities=lookups)
    for table, path, key in (
        ("follows", "Follows", ("RECORD_TYPE", "RECORD_ID")),
        ("document_templates", "DocumentTemplates", ("TEMPLATE_ID",)),
        ("marketing_visits", "MarketingVisits", ("VISIT_ID",)),
    ):
        records = emu.tenant.records(path)
        assert records and differences(wh, table, key, records) == []
        assert wh.query(f"select count(*) from {table}") == [(len(records),)]
    api = httpx.Client(base_url=emu.base_url, auth=(API_KEY, ""))
    instance = api.get("Instance").json()
    assert differences(wh, "instance", ("INSTANCE_SUBDOMAIN",), [instance]) == []
    permissions = api.get("Permissions").json()
    (row,) = wh.query("select permissions_state, object_permissions from permissions")
    assert row[0] == permissions["PERMISSIONS_STATE"]
    assert json.loads(row[1]) == permissions["OBJECT_PERMISSIONS"]


def test_the_emulator_serves_activity_as_documented(emulator_factory):
    emu = emulator_factory(profile="tiny", sizes=SIZES)
    api = httpx.Client(base_url=emu.base_url, auth=(API_KEY, ""))
    task = emu.tenant.records("Tasks")[0]
    before = task["DATE_UPDATED_UTC"]
    old = emu.tenant.activity.add("Comments", "Tasks", task["TASK_ID"], at=_utc("2026-01-01"))
    assert emu.tenant.get("Tasks", task["TASK_ID"])["DATE_UPDATED_UTC"] == before  # "no"
    emu.configure(activity_updates_parent="yes")
    new = emu.tenant.activity.add("Comments", "Tasks", task["TASK_ID"], at=_utc("2026-02-01"))
    assert emu.tenant.get("Tasks", task["TASK_ID"])["DATE_UPDATED_UTC"] == "2026-02-01 00:00:00"
    path = f"Tasks/{task['TASK_ID']}/Comments"
    answer = api.get(path, params={"count_total": "true"})
    ids = [c["COMMENT_ID"] for c in answer.json()]
    assert {old["COMMENT_ID"], new["COMMENT_ID"]} <= set(ids)
    assert answer.headers["X-Total-Count"] == str(len(ids)) and ids == sorted(ids)
    after = api.get(path, params={"updated_after_utc": "2026-01-15T00:00:00Z"}).json()
    assert [c["COMMENT_ID"] for c in after] == [new["COMMENT_ID"]]
    assert api.get(path, params={"top": 1, "skip": 1}).json() == answer.json()[1:2]
    emu.tenant.delete("Tasks", task["TASK_ID"])
    assert api.get(path).status_code == 404
    assert api.get("Tasks/1/FileAttachments").status_code == 404  # tasks have none


def _utc(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
