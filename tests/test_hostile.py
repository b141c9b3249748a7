"""Hostile data: odd text, huge bodies, nulls, changed types, custom field names no one
should use. The sync and the SQL models succeed and every value round-trips.
New top-level fields come from the emulator's `new_fields` switch (the API growing).

`make chaos` runs more examples (HYPOTHESIS_EXAMPLES).
"""

from __future__ import annotations

import os

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insightly.api.stamps import parse_utc
from insightly.models import build_models
from tests.conftest import Warehouse
from tests.helpers import column, custom_fields_of, nested_rows, rows_by_key

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "6"))
hostile_settings = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text as users type it, plus what nobody types on purpose: controls, emoji, RTL, combining.
odd_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
    max_size=60,
) | st.sampled_from(
    ["", " ", "💥🚀", "Ωmega ∑", "\u202eRTL", "e\u0301", "a\tb\nc\r", "'; drop table x; --"]
)
field_names = st.sampled_from(
    [
        'Quote "Me" Please__c',
        "Space Field__c",
        "dot.field__c",
        "Größe__c",
        "select",
        "order__c",
        "FIELD_VALUE",
        "  padded  ",
    ]
) | st.text(min_size=1, max_size=20).filter(lambda s: s.strip() == s and s)
custom_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | odd_text
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from insightly_emulator import Emulator, EmulatorConfig
    from tests.conftest import API_KEY

    emu = Emulator(EmulatorConfig(seed=3, profile="tiny", api_key=API_KEY, new_fields=True))
    emu.__enter__()
    wh = Warehouse(tmp_path_factory.mktemp("hostile"), emu.base_url)
    os.environ["DESTINATION__DUCKDB__CREDENTIALS"] = str(wh.path)
    os.environ["SOURCES__INSIGHTLY__RATE_PER_S"] = "500"
    wh.sync(entities=["contacts", "notes"])
    yield emu, wh
    emu.__exit__(None, None, None)
    os.environ.pop("DESTINATION__DUCKDB__CREDENTIALS", None)


@hostile_settings
@given(
    first=odd_text,
    last=st.none() | odd_text,
    fields=st.lists(st.tuples(field_names, custom_values), max_size=5, unique_by=lambda t: t[0]),
    tags=st.lists(odd_text, max_size=3),
)
def test_odd_contacts_round_trip(hostile, first, last, fields, tags):
    emu, wh = hostile
    record = emu.tenant.create(
        "Contacts",
        FIRST_NAME=first,
        LAST_NAME=last,
        CUSTOMFIELDS=[{"FIELD_NAME": n, "FIELD_VALUE": v, "CUSTOM_FIELD_ID": n} for n, v in fields],
        TAGS=[{"TAG_NAME": t} for t in tags],
    )
    wh.sync(entities=["contacts"])
    key = (record["CONTACT_ID"],)
    row = rows_by_key(wh, "contacts", ("CONTACT_ID",))[key]
    assert row[column("FIRST_NAME")] == first
    assert row[column("LAST_NAME")] == last
    stored = nested_rows(wh, "contacts", "CUSTOMFIELDS", ("CONTACT_ID",)).get(key, [])
    assert custom_fields_of(stored) == [(n, v) for n, v in fields]
    got_tags = [
        r["tag_name"] for r in nested_rows(wh, "contacts", "TAGS", ("CONTACT_ID",)).get(key, [])
    ]
    assert got_tags == tags
    with duckdb.connect(str(wh.path)) as con:
        report = build_models(con, "insightly", "duckdb")
        assert report.staging and not report.skipped.get("contacts")
    print(f"CHAOS|hostile contact|1|0|{1 + len(fields) + len(tags)}|0|0")


def test_huge_bodies_nulls_and_changed_types(hostile):
    emu, wh = hostile
    body = "<p>" + ("Lorem ipsum dolor sit amet, ✓ ünïcödé " * 28_000) + "</p>"  # ~1 MB
    assert len(body.encode()) > 1_000_000
    note = emu.tenant.create("Notes", BODY=body, TITLE=None)
    contact = emu.tenant.create(
        "Contacts",
        EMAIL_OPTED_OUT="maybe",  # a boolean field arriving as text
        OWNER_USER_ID="12",  # a number as a string
        SALUTATION=None,
    )
    wh.sync(entities=["contacts", "notes"])
    notes = rows_by_key(wh, "notes", ("NOTE_ID",))[(note["NOTE_ID"],)]
    assert notes["body"] == body and notes["title"] is None
    row = rows_by_key(wh, "contacts", ("CONTACT_ID",))[(contact["CONTACT_ID"],)]
    # a value that doesn't fit the column's type lands in a variant column, never lost
    # (never converted: "12" stays text next to the numbers; see docs/tables.md)
    assert row.get("email_opted_out__v_text") == "maybe"
    assert row.get("owner_user_id__v_text") == "12"
    with duckdb.connect(str(wh.path)) as con:
        build_models(con, "insightly", "duckdb")
        staged = con.execute(
            "select count(*) from insightly_stg.notes where note_id = ?", [note["NOTE_ID"]]
        ).fetchone()
    assert staged == (1,)


# A few names, so later examples reuse a column with another type (changed types).
new_field_names = st.sampled_from(
    ["FAVOURITE_COLOUR", "NEW FIELD", "SCORE.2026", "ÜBER_FELD", "SELECT", "LAST_SEEN_UTC"]
)
# "12" or "true" in a text field must stay text even where the column is a number or boolean.
new_field_values = custom_values | st.sampled_from(
    ["12", "-1", "true", "1e3", "2024-01-02 03:04:05"]
)


def stored_value(row: dict, name: str) -> list:
    """The non-null values of a field's column and its variant columns."""
    col = column(name)
    keys = [k for k in row if k == col or k.startswith(col + "__v_")]
    return [row[k] for k in keys if row[k] is not None]


def test_a_new_utc_field_first_seen_empty_becomes_a_timestamp(hostile):
    """A new `*_UTC` field whose first values are all null used to make a text column,
    which then kept every later stamp as text (found by make chaos's 150 examples)."""
    emu, wh = hostile
    empty = emu.tenant.create("Contacts", FIRST_NAME="empty stamp", FIRST_CALL_UTC=None)
    wh.sync(entities=["contacts"])
    stamped = emu.tenant.create(
        "Contacts", FIRST_NAME="stamp", FIRST_CALL_UTC="2024-01-02 03:04:05"
    )
    wh.sync(entities=["contacts"])
    rows = rows_by_key(wh, "contacts", ("CONTACT_ID",))
    assert stored_value(rows[(empty["CONTACT_ID"],)], "FIRST_CALL_UTC") == []
    assert stored_value(rows[(stamped["CONTACT_ID"],)], "FIRST_CALL_UTC") == [
        parse_utc("2024-01-02 03:04:05")
    ]


@hostile_settings
@given(fields=st.dictionaries(new_field_names, new_field_values, min_size=1, max_size=3))
def test_new_fields_and_changed_types_round_trip(hostile, fields):
    emu, wh = hostile
    record = emu.tenant.create("Contacts", FIRST_NAME="new fields", **fields)
    wh.sync(entities=["contacts"])
    row = rows_by_key(wh, "contacts", ("CONTACT_ID",))[(record["CONTACT_ID"],)]
    for name, value in fields.items():
        if name.endswith("_UTC"):  # Insightly's timestamp format becomes a timestamp
            value = parse_utc(value)
        assert stored_value(row, name) == ([] if value is None else [value]), name
    with duckdb.connect(str(wh.path)) as con:
        report = build_models(con, "insightly", "duckdb")
        assert not report.skipped.get("contacts")
    print(f"CHAOS|hostile new fields|1|0|{len(fields)}|0|0")
