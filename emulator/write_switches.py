"""The write side's switches: one per open question of the write side (docs/api.md §10, §11)
that a write touches, so a client can be tested against every plausible answer instead of
one guess.

They live in one config field, ``writes`` (``configure(writes={"second_delete": "417"})``);
names left out keep their default, the first value listed.
"""

from __future__ import annotations

from typing import Any

WRITE_CHOICES: dict[str, tuple[str, ...]] = {
    # the JSON error body: {"Message"}, {"Name","Message"} or plain text
    "error_body": ("message", "name_message", "text"),
    # CUSTOMFIELDS in a PUT merge per FIELD_NAME or replace the whole list
    "put_custom_fields": ("merge", "replace"),
    # TAGS in a POST/PUT body replace the set, add to it, or are ignored
    "body_tags": ("replace", "append", "ignored"),
    # read-only and server-set fields sent anyway are ignored or refused (400)
    "read_only_fields": ("ignored", "refused"),
    # the required list (swagger minus the key and server-set fields) is
    # enforced on create, on create and update, or never
    "required_fields": ("create", "create_and_update", "off"),
    # DELETE .../Tags takes a JSON body, the v3.0 path form, or both
    "tag_delete": ("both", "body", "path"),
    # /Search field_value compared case-sensitively or not
    "search_case": ("sensitive", "insensitive"),
    # a DELETE of a record already gone answers 404 or 417
    "second_delete": ("404", "417"),
    # a DROPDOWN (or MULTISELECT) value outside the options: 400 or stored
    "dropdown_values": ("refused", "accepted"),
    # a date sent as yyyy-MM-dd (no time) is refused or taken as midnight
    "short_dates": ("refused", "accepted"),
    # OPPORTUNITY_STATE changed by a PUT adds a StateHistory row or not
    "put_state_history": ("recorded", "not_recorded"),
    # the undocumented PUT /{Entity}/{id} form works or answers 405
    "put_with_id": ("accepted", "refused"),
    # a successful PUT answers 201 (documented) or 200 (observed live)
    "put_status": ("201", "200"),
}
# Not a choice: live records (all CRM objects together) at which a create answers 402.
RECORD_LIMIT = "record_limit"


def write_switch(writes: dict[str, Any], name: str) -> Any:
    """The switch's value, its default when the test did not set it."""
    if name == RECORD_LIMIT:
        return writes.get(name)
    return writes.get(name, WRITE_CHOICES[name][0])


def validate_writes(writes: dict[str, Any]) -> None:
    """Refuse unknown names and values early, naming the switch."""
    for name, value in writes.items():
        if name == RECORD_LIMIT:
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError("writes['record_limit'] must be an int >= 0 or None")
            continue
        allowed = WRITE_CHOICES.get(name)
        if allowed is None:
            known = sorted([*WRITE_CHOICES, RECORD_LIMIT])
            raise ValueError(f"unknown write switch {name!r}; known: {known}")
        if value not in allowed:
            raise ValueError(f"writes[{name!r}] must be one of {allowed}, not {value!r}")
