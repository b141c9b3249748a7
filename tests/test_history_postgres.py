"""History on PostgreSQL: the same versions, stage history and velocity marts as DuckDB.

One tenant, synced into both warehouses, stages moved and a deal won between the syncs;
the history views and marts must hold equal answers (run ids differ by design: each
warehouse had its own syncs; days measured against the clock are compared to 0.1 day).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

import dlt
import duckdb
import psycopg2
import pytest

from insightly.history.sql_text import canonical_hash
from insightly.models import build_models
from insightly.ops import changes
from insightly.ops.changes import fetch_changes
from insightly_emulator import Emulator, EmulatorConfig
from tests.conftest import API_KEY, Warehouse
from tests.test_models_postgres import _norm, postgres_url  # noqa: F401 (the fixture)

ENTITIES = ["opportunities", "pipelines", "pipeline_stages", "custom_fields"]
VIEWS = {
    "insightly_stg.opportunity_stage_history": "opportunity_id, entered_at",
    "insightly_stg.opportunities_history": "opportunity_id, valid_from",
    "insightly_stg.record_changes": "entity, record_id, changed_at, change",
    "insightly_reporting.pipeline_velocity": "pipeline_id, pipeline_stage_id",
    "insightly_reporting.stage_conversion": "pipeline_id, from_stage_id, to_stage_id",
    "insightly_reporting.opportunity_age_in_stage": "opportunity_id",
}
CLOCK = {"days_in_stage", "avg_days_in_stage"}  # measured against now, seconds apart
RUN_IDS = {"run_id"}  # each warehouse had its own syncs


@pytest.fixture(scope="module")
def both(postgres_url, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("history-pg")
    config = EmulatorConfig(seed=7, profile="tiny", api_key=API_KEY, sizes={"Opportunities": 40})
    with Emulator(config) as emu, pytest.MonkeyPatch.context() as mp:
        duck, pg = Warehouse(root / "duck", emu.base_url), Warehouse(root / "pg", emu.base_url)
        mp.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duck.path))
        mp.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)
        mp.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
        mp.setenv("SOURCES__INSIGHTLY__DELETE_CHECK_HOURS", "0")
        closed = [
            o for o in emu.tenant.records("Opportunities") if o["OPPORTUNITY_STATE"] != "OPEN"
        ]
        deleted = closed[0]["OPPORTUNITY_ID"]
        for step in range(2):
            if step:
                _move_stages(emu, step)
                emu.tenant.delete("Opportunities", deleted)  # closes a version on both
            duck.sync(entities=ENTITIES)
            pg.sync(entities=ENTITIES, destination="postgres")
        with duckdb.connect(str(duck.path)) as c:
            build_models(c, "insightly", "duckdb")
        pipeline = dlt.pipeline(
            pipeline_name="insightly",
            destination="postgres",
            dataset_name="insightly",
            pipelines_dir=pg.pipelines_dir,
        )
        build_models(pipeline, "insightly")
    pg_conn = psycopg2.connect(postgres_url)
    pg_conn.autocommit = True  # each query sees the others' sessions as they are now
    duck_conn = duckdb.connect(str(duck.path), read_only=True)
    yield duck_conn, pg_conn, deleted, pipeline
    pg_conn.close()
    duck_conn.close()


def _move_stages(emu: Emulator, step: int) -> None:
    """Move three open deals to their pipeline's next stage; win one."""
    tenant = emu.tenant
    stages = tenant.records("PipelineStages")
    opps = [o for o in tenant.records("Opportunities") if o["OPPORTUNITY_STATE"] == "OPEN"]
    opps = [o for o in opps if o["PIPELINE_ID"]]
    for opp in opps[:3]:
        later = sorted(
            (s for s in stages if s["PIPELINE_ID"] == opp["PIPELINE_ID"]),
            key=lambda s: s["STAGE_ORDER"],
        )
        current = next((i for i, s in enumerate(later) if s["STAGE_ID"] == opp["STAGE_ID"]), -1)
        target = later[(current + 1) % len(later)]["STAGE_ID"]
        tenant.update("Opportunities", opp["OPPORTUNITY_ID"], {"STAGE_ID": target})
    tenant.update("Opportunities", opps[3 + step]["OPPORTUNITY_ID"], {"OPPORTUNITY_STATE": "WON"})


def _answer(cur_rows, names, deleted):
    """Exact columns, and the clock-measured ones; the deleted record's rows are left out
    (its detection time differs between the warehouses by design)."""
    ids = [i for i, n in enumerate(names) if n in ("opportunity_id", "record_id")]
    cur_rows = [r for r in cur_rows if all(r[i] != deleted for i in ids)]
    keep = [i for i, n in enumerate(names) if n not in CLOCK | RUN_IDS]
    return [tuple(_norm(r[i]) for i in keep) for r in cur_rows], [
        [float(r[i] or 0) for i, n in enumerate(names) if n in CLOCK] for r in cur_rows
    ]


def test_history_views_and_velocity_marts_are_equal(both):
    duck, pg, deleted, _ = both
    compared = 0
    for view, order in VIEWS.items():
        sql = f"select * from {view} order by {order}"
        d = duck.execute(sql)
        d_names, d_rows = [x[0] for x in d.description], d.fetchall()
        with pg.cursor() as cur:
            cur.execute(sql)
            p_names, p_rows = [x[0] for x in cur.description], cur.fetchall()
        assert d_names == p_names, view
        assert d_rows, f"{view} is empty: the comparison would prove nothing"
        d_exact, d_clock = _answer(d_rows, d_names, deleted)
        p_exact, p_clock = _answer(p_rows, p_names, deleted)
        assert d_exact == p_exact, view
        for a, b in zip(d_clock, p_clock, strict=True):
            assert all(abs(x - y) < 0.1 for x, y in zip(a, b, strict=True)), view
        compared += len(d_rows)
    assert compared > 50


def test_a_delete_closes_the_last_version_on_both(both):
    duck, pg, deleted, _ = both
    sql = (
        "select change, count(*) from insightly_stg.record_changes "
        f"where entity = 'opportunities' and record_id = {deleted} group by change order by 1"
    )
    with pg.cursor() as cur:
        cur.execute(sql)
        on_pg = cur.fetchall()
    assert duck.execute(sql).fetchall() == on_pg == [("created", 1), ("deleted", 1)]
    sql = (
        "select is_current, valid_to is not null from insightly_stg.opportunities_history "
        f"where opportunity_id = {deleted}"
    )
    with pg.cursor() as cur:
        cur.execute(sql)
        assert cur.fetchall() == duck.execute(sql).fetchall() == [(False, True)]


def test_changes_after_a_time_are_the_views_and_stream_from_a_server_side_cursor(
    both,
    postgres_url,  # noqa: F811
    monkeypatch,
):
    """`insightly changes` on PostgreSQL: the view's events after each time, read from a
    named cursor a batch at a time (the rest waits on the server)."""
    _, pg, _, pipeline = both
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)
    monkeypatch.setattr(changes, "BATCH", 2)
    with pg.cursor() as cur:
        cur.execute("select distinct changed_at from insightly_stg.record_changes order by 1")
        stamps = [r[0] for r in cur.fetchall()]
    assert len(stamps) > 3
    compared = 0
    for since in [stamps[0] - timedelta(seconds=1), *stamps[-3:]]:
        with pg.cursor() as cur:
            cur.execute(
                "select changed_at, entity, record_id, change, changed_fields, run_id "
                "from insightly_stg.record_changes where changed_at > %s",
                (since,),
            )
            want = sorted(cur.fetchall(), key=repr)
        events = fetch_changes(pipeline, "insightly", since, None)
        got = []
        for event in events:
            if not got:  # the rest is still on the server, read 2 rows at a time
                with pg.cursor() as cur:
                    cur.execute(
                        "select query from pg_stat_activity "
                        "where state = 'idle in transaction' and pid <> pg_backend_pid()"
                    )
                    sessions = [r[0] for r in cur.fetchall()]
                assert any(
                    "FETCH FORWARD 2 FROM" in q and "insightly_changes" in q for q in sessions
                )
            fields = ", ".join(event["changed_fields"]) or None
            got.append((*(event[c] for c in changes.COLUMNS[:4]), fields, event["run_id"]))
        assert sorted(got, key=repr) == want, since
        compared += len(got)
    assert compared > len(stamps)


def test_versions_have_the_same_hash_and_json_text_on_both(both):
    """history/sql_text.py: the same content gives the same `_version_hash`, `customfields`
    and `tags` text on DuckDB and Postgres."""
    duck, pg, deleted, _ = both
    query = (
        "select opportunity_id, _version_hash, customfields, tags "
        "from insightly.opportunities__versions where opportunity_id <> %s"
    )
    on_duck = sorted(duck.execute(query.replace("%s", "?"), [deleted]).fetchall())
    with pg.cursor() as cur:
        cur.execute(query, (deleted,))
        on_pg = sorted(cur.fetchall())
    assert len(on_duck) > 40 and on_duck == on_pg
    assert any(len(text) > 2 for _, _, text, _ in on_duck)  # custom fields were compared


def test_the_hash_of_many_columns_is_the_same_text_on_both(postgres_url):  # noqa: F811
    """More columns than one `concat` takes on Postgres (100 arguments): the hash is md5 of
    `name=value` + chr(31) for each non-null column in name order, on both databases."""
    kinds = ("text", "bigint", "boolean", "double precision")
    columns = {f"c{i:03d}": kinds[i % 4] for i in range(130)}
    row = []
    for i, kind in enumerate(columns.values()):
        value = [f"v'{i}é", i * 1000, i % 3 == 0, float(i)][kinds.index(kind)]
        row.append(None if i % 7 == 0 and kind != "boolean" else value)  # a null bool: 'false'
    shown = {
        "boolean": lambda v: "true" if v else "false",
        "double precision": lambda v: str(int(v)),
    }
    text = "".join(
        f"{name}={shown.get(kind, str)(value)}\x1f"
        for (name, kind), value in sorted(zip(columns.items(), row, strict=True))
        if value is not None
    )
    expected = hashlib.md5(text.encode()).hexdigest()
    create = f"create table t ({', '.join(f'{n} {k}' for n, k in columns.items())})"
    marks = ", ".join(["%s"] * len(row))
    for dialect in ("duckdb", "postgres"):
        digest = canonical_hash(columns, dialect, lambda c: f'"{c}"')
        if dialect == "duckdb":
            con = duckdb.connect()
            con.execute(create.replace("double precision", "double"))
            con.execute(f"insert into t values ({marks.replace('%s', '?')})", row)
            got = con.execute(f"select {digest} from t").fetchone()[0]
        else:
            with psycopg2.connect(postgres_url) as pg, pg.cursor() as cur:
                cur.execute(create.replace("create table", "create temporary table"))
                cur.execute(f"insert into t values ({marks})", row)
                cur.execute(f"select {digest} from t")
                got = cur.fetchone()[0]
        assert got == expected, dialect
