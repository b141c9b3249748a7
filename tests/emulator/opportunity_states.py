"""Opportunities that move over time: stage progressions, won/lost state changes, and the
`/Opportunities/{id}/StateHistory` rows that go with them (insightly-write-api.md 9).

A generated opportunity's history is implied by its record: OPEN when it was created and,
unless still open, its current state (with a reason of that state) at its generated
DATE_UPDATED_UTC. Every later state change, made by `progress`, `change_state` or a plain
`Tenant.update` of OPPORTUNITY_STATE, appends a row to a log kept on the tenant, so the
history served is always consistent with the records served. The log is the emulator's
"mutation log" of state changes for tests that compare the warehouse with it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .gen_config import STATE_REASONS
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
    """What StateHistory serves for the opportunity, oldest first; None once deleted."""
    with tenant._lock:
        table = tenant.table(ENTITY)
        i = table.index_of(opportunity_id)
        if i is None:
            return None
        log = _log(tenant).get(opportunity_id, [])
        current = tenant.get(ENTITY, opportunity_id)["OPPORTUNITY_STATE"]
        initial = log[0]["_from"] if log else current  # as generated or created
        created = table.created[i]
        if i >= table.n_base or initial == "OPEN":  # created by a test, or never closed
            rows = [_row(opportunity_id, created, initial, _reason(tenant, initial, i))]
        else:  # generated: opened when created, closed at its generated update time
            rows = [_row(opportunity_id, created, "OPEN", (None, None))]
            when = tenant.base_updated(ENTITY, i)
            rows.append(_row(opportunity_id, when, initial, _reason(tenant, initial, i)))
        rows += [{k: v for k, v in r.items() if k != "_from"} for r in log]
        return rows


def note_update(tenant: Any, entity: str, opportunity_id: int, before: str | None, after: dict,
                when: int) -> None:  # fmt: skip
    """A Tenant.update changed OPPORTUNITY_STATE: log the change (no reason)."""
    state = after.get("OPPORTUNITY_STATE")
    if entity != ENTITY or state is None or state == before:
        return
    row = _row(opportunity_id, when, state, (None, None))
    row["_from"] = before
    _log(tenant).setdefault(opportunity_id, []).append(row)


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
        record = tenant.update(ENTITY, opportunity_id, changes, at=at)
        rows = _log(tenant).get(opportunity_id)
        if rows and rows[-1]["FOR_OPPORTUNITY_STATE"] == state:
            rows[-1]["STATE_REASON_ID"], rows[-1]["STATE_REASON"] = reason
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
