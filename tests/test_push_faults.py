"""A push under failure: 5% faults (lost answers among them) and SIGKILLs of the push
process leave every row applied exactly once; the quota reserve stops a push with 75 and
the rerun completes it without resending; invalid rows are never sent; the delete guard
rail stops a mass delete until --allow-mass-change."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from insightly.push import config
from insightly.push.guards import MassChangeStopped

from .conftest import API_KEY
from .push_helpers import PushEnv, contacts_by_email, start

UNIQUE = """(select email_address from insightly.contacts where email_address is not null
             group by 1 having count(*) = 1)"""


def desired(env: PushEnv, changed: int, new: int, extra: str = "") -> None:
    env.execute(
        "create schema if not exists analytics",
        f"""create table analytics.desired as
        with existing as (
            select c.contact_id as n, c.email_address, c.first_name,
                   c.last_name || ' (pushed)' as last_name
            from insightly.contacts c join {UNIQUE} u using (email_address)
            where c.first_name is not null order by c.contact_id limit {changed})
        select email_address, first_name, last_name,
               ['Email', 'Phone', 'SMS'][n % 3 + 1] as preferred_contact_method__c,
               ((n % 500) * 2.5)::varchar as lifetime_value__c, ['pushed'] as tags
        from existing
        union all
        select 'fresh' || n || '@push.example.com', 'Fresh' || n, 'Row' || n,
               'Email', (n * 1.5)::varchar, ['pushed', 'new']
        from range(1, {new + 1}) t(n) {extra}""",
    )


UPSERT = config.from_arguments(
    "contacts", "analytics.desired", "upsert", "EMAIL_ADDRESS", "tags", "add"
)

PUSH_SCRIPT = textwrap.dedent(
    """
    import sys
    from insightly.push import config
    from insightly.push.command import PushOptions, run_push
    spec = config.from_arguments("contacts", "analytics.desired", "upsert", "EMAIL_ADDRESS",
                                 "tags", "add")
    options = PushOptions(pipelines_dir=sys.argv[1], client_options={
        "backoff_initial": 0.01, "backoff_max": 0.05, "max_attempts": 4, "timeout": 2.0})
    result = run_push(spec, options)
    print(result.text)
    sys.exit(result.code)
    """
)


def launch(env: PushEnv) -> subprocess.Popen:
    environ = {
        **os.environ,
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": env.emulator.base_url,
    }
    return subprocess.Popen(
        [sys.executable, "-c", PUSH_SCRIPT, env.warehouse.pipelines_dir],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def kill_after_writes(env: PushEnv, process: subprocess.Popen, writes: int) -> bool:
    """SIGKILL the push once the emulator applied `writes` more writes; False if it ended."""
    start = len(env.emulator.writes.events())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if len(env.emulator.writes.events()) >= start + writes:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.01)
    process.wait()
    return False


def test_faults_and_kills_apply_every_row_exactly_once(request, tmp_path):
    mix = {"500": 1.0, "503": 1.0, "reset": 1.0, "timeout": 1.0, "lost": 2.0, "lost_500": 2.0}
    env = start(request, tmp_path)
    desired(env, changed=100, new=100)
    env.emulator.configure(fault_rate=0.05, fault_mix=mix, timeout_hold_s=3.0)
    kills = [kill_after_writes(env, launch(env), n) for n in (15, 40, 25, 60, 10)]
    assert kills == [True] * 5, "every kill landed while the push was writing"
    for _ in range(4):  # faults can leave a row unknown: a rerun settles it
        process = launch(env)
        output, _ = process.communicate(timeout=120)
        if process.returncode == 0:
            break
    assert process.returncode == 0, output
    events = env.emulator.writes.events()
    assert any(e.lost for e in events), "some answers were lost after the write applied"
    faults = [r for r in env.emulator.requests if r.fault and r.method != "GET"]
    assert len(faults) >= 5

    # no duplicate: every desired e-mail is exactly one record, created exactly once
    by_email = contacts_by_email(env.emulator)
    rows = env.warehouse.query("select email_address, last_name from analytics.desired")
    assert all(len(by_email[e.casefold()]) == 1 for e, _ in rows)
    assert all(by_email[e.casefold()][0]["LAST_NAME"] == name for e, name in rows)
    assert sum(e.op == "create" for e in events) == 100
    assert all(
        {"pushed"} <= {t["TAG_NAME"] for t in by_email[e.casefold()][0]["TAGS"]} for e, _ in rows
    )
    # push_results agrees: the last run has each row applied or equal, with its record's id
    last = env.warehouse.query(
        "select row_key, status, insightly_id from push_results where run_id = "
        '(select run_id from push_results order by "at" desc limit 1)'
    )
    assert len(last) == 200
    assert {s for _, s, _ in last} <= {"applied", "equal"}
    for key, _, record_id in last:
        email = key.split(":", 1)[1]
        assert by_email[email.casefold()][0]["CONTACT_ID"] == record_id


def test_reserve_stops_with_75_and_rerun_completes_invalid_rows_never_sent(request, tmp_path):
    env = start(request, tmp_path, daily_limit=300)
    ambiguous = env.warehouse.query(
        "select email_address, list(contact_id order by contact_id) from insightly.contacts "
        "where email_address is not null group by 1 having count(*) > 1 limit 1"
    )[0]
    bad_rows = f"""union all select 'noname@push.example.com', null, 'Nameless', 'Email', '1', []
        union all select 'dropdown@push.example.com', 'Bad', 'Dropdown', 'Pigeon', '1', []
        union all select 'numeric@push.example.com', 'Bad', 'Number', 'Email', 'lots', []
        union all select '{ambiguous[0]}', 'Two', 'Matches', 'Email', '1', []"""
    desired(env, changed=75, new=75, extra=bad_rows)
    first = env.push(UPSERT)
    assert first.code == 75, first.text
    assert "stopped" in first.text
    statuses = first.report.statuses()
    assert statuses["pending"] > 0 and statuses["applied"] > 0, first.text
    sent_first = len(env.emulator.writes.events())

    env.emulator.reset_quota()
    second = env.push(UPSERT)
    assert second.code == 5, second.text  # the invalid rows
    events = env.emulator.writes.events()
    needed = 75 + 75 + 75 * 2 + 75  # creates, updates, the new rows' 2 tags, old rows' tag
    assert len(events) == needed, "nothing was sent twice"
    assert sent_first < needed
    assert sum(e.op == "create" for e in events) == 75

    invalid = {r.key: r.error for r in second.plan.rows if r.action == "invalid"}
    assert (
        "missing required field(s) FIRST_NAME" in invalid["EMAIL_ADDRESS:noname@push.example.com"]
    )
    assert (
        "'Pigeon' is not one of the options" in invalid["EMAIL_ADDRESS:dropdown@push.example.com"]
    )
    assert "'lots' is not a number" in invalid["EMAIL_ADDRESS:numeric@push.example.com"]
    ids = ", ".join(map(str, ambiguous[1]))
    assert (
        f"ambiguous: EMAIL_ADDRESS matches records {ids}"
        in invalid[f"EMAIL_ADDRESS:{ambiguous[0]}"]
    )
    by_email = contacts_by_email(env.emulator)
    for email in ("noname@", "dropdown@", "numeric@"):
        assert f"{email}push.example.com" not in by_email
    touched = {e.record_id for e in events}
    assert not touched & set(ambiguous[1])
    results = env.warehouse.query(
        "select status, count(*) from push_results where error like '%ambiguous%' group by 1"
    )
    assert results == [("invalid", 2)]  # reported by both runs


def test_delete_guard_rail_then_allow_mass_change(request, tmp_path):
    env = start(request, tmp_path)
    env.execute(
        "create schema analytics",
        "create table analytics.leavers as select contact_id from insightly.contacts "
        "order by contact_id limit 200",
    )
    doomed = {r[0] for r in env.warehouse.query("select contact_id from analytics.leavers")}
    spec = config.PushSpec(
        name="leavers", relation="analytics.leavers", object="contacts", mode="delete"
    )
    dry = env.push(spec, dry_run=True)
    assert dry.code == 8 and "would delete (200)" in dry.text, dry.text
    # the dry run's plan holds every record it would delete; the message the first ten
    planned = env.warehouse.query(
        "select insightly_id from push_results where dry_run and status = 'planned'"
    )
    assert {r[0] for r in planned} == doomed
    with pytest.raises(MassChangeStopped) as stopped:
        env.push(spec)
    assert stopped.value.exit_code == 8
    message = str(stopped.value)
    assert "delete 200 records" in message and "guard rail's 63" in message
    listed = message.split("would delete (200): ")[1]
    first, rest = listed.split(" … and ")
    assert rest == "190 more" and {int(i) for i in first.split(", ")} < doomed
    assert len(first.split(", ")) == 10
    assert env.write_requests() == []

    done = env.push(spec, allow_mass_change=True)
    assert done.code == 0, done.text
    deleted = {e.record_id for e in env.emulator.writes.events() if e.op == "delete"}
    assert deleted == doomed
    left = {r["CONTACT_ID"] for r in env.emulator.tenant.records("Contacts")}
    assert not left & doomed and len(left) == 1250 - 200
    # the push's sync saw the deletes: the copy marks them, a second push has nothing to do
    marked = env.warehouse.query("select contact_id from contacts where _deleted_at is not null")
    assert {r[0] for r in marked} == doomed
    again = env.push(spec, dry_run=True)
    assert again.code == 0 and again.plan.writes == 0, again.text
