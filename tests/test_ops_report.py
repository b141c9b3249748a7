"""`insightly report`: the page opens from disk in a real headless Chromium, renders with
nothing logged to the console and no request beyond the file itself, and every chart draws
marks for the emulator's demo tenant after two logged syncs."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from insightly.models import build_models
from insightly.ops.report import write_report
from insightly.ops.report_charts import CHARTS
from insightly.ops.runlog import record_run
from insightly.sync.pipeline import SyncOptions, make_pipeline
from tests.cdp import browser_path, open_page

# marks each chart drew: items of Vega's data marks, as rendered into the SVG
MARKS = """
window.insightlyReady.then(() => Object.fromEntries(
  Object.keys(window.insightlyCharts).map((key) => [
    key, document.querySelectorAll("#" + key + " svg g.role-mark > *").length])))
"""


# the tables the marts read (the models leave the others as empty views)
MART_TABLES = [
    "opportunities", "pipelines", "pipeline_stages", "opportunity_state_reasons", "users",
    "leads", "lead_sources", "lead_statuses", "tasks",
]  # fmt: skip


def _logged_sync(wh, options: SyncOptions, entities: list[str]) -> None:
    """A sync, logged as the CLI logs it (record_run is the run log's one-call API)."""
    started = datetime.now(timezone.utc)
    result = wh.sync(entities=entities)
    record_run(options, "sync", None, started, datetime.now(timezone.utc), 0, result.stats)


def test_report_page_renders_every_chart_offline(warehouse, emulator, tmp_path):
    assert browser_path(), "Debian's chromium is needed: apt-get install chromium"
    options = SyncOptions(pipelines_dir=warehouse.pipelines_dir)
    _logged_sync(warehouse, options, MART_TABLES)
    emulator.tenant.update("Tasks", emulator.tenant.records("Tasks")[0]["TASK_ID"])
    _logged_sync(warehouse, options, ["tasks"])  # an incremental one: a second run logged
    pipeline = make_pipeline(options)
    build_models(pipeline)

    page = write_report(pipeline, tmp_path / "report" / "insightly.html")
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing remote
    with open_page(page.as_uri()) as browser:
        marks = browser.evaluate(MARKS)
        console = browser.console()
        requests = browser.requests()
    assert console == []
    assert requests == [page.as_uri()]  # the file itself, nothing else
    assert set(marks) == {key for _, key, *_ in CHARTS}
    assert all(n > 0 for n in marks.values()), marks
    assert marks["rows"] == marks["requests"] == 2  # one bar per logged run


def test_status_and_report_before_any_sync_say_so_and_create_no_file(tmp_path, monkeypatch, capsys):
    """Before the first sync there is no DuckDB file: status and report say what to run,
    and neither leaves an empty warehouse file behind (it would read as 'no tables')."""
    from insightly.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DESTINATION__DUCKDB__CREDENTIALS", raising=False)
    pipelines = str(tmp_path / "pipelines")
    assert main(["status", "--pipelines-dir", pipelines]) == 2
    assert main(["report", "--pipelines-dir", pipelines, "--out", "r.html"]) == 2
    assert not (tmp_path / "insightly_crm.duckdb").exists()
    assert not (tmp_path / "r.html").exists()
    said = capsys.readouterr()
    assert (said.out + said.err).count("run `insightly sync` first") == 2
