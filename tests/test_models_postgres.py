"""The same models on a real local PostgreSQL server, with the same answers as DuckDB.

The server is started here (Debian's `postgresql` package: initdb/pg_ctl from
/usr/lib/postgresql/*/bin), as a non-root user, on a free port, in a temporary directory.
"""

from __future__ import annotations

import datetime as dt
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import dlt
import duckdb
import pytest

from insightly.models import build_models
from insightly_emulator import Emulator, EmulatorConfig

from .conftest import API_KEY, Warehouse

psycopg2 = pytest.importorskip("psycopg2")

STG, REP = "insightly_stg", "insightly_reporting"
TIME_DEPENDENT = {"avg_days_in_stage", "days_in_stage"}  # measured against the clock
# moves between stages: one sync sees none (tests/test_history_postgres.py compares them)
NEEDS_TWO_SYNCS = {"stage_conversion"}


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found and shutil.which("initdb"):
        found = [shutil.which("initdb")]
    if not found:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: "
            "install Debian's `postgresql` package (apt-get install -y postgresql)"
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user(user: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if user else argv


@pytest.fixture(scope="module")
def postgres_url():
    bindir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="insightly-pg-"))
    data = root / "data"
    user = None
    if os.geteuid() == 0:  # initdb refuses root: run the server as nobody
        user = "nobody"
        os.chmod(root, 0o755)
        shutil.chown(root, user)
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    subprocess.run(
        _as_user(user, [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                        "-E", "UTF8"]),
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off"
    subprocess.run(
        _as_user(user, [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-l",
                        str(root / "log"), "start"]),
        check=True, capture_output=True, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres")
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("create database insightly_wh")
        conn.close()
        yield f"postgresql://postgres:postgres@127.0.0.1:{port}/insightly_wh"
    finally:
        subprocess.run(
            _as_user(user, [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def both(postgres_url, tmp_path_factory):
    """One emulator tenant synced into DuckDB and into PostgreSQL, models built on both."""
    root = tmp_path_factory.mktemp("models-pg")
    config = EmulatorConfig(seed=7, profile="test", api_key=API_KEY)
    with Emulator(config) as emu, pytest.MonkeyPatch.context() as mp:
        duck = Warehouse(root / "duck", emu.base_url)
        mp.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(duck.path))
        mp.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres_url)
        mp.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")  # the emulator has no limit here
        duck.sync()
        pg = Warehouse(root / "pg", emu.base_url)
        pg.sync(destination="postgres")
        with duckdb.connect(str(duck.path)) as c:
            duck_report = build_models(c, "insightly", "duckdb")
        # on Postgres, through the pipeline's own dlt sql client
        pipeline = dlt.pipeline(
            pipeline_name="insightly",
            destination="postgres",
            dataset_name="insightly",
            pipelines_dir=pg.pipelines_dir,
        )
        pg_report = build_models(pipeline, "insightly")
    pg_conn = psycopg2.connect(postgres_url)
    pg_conn.autocommit = True
    duck_conn = duckdb.connect(str(duck.path), read_only=True)
    yield duck_conn, pg_conn, duck_report, pg_report
    pg_conn.close()
    duck_conn.close()


def _pg(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        return names, cur.fetchall()


def _duck(conn, sql):
    cur = conn.execute(sql)
    return [d[0] for d in cur.description], cur.fetchall()


def _norm(value):
    if isinstance(value, (Decimal, float)):
        return round(float(value), 1)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc)
    return value


def _rows(names, rows):
    keep = [i for i, n in enumerate(names) if n not in TIME_DEPENDENT]
    out = [tuple(_norm(r[i]) for i in keep) for r in rows]
    return sorted(out, key=lambda r: tuple((x is None, str(x)) for x in r))


def test_the_same_models_are_built_on_both(both):
    _, _, duck_report, pg_report = both
    assert sorted(duck_report.reporting) == sorted(pg_report.reporting)
    assert len(pg_report.reporting) == 11
    assert sorted(duck_report.staging) == sorted(pg_report.staging)
    assert sorted(duck_report.custom_fields) == sorted(pg_report.custom_fields)


def test_every_mart_has_equal_answers(both):
    duck, pg, report, _ = both
    for mart in report.reporting:
        sql = f'select * from {REP}."{mart}"'
        d_names, d_rows = _duck(duck, sql)
        p_names, p_rows = _pg(pg, sql)
        assert d_names == p_names, mart
        assert d_rows or mart in NEEDS_TWO_SYNCS, mart
        assert _rows(d_names, d_rows) == _rows(p_names, p_rows), mart
        if "avg_days_in_stage" in d_names:
            i = d_names.index("avg_days_in_stage")
            # NULL where no stay has ended yet (pipeline_velocity after one sync)
            d = sorted(float(r[i]) for r in d_rows if r[i] is not None)
            p = sorted(float(r[i]) for r in p_rows if r[i] is not None)
            assert all(abs(a - b) < 0.5 for a, b in zip(d, p, strict=True))


def test_staging_tags_links_and_custom_fields_are_equal(both):
    duck, pg, report, _ = both
    views = ["contacts", "opportunities", "tasks", "record_tags", "record_links"]
    views += report.custom_fields
    for view in views:
        sql = f'select * from {STG}."{view}"'
        d_names, d_rows = _duck(duck, sql)
        p_names, p_rows = _pg(pg, sql)
        assert d_names == p_names, view
        assert _rows(d_names, d_rows) == _rows(p_names, p_rows), view


def test_custom_field_columns_are_typed_on_postgres(both):
    _, pg, _, _ = both
    _, rows = _pg(
        pg,
        "select column_name, data_type from information_schema.columns "
        f"where table_schema = '{STG}' and table_name = 'contacts_custom_fields'",
    )
    types = dict(rows)
    assert types["Interests"] == "ARRAY"
    assert types["Interests (text)"] == "text"
    assert types["Newsletter Subscription"] == "boolean"
    assert types["Lifetime Value"] == "double precision"
    assert types["Discount Rate"] == "double precision"
    assert types["Customer Since"] == "date"
    assert types["Last Review (UTC)"] == "timestamp without time zone"
    assert types['Kundenzufriedenheit "NPS" ✓'] == "double precision"
    assert types['Customer\'s "Tier" (A–C)'] == "text"


def test_user_models_survive_the_rebuild_on_postgres(both, tmp_path):
    """On Postgres, dropping our schemas CASCADEs into the user's views that read them; the
    build makes them again from their files right after, and a table of the user's own in
    the same schema is untouched. The answer equals DuckDB's."""
    duck, pg, _, _ = both
    (tmp_path / "scores.sql").write_text(
        "select contact_id, case when title is not null then 40 else 0 end as lead_score "
        "from stg.contacts"
    )
    user = {"user_models_dir": tmp_path, "user_models_schema": "analytics"}
    first = build_models(pg, "insightly", "postgres", **user)
    assert first.user == ["scores"] and not first.failed
    with pg.cursor() as cur:
        cur.execute("create table analytics.kept as select 42 as answer")
    again = build_models(pg, "insightly", "postgres", **user)
    assert again.user == ["scores"] and not again.failed
    _, kept = _pg(pg, "select answer from analytics.kept")
    assert kept == [(42,)]
    sql = "select sum(lead_score), count(*) from {} "
    _, p_rows = _pg(pg, sql.format("analytics.scores"))
    _, d_rows = _duck(
        duck,
        "select sum(case when title is not null then 40 else 0 end), count(*) "
        f"from {STG}.contacts",
    )
    assert [tuple(int(v) for v in r) for r in p_rows] == [tuple(int(v) for v in r) for r in d_rows]
