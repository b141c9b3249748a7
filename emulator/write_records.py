"""Creates, updates and deletes of whole records, as v3.1 applies them (docs/api.md §10).

A POST builds the record from the body alone: every field the body leaves out is null (or
[]), custom fields unset, owner and creator the API user; the server sets the id and both
timestamps. A PUT changes only what its body names. Bodies are checked by
``write_rules``; the open questions follow the ``writes`` switches. Each method returns
(status, payload) or raises ``ApiError``; the caller holds the write lock.
"""

from __future__ import annotations

from typing import Any

from .catalog import SPECS, EntitySpec, spec
from .customfields import field_defs
from .opportunity_states import record_change
from .params import ApiError
from .store import ARRAY_KEYS, Tenant, merge_custom_fields, to_epoch
from .write_rules import (
    BOOLEAN_FIELDS,
    CREATABLE,
    DELETABLE,
    IGNORED_ARRAYS,
    UPDATABLE,
    canonical_custom_name,
    field_problems,
    kind_of,
    missing_required,
    server_set,
    split_locked,
    widen_dates,
)
from .write_switches import RECORD_LIMIT, write_switch

COUNTED = tuple(s.name for s in SPECS if s.kind == "record" and s.scales)


class Invalid(ApiError):
    """400 "Data validation error" with the reasons."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(400, "Data validation error: " + " ".join(problems))
        self.problems = problems


def not_found(what: str = "Record") -> ApiError:
    return ApiError(404, f"{what} not found")


class RecordWrites:
    """Create, update and delete over one tenant, with the config's write switches."""

    def __init__(self, tenant: Tenant, config: Any) -> None:
        self.tenant = tenant
        self.config = config

    def record_state(self, record_id: int, state: str, reason_id: Any, reason: Any) -> dict:
        """A StateHistory row (GET /Opportunities/{id}/StateHistory) for a state change."""
        return record_change(self.tenant, record_id, state, reason_id, reason, to_epoch(None))

    def switch(self, name: str) -> Any:
        return write_switch(self.config.writes, name)

    # ------------------------------------------------------------------ create
    def create(self, entity: str, body: Any, extra: dict[str, Any] | None = None) -> dict:
        """A new record; `extra` (its parent's key) marks one created under a parent, the
        only way for notes, milestones and line items (docs/api.md §10)."""
        s = spec(entity)
        if kind_of(s) not in CREATABLE and extra is None:
            raise ApiError(405, "The requested resource does not support http method 'POST'.")
        self._check_limit()
        changes = self.prepare(s, body, None)
        record = self.blank(s)
        record.update({k: v for k, v in changes.items() if k != "CUSTOMFIELDS"})
        if "CUSTOMFIELDS" in changes:
            record["CUSTOMFIELDS"] = merge_custom_fields(
                record["CUSTOMFIELDS"], changes["CUSTOMFIELDS"]
            )
        record.update(extra or {})
        return self.tenant.create(s.name, **record)

    def blank(self, s: EntitySpec) -> dict[str, Any]:
        """Every writable key of a new record: null, [] for arrays, owner the API user."""
        me = self.tenant.records("Users")[0]["USER_ID"]
        out: dict[str, Any] = {}
        for name in s.fields:
            if name in (s.pk, "DATE_CREATED_UTC", "DATE_UPDATED_UTC"):
                continue
            out[name] = [] if name in ARRAY_KEYS else None
            if name in BOOLEAN_FIELDS or name == "CONVERTED":
                out[name] = False
            if name in ("OWNER_USER_ID", "CREATED_USER_ID"):
                out[name] = me
        if s.custom_for:
            number = self.tenant.count(s.name) + 1
            out["CUSTOMFIELDS"] = [
                {
                    "FIELD_NAME": f.name,
                    "FIELD_VALUE": f"{f.prefix}{number:05d}" if f.type == "AUTONUMBER" else None,
                    "CUSTOM_FIELD_ID": f.name,
                }
                for f in field_defs(s, self.tenant.shape.fields)
            ]
        return out

    def _check_limit(self) -> None:
        limit = self.switch(RECORD_LIMIT)
        if limit is not None and sum(self.tenant.count(n) for n in COUNTED) >= limit:
            raise ApiError(402, "Record limit reached")

    # ------------------------------------------------------------------ update
    def update(
        self, entity: str, body: Any, path_id: int | None, parent: tuple[str, int] | None = None
    ) -> dict:
        """A partial update; `parent` (key, id) for one addressed under its parent."""
        s = spec(entity)
        if kind_of(s) not in UPDATABLE and parent is None:
            raise ApiError(405, "The requested resource does not support http method 'PUT'.")
        if not isinstance(body, dict):
            raise Invalid(["The body must be a JSON object."])
        record_id = _body_id(s, body, path_id)
        current = self.tenant.get(s.name, record_id)
        if current is None or (parent is not None and current.get(parent[0]) != parent[1]):
            raise not_found()
        changes = self.prepare(s, body, current)
        if "CUSTOMFIELDS" in changes:
            given = changes["CUSTOMFIELDS"]
            if self.switch("put_custom_fields") == "replace":
                blank = [{**c, "FIELD_VALUE": None} for c in current.get("CUSTOMFIELDS") or []]
                changes["CUSTOMFIELDS"] = merge_custom_fields(blank, given)
            else:
                have = current.get("CUSTOMFIELDS") or []  # absent on a bare tenant's records
                changes["CUSTOMFIELDS"] = merge_custom_fields(have, given)
        state = changes.get("OPPORTUNITY_STATE")
        moved = s.name == "Opportunities" and state not in (None, current["OPPORTUNITY_STATE"])
        if moved and self.switch("put_state_history") == "recorded":
            self.record_state(record_id, state, None, None)
        return self.tenant.update(s.name, record_id, changes)

    # ------------------------------------------------------------------ delete
    def delete(self, entity: str, record_id: int) -> None:
        s = spec(entity)
        if kind_of(s) not in DELETABLE:
            raise ApiError(405, "The requested resource does not support http method 'DELETE'.")
        if self.tenant.get(s.name, record_id) is None:
            if self.switch("second_delete") == "417" and self.was_deleted(s.name, record_id):
                raise ApiError(417, "Delete failed")
            raise not_found()
        self.unlink_all(s.name, record_id)
        self.tenant.delete(s.name, record_id)

    def was_deleted(self, entity: str, record_id: int) -> bool:
        t = self.tenant.table(entity)
        ids = t.ids
        return any(ids[i] == record_id for i in t.deleted)

    def unlink_all(self, entity: str, record_id: int) -> None:
        """Links the record had, taken off the other ends whose LINKS were written (the
        generated ones drop links to deleted records by themselves)."""
        record = self.tenant.get(entity, record_id) or {}
        for link in record.get("LINKS") or []:
            other = LINK_ENTITY.get(link["LINK_OBJECT_NAME"])
            if other is None:
                continue
            t = self.tenant.table(other)
            i = t.index_of(link["LINK_OBJECT_ID"])
            if i is not None and "LINKS" in t.changes.get(i, {}):
                kept = [x for x in t.changes[i]["LINKS"] if x["LINK_ID"] != link["LINK_ID"]]
                self.tenant.update(other, link["LINK_OBJECT_ID"], {"LINKS": kept})

    # ------------------------------------------------------------------ bodies
    def prepare(self, s: EntitySpec, body: Any, current: dict | None) -> dict[str, Any]:
        """The changes a body asks for, checked; Invalid lists every problem at once."""
        if not isinstance(body, dict):
            raise Invalid(["The body must be a JSON object."])
        by_lower = {f.lower(): f for f in s.fields}
        table = self.tenant.shape.fields  # the tenant's custom field definitions
        refuse = self.switch("read_only_fields") == "refused"
        readonly = server_set(s)
        problems: list[str] = []
        changes: dict[str, Any] = {}
        for key, value in body.items():
            name = by_lower.get(str(key).lower())
            if name is None or name in IGNORED_ARRAYS:
                continue  # unknown properties are ignored, as ASP.NET model binding does
            if name == s.pk and current is not None:
                continue  # the key identifies the record
            if name == s.pk or name in readonly:
                if refuse:
                    problems.append(f"{name} is read-only.")
                continue
            changes[name] = value
        if isinstance(changes.get("CUSTOMFIELDS"), list):
            changes["CUSTOMFIELDS"], locked = split_locked(s, changes["CUSTOMFIELDS"], table)
            problems += [f"CUSTOMFIELDS {n} is read-only." for n in locked if refuse]
        if self.switch("short_dates") == "accepted":
            widen_dates(s, changes, table)
        problems += field_problems(s, changes, self.switch("dropdown_values"), table)
        required = self.switch("required_fields")
        if required == "create_and_update" or (required == "create" and current is None):
            problems += missing_required(s, changes, current)
        if problems:
            raise Invalid(problems)
        if "TAGS" in changes:
            self._body_tags(changes, current)
        if "CUSTOMFIELDS" in changes:
            changes["CUSTOMFIELDS"] = {
                canonical_custom_name(s, item["FIELD_NAME"], table): stored(item.get("FIELD_VALUE"))
                for item in changes["CUSTOMFIELDS"]
            }
        return changes

    def _body_tags(self, changes: dict[str, Any], current: dict | None) -> None:
        mode = self.switch("body_tags")
        given = changes.pop("TAGS")
        if mode == "ignored" or not isinstance(given, list):
            return
        names = [t["TAG_NAME"] for t in given if isinstance(t, dict) and t.get("TAG_NAME")]
        if mode == "append" and current is not None:
            have = [t["TAG_NAME"] for t in current.get("TAGS") or []]
            names = have + [n for n in names if n not in have]
        changes["TAGS"] = [{"TAG_NAME": n} for n in dict.fromkeys(names)]


LINK_ENTITY = {s.link_name: s.name for s in SPECS if s.link_name}


def _body_id(s: EntitySpec, body: dict[str, Any], path_id: int | None) -> int:
    by_lower = {str(k).lower(): v for k, v in body.items()}
    value = by_lower.get(s.pk.lower(), path_id)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid([f"{s.pk} is required to identify the record."])
    if path_id is not None and value != path_id:
        raise Invalid([f"{s.pk} in the body does not match the URL."])
    return value


def stored(value: Any) -> Any:
    """A value as the API serves it back: an integral number as an int (87.0 -> 87), like
    every generated NUMERIC and PERCENT value."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
