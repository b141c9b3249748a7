"""The same push reading from PostgreSQL: the real server test_models_postgres.py starts,
the copy synced into it, the relation a table of another schema there."""

from __future__ import annotations

import psycopg2

from insightly.push import config
from insightly.push.command import PushOptions, run_push
from insightly.push.snapshot import open_warehouse
from insightly.sync.pipeline import SyncOptions, make_pipeline

from .conftest import API_KEY, FAST_RETRIES, Warehouse
from .push_helpers import contacts_by_email, mismatches
from .test_models_postgres import postgres_url  # noqa: F401 - the module's server fixture

DESIRED = """
create schema analytics;
create table analytics.desired as
with unique_emails as (
    select email_address from insightly.contacts where email_address is not null
    group by 1 having count(*) = 1),
existing as (
    select c.contact_id as n, c.email_address, c.first_name, c.last_name || ' PG' as last_name
    from insightly.contacts c join unique_emails using (email_address)
    where c.first_name is not null order by c.contact_id limit 50)
select email_address, first_name, last_name,
       (array['A', 'B', 'C'])[n % 3 + 1] as customer_tier__c,
       (n % 100)::numeric(6, 1) / 4 as discount_rate__c,
       date '2024-02-01' + (n % 100)::int as customer_since__c,
       n % 2 = 0 as newsletter_subscription__c,
       'pg;segment-' || (n % 2) as tags,
       null::bigint as organisation_link
from existing
union all
select 'pg' || n || '@push.example.com', 'Pg' || n, 'Row' || n, 'A', 1.5,
       date '2024-03-01', true, 'pg', {org_id}::bigint
from generate_series(1, 50) as t(n)
"""


def test_push_from_postgres(emulator_factory, tmp_path, monkeypatch, postgres_url):  # noqa: F811
    emu = emulator_factory()
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__MAX_IN_FLIGHT", "6")
    wh = Warehouse(tmp_path, emu.base_url)
    wh.sync(destination="postgres", entities=["contacts", "custom_fields"])
    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cur:
        org_id = emu.tenant.records("Organisations")[0]["ORGANISATION_ID"]
        cur.execute(DESIRED.format(org_id=org_id))
        cur.execute("select * from analytics.desired")
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    spec = config.PushSpec(
        name="pg_contacts", relation="analytics.desired", object="contacts",
        match="EMAIL_ADDRESS", tags_column="tags", tags_mode="set",
        links={"organisation_link": "Organisation"},
    )  # fmt: skip
    options = PushOptions(
        destination="postgres",
        pipelines_dir=wh.pipelines_dir,
        api_key=API_KEY,
        base_url=emu.base_url,
        client_options=dict(FAST_RETRIES),
    )
    result = run_push(spec, options)
    assert result.code == 0, result.text
    counts = result.plan.counts()
    assert (counts["create"], counts["update"], counts["add_link"]) == (50, 50, 50)

    pipeline = make_pipeline(SyncOptions(destination="postgres", pipelines_dir=wh.pipelines_dir))
    with open_warehouse(pipeline) as warehouse:
        meta = {f.name.lower(): f for f in warehouse.custom_fields("contacts").values()}
    customs = {c: meta[c] for c in names if c in meta}
    assert len(customs) == 4
    by_email = contacts_by_email(emu)
    problems = []
    for row in rows:
        found = by_email[row["email_address"].casefold()]
        assert len(found) == 1
        row = {**row, "tags": row["tags"].split(";")}
        problems += mismatches(found[0], row, customs)
        tags = sorted(t["TAG_NAME"] for t in found[0]["TAGS"])
        if tags != sorted(row["tags"]):  # tags_mode set: exactly the column's list
            problems.append(f"{row['email_address']} tags {tags} != {row['tags']}")
        links = {(k["LINK_OBJECT_NAME"], k["LINK_OBJECT_ID"]) for k in found[0]["LINKS"]}
        if row["organisation_link"] and ("Organisation", org_id) not in links:
            problems.append(f"{row['email_address']}: no link to organisation {org_id}")
    assert problems == []
    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cur:
        cur.execute("select status, count(*) from insightly.push_results group by 1")
        assert cur.fetchall() == [("applied", 100)]
