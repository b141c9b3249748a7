"""Record shaping: timestamps typed, custom field values stored losslessly."""

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from insightly.records import decode_value, encode_value, json_type, parse_utc, shape

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@given(json_values)
def test_custom_field_value_round_trips(value):
    text, kind = encode_value(value), json_type(value)
    assert text is None or isinstance(text, str)
    assert decode_value(text, kind) == value
    assert type(decode_value(text, kind)) is type(value)


def test_types_are_distinguished():
    assert [json_type(v) for v in ("1", 1, 1.5, True, None, [1], {"a": 1})] == [
        "string",
        "number",
        "number",
        "boolean",
        "null",
        "array",
        "object",
    ]
    assert encode_value(True) == "true" and encode_value("true") == "true"
    assert json_type(True) != json_type("true")


def test_utc_strings_become_aware_datetimes_and_others_are_kept():
    assert parse_utc("2024-03-12 21:00:05") == datetime(2024, 3, 12, 21, 0, 5, tzinfo=timezone.utc)
    for odd in ("0000-00-00 00:00:00", "", "yesterday", "2024-03-12T21:00:05Z", 5, None):
        assert parse_utc(odd) == odd


def test_shape_record():
    record = {
        "CONTACT_ID": 1,
        "DATE_UPDATED_UTC": "2024-01-02 03:04:05",
        "DATE_OF_BIRTH": "1990-01-01 00:00:00",
        "CUSTOMFIELDS": [
            {"FIELD_NAME": "Hobby__c", "FIELD_VALUE": "Skiing", "CUSTOM_FIELD_ID": "Hobby__c"},
            {"FIELD_NAME": "Vip__c", "FIELD_VALUE": True, "CUSTOM_FIELD_ID": "Vip__c"},
            {"FIELD_NAME": "Score__c", "FIELD_VALUE": 3.25, "CUSTOM_FIELD_ID": "Score__c"},
            {"FIELD_NAME": "Gone__c", "FIELD_VALUE": None, "CUSTOM_FIELD_ID": "Gone__c"},
        ],
    }
    out = shape(record)
    assert out["DATE_UPDATED_UTC"] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert out["DATE_OF_BIRTH"] == "1990-01-01 00:00:00"  # not a *_UTC field: left as text
    values = [(f["FIELD_VALUE"], f["FIELD_VALUE_TYPE"]) for f in out["CUSTOMFIELDS"]]
    assert values == [("Skiing", "string"), ("true", "boolean"), ("3.25", "number"), (None, "null")]
    assert out["CUSTOMFIELDS"][0]["CUSTOM_FIELD_ID"] == "Hobby__c"
