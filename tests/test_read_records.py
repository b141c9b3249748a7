"""Record shaping: timestamps typed, custom field values stored losslessly."""

from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from insightly.api.stamps import parse_utc
from insightly.read.rows import decode_value, encode_value, encode_values, json_type

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
    assert decode_value(encode_values([value])[0], kind) == value  # the Arrow path's form


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
