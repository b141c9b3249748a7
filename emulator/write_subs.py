"""Per-record sub-endpoints: Tags, Links, Notes under a parent, Pipeline, PipelineStage and
StateChange (docs/api.md §10).

Links are written to both ends (the other record shows the same LINK_ID with the ends
swapped and IS_FORWARD flipped, as generated links do). Tag, link and pipeline changes bump
the record's DATE_UPDATED_UTC, so an incremental read sees them (Insightly's behaviour here
is not documented; a copy that missed them would be worse).
"""

from __future__ import annotations

import itertools
from typing import Any

from .catalog import BY_NAME, spec
from .opportunity_states import state_history
from .params import ApiError
from .write_records import LINK_ENTITY, Invalid, RecordWrites, not_found
from .write_rules import LENGTHS, LINKABLE, NOTE_PARENTS, PIPELINED, TAGGABLE

NEW_LINK_IDS = 2_000_000_000  # above every generated LINK_ID
STATES = ("OPEN", "WON", "LOST", "ABANDONED", "SUSPENDED")


class SubWrites:
    """The sub-endpoints of one tenant's records."""

    def __init__(self, records: RecordWrites) -> None:
        self.records = records
        self.tenant = records.tenant
        self._link_ids = itertools.count(NEW_LINK_IDS)

    def _record(self, entity: str, record_id: int, allowed: frozenset[str]) -> dict:
        if entity not in allowed:
            raise ApiError(404, "No HTTP resource was found that matches the request URI.")
        record = self.tenant.get(entity, record_id)
        if record is None:
            raise not_found()
        return record

    # ------------------------------------------------------------------ tags
    def tags(self, entity: str, record_id: int) -> list[dict]:
        return self._record(entity, record_id, TAGGABLE).get("TAGS") or []

    def add_tag(self, entity: str, record_id: int, body: Any) -> dict:
        name = _tag_name(body)
        have = self.tags(entity, record_id)
        if name not in [t["TAG_NAME"] for t in have]:
            self.tenant.update(entity, record_id, {"TAGS": [*have, {"TAG_NAME": name}]})
        return {"TAG_NAME": name}

    def remove_tag(self, entity: str, record_id: int, name: str) -> None:
        have = self.tags(entity, record_id)
        kept = [t for t in have if t["TAG_NAME"] != name]
        if len(kept) == len(have):
            raise ApiError(417, "Delete failed")
        self.tenant.update(entity, record_id, {"TAGS": kept})

    def set_tags(self, entity: str, record_id: int, body: Any) -> list[dict]:
        self.tags(entity, record_id)
        items = body if isinstance(body, list) else [body]
        names = [_tag_name(item) for item in items]
        tags = [{"TAG_NAME": n} for n in dict.fromkeys(names)]
        return self.tenant.update(entity, record_id, {"TAGS": tags}).get("TAGS") or []

    # ------------------------------------------------------------------ links
    def links(self, entity: str, record_id: int) -> list[dict]:
        return self._record(entity, record_id, LINKABLE).get("LINKS") or []

    def add_link(self, entity: str, record_id: int, body: Any) -> dict:
        self.links(entity, record_id)
        if not isinstance(body, dict):
            raise Invalid(["The body must be a JSON object."])
        name, other_id = body.get("LINK_OBJECT_NAME"), body.get("LINK_OBJECT_ID")
        other = LINK_ENTITY.get(str(name))
        problems = [] if other else [f"LINK_OBJECT_NAME '{name}' is not valid (singular)."]
        if isinstance(other_id, bool) or not isinstance(other_id, int):
            problems.append("LINK_OBJECT_ID must be a record id.")
        for key in ("ROLE", "DETAILS"):
            text = body.get(key)
            if text is not None and (not isinstance(text, str) or len(text) > LENGTHS[key]):
                problems.append(f"{key} must be text of at most {LENGTHS[key]} characters.")
        if problems:
            raise Invalid(problems)
        assert other is not None and isinstance(other_id, int)
        if self.tenant.get(other, other_id) is None:
            raise not_found("Record or Link")
        link = {
            "LINK_ID": next(self._link_ids),
            "OBJECT_NAME": BY_NAME[entity].link_name,
            "OBJECT_ID": record_id,
            "LINK_OBJECT_NAME": name,
            "LINK_OBJECT_ID": other_id,
            "ROLE": body.get("ROLE"),
            "DETAILS": body.get("DETAILS"),
            "RELATIONSHIP_ID": body.get("RELATIONSHIP_ID"),
            "IS_FORWARD": True,
        }
        self._put_link(entity, record_id, link)
        self._put_link(other, other_id, _mirror(link))
        return link

    def _put_link(self, entity: str, record_id: int, link: dict) -> None:
        have = (self.tenant.get(entity, record_id) or {}).get("LINKS") or []
        self.tenant.update(entity, record_id, {"LINKS": [*have, link]})

    def remove_link(self, entity: str, record_id: int, link_id: int) -> None:
        have = self.links(entity, record_id)
        link = next((x for x in have if x["LINK_ID"] == link_id), None)
        if link is None:
            raise not_found("Record or Link")
        for end, end_id in ((entity, record_id), self._other_end(link)):
            if end is None:
                continue
            links = (self.tenant.get(end, end_id) or {}).get("LINKS")
            if links is not None:
                kept = [x for x in links if x["LINK_ID"] != link_id]
                self.tenant.update(end, end_id, {"LINKS": kept})

    @staticmethod
    def _other_end(link: dict) -> tuple[str | None, int]:
        return LINK_ENTITY.get(link["LINK_OBJECT_NAME"]), link["LINK_OBJECT_ID"]

    # ------------------------------------------------------------------ notes
    def notes(self, entity: str, record_id: int) -> list[dict]:
        parent = self._record(entity, record_id, NOTE_PARENTS)
        links = parent.get("LINKS") or []
        ids = [x["LINK_OBJECT_ID"] for x in links if x["LINK_OBJECT_NAME"] == "Note"]
        found = (self.tenant.get("Notes", i) for i in sorted(set(ids)))
        return [n for n in found if n is not None]

    def add_note(self, entity: str, record_id: int, body: Any) -> dict:
        self._record(entity, record_id, NOTE_PARENTS)
        note = self.records.create("Notes", body, extra={})
        link = {
            "LINK_ID": next(self._link_ids),
            "OBJECT_NAME": "Note",
            "OBJECT_ID": note["NOTE_ID"],
            "LINK_OBJECT_NAME": BY_NAME[entity].link_name,
            "LINK_OBJECT_ID": record_id,
            "ROLE": None,
            "DETAILS": None,
            "RELATIONSHIP_ID": None,
            "IS_FORWARD": True,
        }
        self._put_link(entity, record_id, _mirror(link))
        return self.tenant.update("Notes", note["NOTE_ID"], {"LINKS": [link]})

    # ------------------------------------------------------------------ pipelines
    def set_pipeline(self, entity: str, record_id: int, body: Any) -> dict:
        self._record(entity, record_id, PIPELINED)
        if not isinstance(body, dict):
            raise Invalid(["The body must be a JSON object."])
        pipeline = self._pipeline(entity, body.get("PIPELINE_ID"))
        change = body.get("PIPELINE_STAGE_CHANGE") or {}
        stage = self._stage(pipeline, change.get("STAGE_ID") if isinstance(change, dict) else None)
        return self.tenant.update(entity, record_id, {"PIPELINE_ID": pipeline, "STAGE_ID": stage})

    def set_stage(self, entity: str, record_id: int, body: Any) -> dict:
        record = self._record(entity, record_id, PIPELINED)
        if record.get("PIPELINE_ID") is None:
            raise Invalid(["The record has no pipeline."])
        stage_id = body.get("STAGE_ID") if isinstance(body, dict) else None
        stage = self._stage(record["PIPELINE_ID"], stage_id)
        return self.tenant.update(entity, record_id, {"STAGE_ID": stage})

    def clear_pipeline(self, entity: str, record_id: int) -> None:
        self._record(entity, record_id, PIPELINED)
        self.tenant.update(entity, record_id, {"PIPELINE_ID": None, "STAGE_ID": None})

    def _pipeline(self, entity: str, pipeline_id: Any) -> int:
        wanted = "FOR_OPPORTUNITIES" if entity == "Opportunities" else "FOR_PROJECTS"
        for p in self.tenant.records("Pipelines"):
            if p["PIPELINE_ID"] == pipeline_id:
                if not p.get(wanted):
                    raise Invalid([f"Pipeline {pipeline_id} is not for {entity}."])
                return pipeline_id
        raise not_found("Record, Pipeline or Pipeline Stage")

    def _stage(self, pipeline_id: int, stage_id: Any) -> int:
        for s in self.tenant.records("PipelineStages"):
            if s["STAGE_ID"] == stage_id and s["PIPELINE_ID"] == pipeline_id:
                return stage_id
        raise not_found("Record, Pipeline or Pipeline Stage")

    # ------------------------------------------------------------------ state
    def history(self, record_id: int) -> list[dict[str, Any]]:
        """GET /Opportunities/{id}/StateHistory: one history for every path that changes a
        state (opportunity_states.py: generated, mutations, StateChange, PUT)."""
        self._record("Opportunities", record_id, frozenset({"Opportunities"}))
        return state_history(self.tenant, record_id) or []

    def change_state(self, record_id: int, body: Any) -> dict:
        self._record("Opportunities", record_id, frozenset({"Opportunities"}))
        if not isinstance(body, dict) or str(body.get("FOR_OPPORTUNITY_STATE")) not in STATES:
            raise Invalid([f"FOR_OPPORTUNITY_STATE must be one of {', '.join(STATES)}."])
        state, reason_id = body["FOR_OPPORTUNITY_STATE"], body.get("STATE_REASON_ID")
        reason = body.get("STATE_REASON")
        if reason_id is not None:
            match = [r for r in self.tenant.records("OpportunityStateReasons")
                     if r["STATE_REASON_ID"] == reason_id]  # fmt: skip
            if not match or match[0]["FOR_OPPORTUNITY_STATE"] != state:
                raise Invalid([f"STATE_REASON_ID {reason_id} is not a reason for {state}."])
            reason = match[0]["STATE_REASON"]
        self.tenant.update("Opportunities", record_id, {"OPPORTUNITY_STATE": state})
        return self.records.record_state(record_id, state, reason_id, reason)


def _tag_name(body: Any) -> str:
    name = body.get("TAG_NAME") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise Invalid(["TAG_NAME is required."])
    if len(name) > LENGTHS["TAG_NAME"]:
        raise Invalid([f"TAG_NAME must be at most {LENGTHS['TAG_NAME']} characters."])
    return name


def _mirror(link: dict) -> dict:
    return {
        **link,
        "OBJECT_NAME": link["LINK_OBJECT_NAME"],
        "OBJECT_ID": link["LINK_OBJECT_ID"],
        "LINK_OBJECT_NAME": link["OBJECT_NAME"],
        "LINK_OBJECT_ID": link["OBJECT_ID"],
        "IS_FORWARD": not link["IS_FORWARD"],
    }


def entity_of(name: str) -> str:
    """Canonical entity name; KeyError when unknown."""
    return spec(name).name
