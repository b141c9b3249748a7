"""`insightly report`: the page opens from disk in a real headless Chromium, renders with
nothing logged to the console and no request beyond the file itself, and every chart draws
marks for the emulator's demo tenant after two logged syncs; its headline numbers are the
sales_headlines mart's, a failed run is marked as failed with its command, and a run that
never started is counted apart, off the run axis."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from insightly.models import build_models
from insightly.ops.report import write_report
from insightly.ops.report_charts import CHARTS
from insightly.ops.runlog import record_run
from insightly.stats import RunStats
from insightly.sync.pipeline import SyncOptions, make_pipeline
from insightly_emulator.opportunity_states import change_state
from tests.cdp import browser_path, open_page

# What the page shows once every chart is drawn: the marks each chart drew (items of Vega's
# data marks, as rendered into the SVG); the bars, the failure labels and the x axis labels
# of the rows-per-run chart; the headline numbers; the table of runs that never started.
PAGE = """
window.insightlyReady.then(() => {
  const all = (selector) => [...document.querySelectorAll(selector)];
  const texts = (selector) => all(selector).map((e) => e.textContent);
  const xAxis = all("#rows g.role-axis").find((g) =>
    (g.getAttribute("aria-label") || "").startsWith("X-axis"));
  return {
    marks: Object.fromEntries(Object.keys(window.insightlyCharts).map((key) =>
      [key, all("#" + key + " svg g.role-mark > *").length])),
    bars: all("#rows g.mark-rect.role-mark > path").length,
    failures: texts("#rows g.mark-text.role-mark > text"),
    runAxis: [...xAxis.querySelectorAll("g.role-axis-label text")].map((e) => e.textContent),
    headlines: Object.fromEntries(all(".headline").map((e) =>
      [e.id, e.querySelector(".value").textContent])),
    notStarted: all("#not-started tr").slice(1).map((row) =>
      [...row.children].map((cell) => cell.textContent)),
  };
})
"""
HEADLINES = (
    "select open_pipeline_value, win_rate_last_90_days, new_leads_this_month, overdue_tasks, "
    "won_last_90_days, lost_last_90_days from insightly_reporting.sales_headlines"
)


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


def _logged_failure(options: SyncOptions, command: str, exit_code: int) -> None:
    """A run that failed at once, logged as the CLI logs it."""
    now = datetime.now(timezone.utc)
    record_run(options, command, None, now, now, exit_code, RunStats())


def _number(text: str) -> float:
    return float(text.replace(",", "").removesuffix("%"))


def test_report_page_renders_every_chart_offline(warehouse, emulator, tmp_path):
    assert browser_path(), "Debian's chromium is needed: apt-get install chromium"
    options = SyncOptions(pipelines_dir=warehouse.pipelines_dir)
    _logged_sync(warehouse, options, MART_TABLES)
    _logged_failure(options, "sync", 2)  # a configuration error: kept, logged by the next run
    tenant = emulator.tenant
    tenant.update("Tasks", tenant.records("Tasks")[0]["TASK_ID"])
    tenant.create("Leads")  # a lead this month; a deal won and one lost today
    deals = [r["OPPORTUNITY_ID"] for r in tenant.records("Opportunities")[:40]
             if r["OPPORTUNITY_STATE"] == "OPEN"]  # fmt: skip
    change_state(tenant, deals[0], "WON")
    change_state(tenant, deals[1], "LOST")
    _logged_sync(warehouse, options, ["tasks", "leads", "opportunities"])  # incremental
    pipeline = make_pipeline(options)
    build_models(pipeline)
    quiet = write_report(pipeline, tmp_path / "no-failure.html")  # before the failed push
    _logged_failure(options, "push", 4)

    page = write_report(pipeline, tmp_path / "report" / "insightly.html")
    text = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)  # nothing remote
    with open_page(quiet.as_uri()) as browser:
        assert browser.evaluate(PAGE)["failures"] == []  # no failure to mark
        assert browser.console() == []
        browser.navigate(page.as_uri())
        shown = browser.evaluate(PAGE)
        console = browser.console()
        requests = browser.requests()
    assert console == []
    assert requests == [page.as_uri()]  # the file itself, nothing else
    marks = shown["marks"]
    assert set(marks) == {key for _, key, *_ in CHARTS}
    assert all(n > 0 for n in marks.values()), marks
    assert shown["bars"] == 3  # a bar per run: two syncs and the failed push, no exit 2
    assert shown["failures"] == ["✕ exit 4"]  # the push loaded nothing: marked, not 0 high
    assert [label.split()[0] for label in shown["runAxis"]] == ["sync", "sync", "push"]
    assert [row[:4] for row in shown["notStarted"]] == [["sync", "2", "configuration error", "1"]]
    (value, rate, leads, overdue, won, lost) = warehouse.query(HEADLINES)[0]
    assert won >= 1 and lost >= 1 and leads >= 1 and overdue > 0  # the changes above
    headlines = {key: _number(text) for key, text in shown["headlines"].items()}
    assert headlines == {
        "headline-open-pipeline": round(float(value)),
        "headline-win-rate": round(float(rate) * 100, 1),
        "headline-new-leads": leads,
        "headline-overdue-tasks": overdue,
    }


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
