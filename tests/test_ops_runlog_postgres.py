"""The run log on a real PostgreSQL server: the same two tables, one transaction, appending
a kept run is idempotent by run id, and `insightly status` and the report read it back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dlt
import pytest

from insightly.ops.report_data import read_report
from insightly.ops.runlog import PendingRuns, record_run
from insightly.ops.status import status_text
from insightly.stats import RunStats

from .test_models_postgres import postgres_url  # noqa: F401  (the server fixture)

psycopg2 = pytest.importorskip("psycopg2")


def test_run_log_on_postgres(postgres_url, tmp_path):  # noqa: F811
    pipeline = dlt.pipeline(
        pipeline_name="insightly_pg_runlog",
        destination=dlt.destinations.postgres(credentials=postgres_url),
        dataset_name="runlog",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    started = datetime.now(timezone.utc) - timedelta(seconds=5)
    stats = RunStats()
    for _ in range(3):
        stats.count_request("contacts", 200, "1000", "900", "1200")
    stats.count_rows("contacts", 1000)
    stats.note_walk("contacts", 1000, 1200)
    stats.stop_for_quota("contacts", "daily quota")
    refused = RunStats()  # a run the lock refused: kept in the pipelines directory
    now = datetime.now(timezone.utc)
    assert record_run(pipeline, "sync", "brand_a", started, now, 7, refused) is False
    assert record_run(pipeline, "sync", "brand_a", started, now, 75, stats) is True
    assert PendingRuns(pipeline).records() == []  # the kept run went in with it

    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cur:
        cur.execute("select run_id, exit_code, requests from runlog._insightly_runs")
        assert sorted(cur.fetchall()) == sorted([(refused.sync, 7, 0), (stats.sync, 75, 3)])
        cur.execute(
            "select table_name, rows, backfill_pages_left, read_complete "
            "from runlog._insightly_run_tables"
        )
        assert cur.fetchall() == [("contacts", 1000, 1, False)]

    # the same run again (a crash after the commit, before the file was removed): no copy
    assert record_run(pipeline, "sync", "brand_a", started, now, 75, stats, locked=True)
    text = status_text(pipeline)
    assert text.count(" brand_a ") == 2
    assert "3 requests in 2 runs; 900 left after the newest run" in text

    data = read_report(pipeline)  # the report's reads, on a dataset without the marts
    assert [(r["run"].split()[0], r["outcome"]) for r in data.runs] == [("sync", "quota stop")]
    # the refused run is counted apart, off the run axis
    assert [(r["command"], r["exit_code"], r["runs"]) for r in data.not_started] == [("sync", 7, 1)]
    assert data.quota_by_day[0]["requests"] == 3
    assert any("opportunity_pipeline" in m for m in data.missing)
