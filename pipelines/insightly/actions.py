"""Single actions on Insightly from Python: get, search, create, update, delete, tags,
links, notes, pipeline and state changes, for notebooks and orchestration code.

    from insightly.actions import Actions
    act = Actions.connect()                       # the sync's dlt config and environment
    new = act.create("contacts", {"FIRST_NAME": "Ada", "EMAIL_ADDRESS": "ada@example.com"})
    act.add_tag("contacts", new["CONTACT_ID"], "vip")

Objects are named by their warehouse table ("contacts", "custom_fruit"); the catalogue
gives the API path. Every request goes through the sync's client: one pacer, the quota
reserve (QuotaReserveReached, exit 75), the run's request counters. Requests that are not
idempotent (create, add a link, add a note, add a tag: the API does not say a repeat is
harmless) are never sent twice once they may have reached the server: WriteOutcomeUnknown
says "look before you retry". PUT and DELETE use the transport's retries.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote

from insightly.api.client import InsightlyClient
from insightly.api.write_outcomes import WriteOutcomeUnknown, WriteRefused, send_write
from insightly.catalogue.entities import CUSTOM_OBJECTS, ENTITIES, Entity, custom_object_entities
from insightly.errors import ConfigurationError, EntityUnavailable

__all__ = ["Actions", "WriteOutcomeUnknown", "WriteRefused"]

SEARCH_TOP = 500  # the API's largest page (docs/api.md §4)
GONE = (404, 417)  # a DELETE of something already gone (docs/api.md §10)


class Actions:
    """One action per method over a shared InsightlyClient."""

    def __init__(self, client: InsightlyClient) -> None:
        self.client = client
        self._custom: dict[str, Entity] | None = None
        self._lock = threading.Lock()

    @classmethod
    def connect(
        cls,
        api_key: str | None = None,
        pod: str | None = None,
        base_url: str | None = None,
        **client_options: Any,
    ) -> Actions:
        """Actions on a new client, set up from dlt config and the environment exactly as
        the sync's (`[sources.insightly]` rate_per_s, max_in_flight, quota_reserve)."""
        from insightly.config import connect, load_settings

        return cls(connect(load_settings(), api_key, pod, base_url, **client_options))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Actions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ objects
    def entity(self, obj: str) -> Entity:
        """The catalogue entry of a warehouse table name (or an API path such as
        "Contacts" or "Fruit__c"); custom objects are looked up once per Actions."""
        wanted = obj.strip().lower()
        for e in ENTITIES:
            if wanted in (e.table, e.path.lower()):
                return e
        for table, e in self._custom_objects().items():
            if wanted in (table, e.path.lower()):
                return e
        raise ConfigurationError(
            f"unknown Insightly object {obj!r}: use a warehouse table name such as "
            "'contacts', 'organisations' or 'custom_fruit'"
        )

    def _custom_objects(self) -> dict[str, Entity]:
        with self._lock:
            if self._custom is None:
                found = self.client.get_list(CUSTOM_OBJECTS.path, table=CUSTOM_OBJECTS.table)
                self._custom = {e.table: e for e in custom_object_entities(found)}
            return self._custom

    def _path(self, obj: str, record_id: int | None = None, *sub: str) -> tuple[str, Entity]:
        e = self.entity(obj)
        parts = [e.path] + ([] if record_id is None else [str(int(record_id))]) + list(sub)
        return "/".join(parts), e

    # ------------------------------------------------------------------ reads
    def get(self, obj: str, record_id: int) -> dict | None:
        """The record as the API serves it, or None when it does not exist (404)."""
        path, e = self._path(obj, record_id)
        try:
            return self.client.get_json(path, table=e.table)
        except EntityUnavailable as exc:
            if exc.status == 404:
                return None
            raise

    def search(self, obj: str, field: str, value: Any) -> list[dict]:
        """Records whose `field` (standard, or custom by FIELD_NAME) equals `value`
        exactly, via /Search (docs/api.md §10); every page."""
        path, e = self._path(obj, None, "Search")
        text = _query_value(value)
        found: list[dict] = []
        while True:
            params = {"field_name": field, "field_value": text}
            params |= {"skip": str(len(found)), "top": str(SEARCH_TOP)}
            if e.brief_param:
                params["brief"] = "false"  # whole records, custom fields and tags included
            page = self.client.get_list(path, params, table=e.table)
            found.extend(page)
            if len(page) < SEARCH_TOP:
                return found

    def links(self, obj: str, record_id: int) -> list[dict]:
        path, e = self._path(obj, record_id, "Links")
        return self.client.get_list(path, table=e.table)

    def notes(self, obj: str, record_id: int) -> list[dict]:
        """The notes under a parent record (contacts, leads, opportunities, ...)."""
        path, e = self._path(obj, record_id, "Notes")
        return self.client.get_list(path, table=e.table)

    # ------------------------------------------------------------------ records
    def create(self, obj: str, body: dict) -> dict:
        """POST a new record; the answer holds its id. Never re-sent once it may have
        reached the server (WriteOutcomeUnknown): search by the match key first."""
        path, e = self._path(obj)
        return self._send("POST", path, e, body)

    def update(self, obj: str, record_id: int, body: dict) -> dict:
        """PUT only the fields in `body` (a partial update; None clears a field), the key
        in the body as documented (docs/api.md §10). Safe to retry."""
        path, e = self._path(obj)
        key = e.primary_key[0]
        return self._send("PUT", path, e, {**body, key: int(record_id)}, resend=True)

    def delete(self, obj: str, record_id: int) -> bool:
        """True when this call deleted the record, False when it was already gone."""
        path, e = self._path(obj, record_id)
        return self._delete(path, e)

    # ------------------------------------------------------------------ tags
    def add_tag(self, obj: str, record_id: int, tag: str) -> None:
        path, e = self._path(obj, record_id, "Tags")
        self._send("POST", path, e, {"TAG_NAME": tag})

    def remove_tag(self, obj: str, record_id: int, tag: str) -> None:
        """Remove one tag (a tag not on the record is no error). The documented form has
        the tag in a JSON body; a server refusing it gets the v3.0 path form (docs/api.md §10)."""
        path, e = self._path(obj, record_id, "Tags")
        try:
            self._delete(path, e, {"TAG_NAME": tag})
        except WriteRefused as exc:
            if exc.status not in (400, 405, 415):
                raise
            self._delete(f"{path}/{quote(tag, safe='')}", e)

    def set_tags(self, obj: str, record_id: int, tags: list[str]) -> list[dict]:
        """Make the record's tags exactly `tags` (PUT .../Tags with the whole list)."""
        path, e = self._path(obj, record_id, "Tags")
        return self._send("PUT", path, e, [{"TAG_NAME": t} for t in tags], resend=True)

    # ------------------------------------------------------------------ links, notes
    def add_link(self, obj: str, record_id: int, link: dict) -> dict:
        """Link two records: {"LINK_OBJECT_NAME": "Organisation" (singular),
        "LINK_OBJECT_ID": 123, optional "ROLE", "DETAILS"}. Answers the link, LINK_ID
        included. Not re-sent on an unknown outcome: list the links to resolve it."""
        path, e = self._path(obj, record_id, "Links")
        return self._send("POST", path, e, link)

    def remove_link(self, obj: str, record_id: int, link_id: int) -> None:
        path, e = self._path(obj, record_id, "Links", str(int(link_id)))
        self._delete(path, e)

    def create_note(self, obj: str, record_id: int, body: dict) -> dict:
        """A note under a parent record ({"TITLE": ..., "BODY": ...}); notes have no
        top-level POST (docs/api.md §10). Not re-sent: list the parent's notes first."""
        path, e = self._path(obj, record_id, "Notes")
        return self._send("POST", path, e, body)

    # ------------------------------------------------------------------ children
    # Milestones of a project, line items of an opportunity or quotation, price-book entries:
    # written only under their parent (docs/api.md §10), e.g.
    # create_child("projects", 12, "milestones", {"TITLE": "Go live"}).

    def children(self, obj: str, record_id: int, child: str) -> list[dict]:
        path, e = self._path(obj, record_id, self.entity(child).path)
        return self.client.get_list(path, table=e.table)

    def create_child(self, obj: str, record_id: int, child: str, body: dict) -> dict:
        """Not re-sent on an unknown outcome: list the parent's children to resolve it."""
        path, e = self._path(obj, record_id, self.entity(child).path)
        return self._send("POST", path, e, body)

    def update_child(self, obj: str, record_id: int, child: str, child_id: int, body: dict) -> dict:
        kid = self.entity(child)
        path, e = self._path(obj, record_id, kid.path)
        return self._send("PUT", path, e, {**body, kid.primary_key[0]: int(child_id)}, True)

    def delete_child(self, obj: str, record_id: int, child: str, child_id: int) -> bool:
        path, e = self._path(obj, record_id, self.entity(child).path, str(int(child_id)))
        return self._delete(path, e)

    # ------------------------------------------------------------------ pipelines, state
    def set_pipeline(self, obj: str, record_id: int, pipeline_id: int, stage_id: int) -> dict:
        """Put an opportunity or project into a pipeline at a stage (docs/api.md §10)."""
        path, e = self._path(obj, record_id, "Pipeline")
        body = {"PIPELINE_ID": pipeline_id, "PIPELINE_STAGE_CHANGE": {"STAGE_ID": stage_id}}
        return self._send("PUT", path, e, body, resend=True)

    def set_stage(self, obj: str, record_id: int, stage_id: int) -> dict:
        path, e = self._path(obj, record_id, "PipelineStage")
        return self._send("PUT", path, e, {"STAGE_ID": stage_id}, resend=True)

    def clear_pipeline(self, obj: str, record_id: int) -> bool:
        path, e = self._path(obj, record_id, "Pipeline")
        return self._delete(path, e)

    def change_state(
        self,
        record_id: int,
        state: str,
        reason_id: int | None = None,
        reason: str | None = None,
        obj: str = "opportunities",
    ) -> dict:
        """Set an opportunity's state (OPEN, WON, LOST, ABANDONED, SUSPENDED) with an
        optional reason from opportunity_state_reasons, through StateChange (docs/api.md §10)."""
        path, e = self._path(obj, record_id, "StateChange")
        body = {"FOR_OPPORTUNITY_STATE": state, "STATE_REASON_ID": reason_id}
        if reason is not None:
            body["STATE_REASON"] = reason
        return self._send("PUT", path, e, body, resend=True)

    # ------------------------------------------------------------------ transport
    def _send(self, method: str, path: str, e: Entity, body: Any, resend: bool = False) -> Any:
        return send_write(self.client, method, path, table=e.table, body=body, resend=resend)[1]

    def _delete(self, path: str, e: Entity, body: Any = None) -> bool:
        try:
            send_write(self.client, "DELETE", path, table=e.table, body=body, resend=True)
        except WriteRefused as exc:
            if exc.status in GONE:
                return False
            raise
        return True


def _query_value(value: Any) -> str:
    """A value as /Search takes it in the query string (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
