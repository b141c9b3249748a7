"""Guard rails for broken models in `insightly push`: a relation that repeats its match
key stops before any write (8) unless --allow-mass-change; the blank-field guard names
the fields it would clear; id lists stop at ten with a count; a field changed on many
records is a warning; a dry run writes its plan to push_results (an older table gains
the dry_run column) and estimates the time; a push to a file prints progress lines."""

from __future__ import annotations

import io
import re

import dlt
import pyarrow as pa
import pytest

from insightly.push import config
from insightly.push.guards import MassChangeStopped
from insightly.push.results import RESULTS_SCHEMA, RESULTS_TABLE
from insightly.push.text import duration, listed
from insightly.sync.pipeline import PIPELINE_NAME, SyncOptions, make_pipeline

from .push_helpers import PushEnv, start

UNIQUE = """(select email_address from insightly.contacts where email_address is not null
             group by 1 having count(*) = 1)"""


def test_repeated_match_key_stops_before_any_write_until_allowed(request, tmp_path):
    # a bad join: 40 contacts, 12 of them twice and the first a third time (25 rows repeat)
    env = start(request, tmp_path)
    env.execute(
        "create schema analytics",
        f"""create table analytics.base as
        select c.contact_id, c.email_address, c.last_name || ' (joined)' as last_name
        from insightly.contacts c join {UNIQUE} u using (email_address)
        order by c.contact_id limit 40""",
        """create table analytics.joined as
        select email_address, last_name from analytics.base
        union all select email_address, last_name from
            (select * from analytics.base order by contact_id limit 12)
        union all select email_address, last_name from
            (select * from analytics.base order by contact_id limit 1)""",
    )
    base = env.warehouse.query("select contact_id, email_address from analytics.base")
    first = min(base)[1]
    spec = config.from_arguments(
        "contacts", "analytics.joined", "update", "EMAIL_ADDRESS", None, "add"
    )
    expected = (
        "push contacts__joined: stopped before sending anything: 25 of 53 rows of "
        "analytics.joined repeat their key EMAIL_ADDRESS (more than max(10, 1% of the rows) "
        f"= 10), e.g. {first} (3 rows), "
    )
    dry = env.push(spec, dry_run=True)
    assert dry.code == 8, dry.text
    assert expected in dry.text
    with pytest.raises(MassChangeStopped) as stopped:
        env.push(spec)
    assert stopped.value.exit_code == 8
    message = str(stopped.value)
    assert message.startswith(expected) and "\n" not in message
    assert "run again with --allow-mass-change" in message
    assert env.write_requests() == []

    allowed = env.push(spec, allow_mass_change=True)
    assert allowed.code == 5, allowed.text  # the repeated rows are invalid, the rest sent
    updated = {e.record_id for e in env.emulator.writes.events() if e.op == "update"}
    ordered = sorted(base)
    assert updated == {i for i, _ in ordered[12:]}


def test_blank_field_guard_names_fields_and_id_lists_stop_at_ten(request, tmp_path):
    env = start(request, tmp_path)
    env.execute(
        "create schema analytics",
        """create table analytics.blanked as
        select contact_id, null::varchar as title,
               case when contact_id % 2 = 0 then null else phone end as phone
        from insightly.contacts where title is not null and phone is not null
        order by contact_id limit 80""",
    )
    ids = [r[0] for r in env.warehouse.query("select contact_id from analytics.blanked")]
    phones = sum(i % 2 == 0 for i in ids)
    assert len(ids) == 80 and phones > 0
    spec = config.PushSpec(
        name="blanked", relation="analytics.blanked", object="contacts", mode="update"
    )
    dry = env.push(spec, dry_run=True)
    assert dry.code == 8, dry.text
    first_ten = ", ".join(str(r.record_id) for r in dry.plan.rows[:10])
    assert {r.record_id for r in dry.plan.rows} == set(ids)
    assert f"  would clear fields that hold values on (80): {first_ten} … and 70 more\n" in dry.text
    assert f"  fields it would clear: TITLE on 80 records, PHONE on {phones} records" in dry.text
    assert max(len(line) for line in dry.text.splitlines()) < 400
    assert env.write_requests() == []


def test_dry_run_plan_lands_in_older_push_results_and_a_push_to_a_file_shows_progress(
    request, tmp_path
):
    env = start(request, tmp_path)
    _older_push_results(env)
    env.execute(
        "create schema analytics",
        """create table analytics.scores as
        select contact_id, (contact_id % 90)::int + 1 as kundenzufriedenheit__c
        from insightly.contacts order by contact_id limit 70""",
        "insert into analytics.scores values (1, 5)",  # no such contact: invalid
    )
    spec = config.PushSpec(
        name="scores", relation="analytics.scores", object="contacts", mode="update"
    )
    dry = env.push(spec, dry_run=True)
    assert dry.code == 5, dry.text
    assert dry.plan.writes == 70, dry.text  # every score differs: 70 PUTs
    rows = env.warehouse.query(
        "select dry_run, status, count(*) from push_results group by all order by all"
    )
    # the plan, and the older row with a NULL in the column dlt added
    assert rows == [(True, "invalid", 1), (True, "planned", 70), (None, "applied", 1)]
    assert f"  plan: in push_results, run_id {dry.report.run_id}, dry_run = true" in dry.text
    assert "  time: 70 writes at 500 req/s: under a minute" in dry.text
    warning = (
        "  warning: the push changes Kundenzufriedenheit__c on 70 of 1,250 records "
        "(more than 63, the guard rail's threshold)"
    )
    assert warning in dry.text
    assert env.write_requests() == []

    # for real, to a file: progress lines while it writes, the warning in the summary
    env.emulator.configure(latency_ms=50)
    log = io.StringIO()
    done = env.push(spec, progress=log, progress_every=0.05)
    assert done.code == 5, done.text
    assert warning in done.text
    lines = log.getvalue().splitlines()
    pattern = re.compile(
        r"\S+Z progress push scores: (\d+) of 70 writes sent, 0 failed, \d+ s"
        r"(, (about \d+ minutes?|under a minute) left)?"
    )
    sent = [int(m.group(1)) for m in map(pattern.fullmatch, lines) if m]
    assert len(sent) == len(lines) >= 2, lines
    assert sent == sorted(sent) and sent[0] < 70, lines
    real = env.warehouse.query(
        "select status, count(*) from push_results where not dry_run group by 1 order by 1"
    )
    assert real == [("applied", 70), ("invalid", 1)]


def _older_push_results(env: PushEnv) -> None:
    """push_results as a push before the dry_run column loaded it (one applied row)."""
    old = pa.schema([f for f in RESULTS_SCHEMA if f.name != "dry_run"])
    row = {n: None for n in old.names} | {"run_id": "old", "push": "x", "status": "applied"}
    pipeline = make_pipeline(
        SyncOptions(
            pipeline_name=f"{PIPELINE_NAME}_push", pipelines_dir=env.warehouse.pipelines_dir
        )
    )
    table = pa.Table.from_pylist([row], schema=old)
    pipeline.run(dlt.resource(table, name=RESULTS_TABLE, write_disposition="append"))
    columns = env.warehouse.query(
        f"select column_name from information_schema.columns where table_name = '{RESULTS_TABLE}'"
    )
    assert ("status",) in columns and ("dry_run",) not in columns


def test_listed_and_duration_words():
    assert listed(range(9016)) == "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 … and 9,006 more"
    assert listed([3, 1]) == "3, 1"
    assert duration(20485 / 10) == "about 34 minutes"
    assert duration(30) == "under a minute"
    assert duration(3 * 3600 + 5 * 60) == "about 3 h 05 min"
