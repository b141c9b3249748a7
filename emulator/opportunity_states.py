"""Opportunities that move over time: stage progressions, won/lost state changes, and the
`/Opportunities/{id}/StateHistory` rows that go with them (docs/api.md §8).

A generated opportunity's history is implied by its record: OPEN when it was created and,
unless still open, its generated state (with a reason of that state) at its generated
DATE_UPDATED_UTC. Every later state change, made by `progress`, `change_state` or the write
side (StateChange, and a PUT of OPPORTUNITY_STATE under its `put_state_history` switch),
appends a row to a log kept on the tenant, so the history served (by the write side's
StateHistory route) is always consistent with the records served. A plain `Tenant.update`
of OPPORTUNITY_STATE logs nothing: use `change_state`.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from .catalog import spec
from .gen_config import STATE_REASONS
from .generator import build
from .rand import fmt_day, fmt_ts, key

ENTITY = "Opportunities"
STATE = "OPPORTUNITY_STATE"
LOG = "opportunity-state-log"  # tenant memo: opportunity id -> [history rows added]
LOST_PERCENT = 20  # of progress steps on an open opportunity: lost instead of moved on
CLOSED = ("WON", "LOST", "ABANDONED")


def _log(tenant: Any) -> dict[int, list[dict[str, Any]]]:
    return tenant.memo(LOG, dict)


def _reason(tenant: Any, state: str, salt: int) -> tuple[int | None, str | None]:
    """A reason of `state` from OpportunityStateReasons, picked by `salt`."""
    choices = [i for i, (_, for_state) in enumerate(STATE_REASONS) if for_state == state]
    if not choices:
        return None, None
    i = choices[key(tenant.seed, "opp-reason", salt) % len(choices)]
    return tenant.id("OpportunityStateReasons", i), STATE_REASONS[i][0]


def _row(opportunity_id: int, when: int, state: str, reason: tuple) -> dict[str, Any]:
    return {
        "OPPORTUNITY_ID": opportunity_id,
        "DATE_CHANGED_UTC": fmt_ts(when),
        "FOR_OPPORTUNITY_STATE": state,
        "STATE_REASON_ID": reason[0],
        "STATE_REASON": reason[1],
    }


def state_history(tenant: Any, opportunity_id: int) -> list[dict[str, Any]] | None:
    """What StateHistory serves for the opportunity, oldest first; None once deleted.

    A generated opportunity opened when it was created and, unless still open, reached its
    generated state at its generated DATE_UPDATED_UTC; one created through the API or a test
    has no row until its state changes. Then come the changes logged since."""
    with tenant._lock:
        table = tenant.table(ENTITY)
        i = table.index_of(opportunity_id)
        if i is None:
            return None
        rows = []
        if i < table.n_base:
            initial = build(tenant, spec(ENTITY), i)[STATE]
            rows.append(_row(opportunity_id, table.created[i], "OPEN", (None, None)))
            if initial != "OPEN":
                when = tenant.base_updated(ENTITY, i)
                rows.append(_row(opportunity_id, when, initial, _reason(tenant, initial, i)))
        return rows + [dict(r) for r in _log(tenant).get(opportunity_id, [])]


def record_change(
    tenant: Any,
    opportunity_id: int,
    state: str,
    reason_id: int | None = None,
    reason: str | None = None,
    when: int | None = None,
) -> dict[str, Any]:
    """Log a state change (a StateHistory row); the write side's StateChange and PUT log
    theirs here too, so every path serves one history."""
    row = _row(opportunity_id, when if when is not None else int(time.time()), state,
               (reason_id, reason))  # fmt: skip
    _log(tenant).setdefault(opportunity_id, []).append(row)
    return dict(row)


def change_state(
    tenant: Any,
    opportunity_id: int,
    state: str,
    reason_id: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Set the opportunity's state, as `PUT /Opportunities/{id}/StateChange` would; a
    closing state gets a reason of that state unless `reason_id` names one."""
    with tenant._lock:
        if reason_id is None:
            reason = _reason(tenant, state, opportunity_id)
        else:
            names = {r["STATE_REASON_ID"]: r["STATE_REASON"] for r in tenant.records(
                "OpportunityStateReasons")}  # fmt: skip
            if reason_id not in names:
                raise ValueError(f"no OpportunityStateReason {reason_id}")
            reason = (reason_id, names[reason_id])
        changes: dict[str, Any] = {"OPPORTUNITY_STATE": state}
        if state == "OPEN":
            changes["ACTUAL_CLOSE_DATE"] = None
        elif state in CLOSED:
            when = int((at or datetime.now(timezone.utc)).timestamp())
            changes["PROBABILITY"] = 100 if state == "WON" else 0
            changes["ACTUAL_CLOSE_DATE"] = fmt_day(when)
        before = tenant.get(ENTITY, opportunity_id)
        record = tenant.update(ENTITY, opportunity_id, changes, at=at)
        if before is not None and before[STATE] != state:
            when = int(at.timestamp()) if at else None
            record_change(tenant, opportunity_id, state, reason[0], reason[1], when)
        return record


def progress(
    tenant: Any, opportunity_id: int, step: int = 0, at: datetime | None = None
) -> dict[str, Any]:
    """One realistic step of an open opportunity: on to the next stage of its pipeline,
    won from the last stage, or lost (LOST_PERCENT of steps). A closed one is unchanged.
    Returns {"id", "change": "stage" | "WON" | "LOST" | None, "record"}."""
    with tenant._lock:
        record = tenant.get(ENTITY, opportunity_id)
        if record is None:
            raise KeyError(f"{ENTITY} {opportunity_id} does not exist")
        if record["OPPORTUNITY_STATE"] != "OPEN":
            return {"id": opportunity_id, "change": None, "record": record}
        stages = _stages(tenant, record["PIPELINE_ID"])
        here = stages.index(record["STAGE_ID"]) if record["STAGE_ID"] in stages else 0
        roll = key(tenant.seed, "progress", opportunity_id, step) % 100
        if roll < LOST_PERCENT:
            change = "LOST"
        elif here + 1 >= len(stages):
            change = "WON"
        else:
            change = "stage"
        if change == "stage":
            probability = min(90, round(100 * (here + 2) / (len(stages) + 1) / 5) * 5)
            record = tenant.update(
                ENTITY,
                opportunity_id,
                {"STAGE_ID": stages[here + 1], "PROBABILITY": probability},
                at=at,
            )
        else:
            record = change_state(tenant, opportunity_id, change, at=at)
        return {"id": opportunity_id, "change": change, "record": record}


def progress_many(tenant: Any, count: int, step: int = 0, at: datetime | None = None) -> list:
    """`progress` `count` open opportunities, chosen from the seed and `step`."""
    with tenant._lock:
        open_ids = [
            r["OPPORTUNITY_ID"] for r in tenant.records(ENTITY) if r["OPPORTUNITY_STATE"] == "OPEN"
        ]
        open_ids.sort(key=lambda i: key(tenant.seed, "progress-pick", step, i))
        return [progress(tenant, i, step, at) for i in open_ids[:count]]


def _stages(tenant: Any, pipeline_id: int | None) -> list[int]:
    rows = [r for r in tenant.records("PipelineStages") if r["PIPELINE_ID"] == pipeline_id]
    return [r["STAGE_ID"] for r in sorted(rows, key=lambda r: r["STAGE_ORDER"])]


def opportunity_mutation(tenant: Any, op: str, body: dict[str, Any]) -> dict[str, Any]:
    """The admin mutate endpoint's `progress` and `state` ops on Opportunities:
    {"op": "progress", "entity": "Opportunities", "id": 1 | "count": 5, "step": 0}
    {"op": "state", "entity": "Opportunities", "id": 1, "state": "LOST", "reason_id": 9}"""
    if body.get("entity") != ENTITY:
        raise ValueError(f"{op} applies to {ENTITY} only")
    at = body.get("at")
    when = datetime.strptime(at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc) if at else None
    step = int(body.get("step", 0))
    if op == "progress" and "count" in body:
        moved = progress_many(tenant, int(body["count"]), step, when)
        return {"progressed": [{"id": m["id"], "change": m["change"]} for m in moved]}
    if op == "progress":
        moved = progress(tenant, int(body["id"]), step, when)
        return {"id": moved["id"], "change": moved["change"]}
    reason = body.get("reason_id")
    record = change_state(
        tenant, int(body["id"]), str(body["state"]), int(reason) if reason else None, when
    )
    return {"id": int(body["id"]), "state": record[STATE]}
