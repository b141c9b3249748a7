"""`insightly report [--out FILE]`: one HTML page with the CRM charts and the sync's health.

At the top, the four numbers a sales manager keeps an eye on, from the `sales_headlines`
mart; below, the charts. Runs that never started are a small table, off the run axis.

The page is one self-contained file: it opens from disk, with no server and no network.
Charts are Vega-Lite specs built with Altair (report_charts.py); the Vega, Vega-Lite and
vega-embed scripts are inlined from vl-convert-python's bundle, which ships them inside the
wheel, so writing the page downloads nothing either. The page's Content-Security-Policy
allows no fetch of any kind, so a chart that tried to load something would fail loudly
(the headless Chromium test reads the console) rather than quietly need a network.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from insightly.errors import QueryFailed
from insightly.ops.report_charts import Chart, build_charts
from insightly.ops.report_data import ReportData, read_report
from insightly.sync.pipeline import SyncOptions, make_pipeline
from insightly.sync.pipeline_args import missing_duckdb_file

DEFAULT_OUT = "insightly-report.html"
SECTIONS = {"crm": "CRM", "health": "Sync health"}
# Vega compiles its expressions with Function(): 'unsafe-eval'. Nothing else is allowed.
POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:"
)
STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { margin: 0 0 4px; } .meta { color: #666; margin-bottom: 16px; }
.grid { display: flex; flex-wrap: wrap; gap: 16px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 12px; }
.card h3 { margin: 0 0 8px; font-size: 15px; } .empty { color: #a00; width: 400px; }
.missing { color: #a00; }
.headlines { display: flex; flex-wrap: wrap; gap: 16px; margin-bottom: 8px; }
.headline { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 12px 16px;
  min-width: 200px; }
.headline .label { color: #555; font-size: 14px; }
.headline .value { font-size: 32px; font-weight: 600; margin: 4px 0; }
.headline .sub { color: #777; font-size: 13px; } .headline.alert .value { color: #c62828; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 3px 10px 3px 0; border-bottom: 1px solid #eee; }
"""


def main(pipeline: SyncOptions, out: str | Path = DEFAULT_OUT) -> int:
    """`insightly report`: write the page for the pipeline `pipeline` names."""
    written = write_report(make_pipeline(pipeline), Path(out))
    print(f"report written to {written} (open it in a browser; it needs no server or network)")
    return 0


def write_report(pipeline, out: Path) -> Path:
    """Read the warehouse, build the charts and write the page; returns its path."""
    missing = missing_duckdb_file(pipeline)
    if missing is not None:
        raise QueryFailed(missing)
    try:
        data = read_report(pipeline)
    except Exception as exc:  # unreachable, or held by a running sync (DuckDB)
        raise QueryFailed(f"the warehouse could not be read: {exc}") from None
    page = render_page(data, build_charts(data), vega_scripts())
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    temporary.write_text(page, encoding="utf-8")
    temporary.replace(out)  # a page is replaced whole, never left half-written
    return out


def vega_scripts() -> str:
    """vega, vega-lite and vega-embed as one script that sets window.vegaEmbed, in the
    Vega-Lite version Altair writes its specs for."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    return vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert())


def _json_in_script(value: object) -> str:
    """JSON safe inside a <script> element: `<\\/` is `/` in JSON, so no `</script>` or
    `<!--` in the data can end the element early."""
    return json.dumps(value).replace("</", "<\\/").replace("<!--", "<\\u0021--")


def _library_in_script(code: str) -> str:
    """The bundle as it is (rewriting `</` would break its regular expressions); it must
    not hold a `</script` (checked, so a future bundle that does fails loudly here)."""
    if "</script" in code.lower():
        raise RuntimeError("the vega bundle contains </script: it can't be inlined as is")
    return code


def render_page(data: ReportData, charts: list[Chart], scripts: str) -> str:
    specs = {c.key: c.spec for c in charts if c.spec is not None}
    extra = {"health": _not_started(data.not_started)}
    sections = "".join(
        _section(name, title, charts, extra.get(name, "")) for name, title in SECTIONS.items()
    )
    missing = "".join(f"<li>{html.escape(m)}</li>" for m in data.missing)
    when = data.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<title>Insightly report: {html.escape(data.dataset)}</title>
<style>{STYLE}</style>
<script>{_library_in_script(scripts)}</script>
</head>
<body>
<h1>Insightly report</h1>
<div class="meta">dataset {html.escape(data.dataset)}, written {when}</div>
{f'<ul class="missing">{missing}</ul>' if missing else ""}
{_headlines(data.headlines)}
{sections}
<script>
const specs = {_json_in_script(specs)};
window.insightlyCharts = {{}};
window.insightlyReady = Promise.all(Object.entries(specs).map(([key, spec]) =>
  vegaEmbed("#" + key, spec, {{actions: false, renderer: "svg"}})
    .then((result) => {{ window.insightlyCharts[key] = result.view; }})));
window.insightlyReady.catch((error) => console.error(error));
</script>
</body>
</html>
"""


def _headlines(row: dict | None) -> str:
    """The sales_headlines row as four numbers (nothing when the mart is missing: the list
    of what is missing says to build it)."""
    if row is None:
        return ""
    rate = row["win_rate_last_90_days"]
    won, lost = row["won_last_90_days"], row["lost_last_90_days"]
    overdue = row["overdue_tasks"]
    tiles = [
        ("open-pipeline", "Open pipeline value", f"{row['open_pipeline_value']:,.0f}",
         f"{row['open_opportunities']:,} open opportunities"),
        ("win-rate", "Win rate, last 90 days", "–" if rate is None else f"{rate * 100:.1f}%",
         f"{won:,} won, {lost:,} lost" if won + lost else "none closed in the last 90 days"),
        ("new-leads", "New leads this month", f"{row['new_leads_this_month']:,}",
         f"since {row['as_of_date'][:8]}01"),
        ("overdue-tasks", "Overdue tasks", f"{overdue:,}", f"of {row['open_tasks']:,} open"),
    ]  # fmt: skip
    cards = "".join(
        f'<div class="headline{" alert" if key == "overdue-tasks" and overdue else ""}" '
        f'id="headline-{key}"><div class="label">{html.escape(label)}</div>'
        f'<div class="value">{html.escape(value)}</div>'
        f'<div class="sub">{html.escape(sub)}</div></div>'
        for key, label, value, sub in tiles
    )
    as_of = html.escape(str(row["as_of_date"]))
    return f'<div class="meta">as of {as_of}</div>\n<div class="headlines">{cards}</div>\n'


def _not_started(rows: list[dict]) -> str:
    """Runs that stopped before doing anything, per command and exit code (a card only
    when there are some)."""
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("command", "exit", "why", "runs", "last (UTC)"))
    body = ""
    for r in rows:
        last = r["last_started_at"][:19].replace("T", " ")
        cells = (r["command"], r["exit_code"], r["why"], r["runs"], last)
        body += "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in cells) + "</tr>"
    return (
        '<div class="card" id="not-started"><h3>Runs that never started (not on the run axis)'
        f"</h3><table><tr>{head}</tr>{body}</table></div>"
    )


def _section(name: str, title: str, charts: list[Chart], extra: str = "") -> str:
    cards = []
    for chart in charts:
        if chart.section != name:
            continue
        body = (
            f'<div id="{chart.key}"></div>'
            if chart.spec is not None
            else f'<div class="empty">{html.escape(chart.empty)}</div>'
        )
        cards.append(f'<div class="card"><h3>{html.escape(chart.title)}</h3>{body}</div>')
    cards.append(extra)
    return f'<h2>{html.escape(title)}</h2>\n<div class="grid">{"".join(cards)}</div>\n'
