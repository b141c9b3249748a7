"""The report's charts as Vega-Lite specs, built with Altair from the rows report_data.py
reads. Each chart gets its rows inline (no data files, no URLs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import altair as alt

from insightly.ops.report_data import FAILED, OUTCOMES, ReportData

WIDTH = 400
TASK_OWNERS = 15
RUN_STEP = 40  # pixels per run (or day) in the sync health charts
HEIGHT = 260
STATE_COLOURS = alt.Scale(domain=["WON", "LOST"], range=["#2e7d32", "#c62828"])
FAILED_COLOUR = "#c62828"
# a run's outcome (report_data.OUTCOMES): a failed run is red, and marked even at 0 rows
OUTCOME_COLOURS = alt.Scale(
    domain=[*OUTCOMES.values(), FAILED], range=["#2e7d32", "#f9a825", FAILED_COLOUR]
)
TASK_COLOURS = alt.Scale(domain=["open", "overdue"], range=["#1565c0", "#ef6c00"])


@dataclass
class Chart:
    """One chart on the page: where it goes, its title, its spec (None: no data)."""

    section: str  # "crm" or "health"
    key: str  # the element id
    title: str
    spec: dict[str, Any] | None
    empty: str  # what to do when there is no data


def _data(rows: list[dict]) -> alt.Data:
    return alt.Data(values=rows)


def pipeline_by_stage(rows: list[dict]) -> alt.Chart:
    """Open opportunities' value per stage, in stage order within each pipeline."""
    for row in rows:
        row["stage"] = f"{row['pipeline_name']} / {row['stage_order']}. {row['stage_name']}"
    return (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            y=alt.Y("stage:N", sort=None, title=None),
            x=alt.X("total_value:Q", title="open value"),
            color=alt.Color("pipeline_name:N", title="pipeline"),
            tooltip=["pipeline_name:N", "stage_name:N", "opportunities:Q", "total_value:Q"],
        )
    )


def won_lost_by_month(rows: list[dict]) -> alt.Chart:
    return (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(close_month):T", title="closed in"),
            y=alt.Y("opportunities:Q", title="opportunities"),
            color=alt.Color("opportunity_state:N", scale=STATE_COLOURS, title=None),
            tooltip=["yearmonth(close_month):T", "opportunity_state:N", "opportunities:Q"],
        )
    )


def lead_funnel(rows: list[dict]) -> alt.Chart:
    """Leads per status (most first), split by source; converted ones in the tooltip."""
    return (
        alt.Chart(_data(rows))
        .mark_bar()
        .encode(
            y=alt.Y("lead_status:N", sort="-x", title=None),
            x=alt.X("sum(leads):Q", title="leads"),
            color=alt.Color("lead_source:N", title="source"),
            tooltip=["lead_status:N", "lead_source:N", "leads:Q", "converted:Q"],
        )
    )


def tasks_by_owner(rows: list[dict]) -> alt.Chart:
    """The owners with the most open tasks (TASK_OWNERS of them): open and overdue bars."""
    open_tasks = {r["owner"]: r["tasks"] for r in rows if r["kind"] == "open"}
    shown = set(sorted(open_tasks, key=lambda o: (-open_tasks[o], o))[:TASK_OWNERS])
    return (
        alt.Chart(_data([r for r in rows if r["owner"] in shown]))
        .mark_bar()
        .encode(
            y=alt.Y("owner:N", sort="-x", title=None),
            yOffset=alt.YOffset("kind:N"),
            x=alt.X("tasks:Q", title="tasks"),
            color=alt.Color("kind:N", scale=TASK_COLOURS, title=None),
            tooltip=["owner:N", "kind:N", "tasks:Q"],
        )
        .properties(height=alt.Step(22))
    )


def _run_axis() -> alt.X:
    """One place per run, oldest first, labelled with its command and start time."""
    axis = alt.Axis(labelLimit=170)
    return alt.X("run:O", sort=None, title="run: command, started (UTC)", axis=axis)


def _per_run(rows: list[dict], field: str, title: str) -> alt.LayerChart:
    """A bar per run, coloured by its outcome; a failed run also gets its exit code above
    the bar, so a failure that loaded nothing (a bar of height 0) still shows."""
    y = alt.Y(f"{field}:Q", title=title)
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            x=_run_axis(),
            y=y,
            color=alt.Color("outcome:N", scale=OUTCOME_COLOURS, title="outcome"),
            tooltip=["started_at:N", "command:N", "exit_code:Q", "rows:Q", "requests:Q"],
        )
    )
    failures = (
        alt.Chart()
        .mark_text(
            angle=270,
            align="left",
            baseline="middle",
            dx=4,
            color=FAILED_COLOUR,
            fontWeight="bold",
            fontSize=11,
        )
        .encode(x=_run_axis(), y=y, text="failure:N", tooltip=["command:N", "exit_code:Q"])
        .transform_filter("datum.failure != null")
    )
    # a layer left with no rows makes Vega warn in the console (an infinite extent)
    layers = [bars, failures] if any(r["failure"] for r in rows) else [bars]
    return _runs_wide(alt.layer(*layers, data=_data(rows)))


def _runs_wide(chart: alt.Chart | alt.LayerChart) -> alt.Chart | alt.LayerChart:
    """A bar per run: as wide as the runs need (a single run is not one huge bar)."""
    runs = len(chart.data.values)
    return chart.properties(width=max(160, min(WIDTH, RUN_STEP * runs)))


def rows_per_run(rows: list[dict]) -> alt.LayerChart:
    return _per_run(rows, "rows", "rows loaded")


def requests_per_run(rows: list[dict]) -> alt.LayerChart:
    return _per_run(rows, "requests", "API requests")


def quota_by_day(rows: list[dict]) -> alt.Chart:
    return _runs_wide(
        alt.Chart(_data(rows))
        .mark_bar(color="#6a1b9a")
        .encode(
            x=alt.X("day:O", title="day (UTC)"),
            y=alt.Y("requests:Q", title="API requests"),
            tooltip=["day:N", "requests:Q", "quota_remaining:Q"],
        )
    )


def quota_left(rows: list[dict]) -> alt.Chart:
    known = [r for r in rows if r["quota_remaining"] is not None]
    return _runs_wide(
        alt.Chart(_data(known))
        .mark_line(point=True, color="#6a1b9a")
        .encode(
            x=_run_axis(),
            y=alt.Y("quota_remaining:Q", title="daily quota left", scale=alt.Scale(zero=False)),
            tooltip=["started_at:N", "quota_remaining:Q"],
        )
    )


def freshness(rows: list[dict]) -> alt.Chart:
    """Per table, on one time axis: the newest DATE_UPDATED_UTC loaded, and the last read
    of it that completed (hover for both)."""
    points = [
        {"table": r["table"], "what": label, "when": r[key][:19] + "Z"}
        for r in rows
        for key, label in FRESHNESS_POINTS
        if r[key]
    ]
    labels = [label for _, label in FRESHNESS_POINTS]
    return (
        alt.Chart(_data(points))
        .mark_point(filled=True, size=60)
        .encode(
            y=alt.Y("table:N", title=None),
            x=alt.X("when:T", title=None),
            color=alt.Color(
                "what:N",
                scale=alt.Scale(domain=labels, range=["#00838f", "#f9a825"]),
                legend=alt.Legend(title=None, orient="top"),
            ),
            tooltip=["table:N", "what:N", "when:T"],
        )
        .properties(height=alt.Step(13))
    )


FRESHNESS_POINTS = (
    ("newest_update", "newest DATE_UPDATED_UTC"),
    ("last_complete_read", "last complete read"),
)
MODELS = "no data: build the marts with `insightly models`"
RUNS = "no runs logged yet: run `insightly sync`"
Build = Callable[[list[dict]], alt.Chart | alt.LayerChart]
CHARTS: list[tuple[str, str, str, str, Build, str]] = [
    ("crm", "pipeline", "Open pipeline by stage", "pipeline_by_stage", pipeline_by_stage, MODELS),
    ("crm", "won-lost", "Won and lost by month", "won_lost_by_month", won_lost_by_month, MODELS),
    ("crm", "leads", "Lead funnel: leads by status and source", "lead_funnel", lead_funnel, MODELS),
    (
        "crm",
        "tasks",
        f"Open and overdue tasks: the {TASK_OWNERS} owners with most open",
        "tasks_by_owner",
        tasks_by_owner,
        MODELS,
    ),
    ("health", "rows", "Rows loaded per run", "runs", rows_per_run, RUNS),
    ("health", "requests", "API requests per run", "runs", requests_per_run, RUNS),
    ("health", "quota-day", "Daily quota use", "quota_by_day", quota_by_day, RUNS),
    ("health", "quota-left", "Daily quota left after each run", "runs", quota_left, RUNS),
    ("health", "freshness", "Freshness", "freshness", freshness, RUNS),
]


def build_charts(data: ReportData) -> list[Chart]:
    """Every chart's spec, or None where its rows are empty."""
    out = []
    for section, key, title, attribute, build, empty in CHARTS:
        chart = build([dict(r) for r in getattr(data, attribute)])
        has_rows = bool(chart.data.values)  # some charts take a subset (quota, freshness)
        sized = chart if chart.width is not alt.Undefined else chart.properties(width=WIDTH)
        if chart.height is alt.Undefined:
            sized = sized.properties(height=HEIGHT)
        spec = sized.to_dict() if has_rows else None
        out.append(Chart(section, key, title, spec, empty))
    return out
