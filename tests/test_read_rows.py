"""The Arrow row path's typing (read/rows.py): strict where pyarrow is lenient, nothing lost."""

from __future__ import annotations

from datetime import datetime, timezone

import dlt

from insightly.read.rows import Columns

NAMING = dlt.Schema("rows").naming


def built(known: dict, declared: dict, rows: list[dict]) -> dict[str, list]:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    return {k: v.to_pylist() for k, v in Columns(known, declared, NAMING).build(rows, keys).items()}


def test_values_of_another_type_go_to_variant_columns_unconverted():
    out = built(
        {},
        {"X": "bigint", "F": "double", "B": "bool", "T": "text"},
        [
            {"X": 1, "F": 1, "B": True, "T": "a"},
            {"X": 1.5, "F": True, "B": -1, "T": 5},
            {"X": True, "F": "x", "B": "maybe", "T": None},
        ],
    )
    assert out["x"] == [1, None, None] and out["x__v_double"] == [None, 1.5, None]
    assert out["x__v_bool"] == [None, None, True]  # pyarrow alone made these 1 and 1
    assert out["f"] == [1.0, None, None] and out["f__v_bool"] == [None, True, None]
    assert out["b"] == [True, None, None] and out["b__v_bigint"] == [None, -1, None]
    assert out["b__v_text"] == [None, None, "maybe"]
    assert out["t"] == ["a", None, None] and out["t__v_bigint"] == [None, 5, None]


def test_an_integer_beyond_64_bits_in_a_column_of_another_type_is_kept_as_text():
    """It failed the page (OverflowError) before: only the column's own type checked."""
    out = built({}, {"T": "text", "B": "bool"}, [{"T": "a", "B": 2**70}, {"T": -(2**64), "B": 3}])
    assert out["t"] == ["a", None] and out["t__v_text"] == [None, str(-(2**64))]
    assert "t__v_bigint" not in out
    assert out["b__v_bigint"] == [None, 3] and out["b__v_text"] == [str(2**70), None]


def test_text_and_an_integer_beyond_64_bits_share_the_text_variant():
    """Both go to `<column>__v_text`: the integer's text no longer replaces the text."""
    out = built({}, {"N": "bigint"}, [{"N": 1}, {"N": "x"}, {"N": 2**70}])
    assert out["n"] == [1, None, None]
    assert out["n__v_text"] == [None, "x", str(2**70)]


def test_utc_stamps_are_typed_and_odd_ones_kept_as_text():
    out = built(
        {"last_seen_utc": "bigint"},
        {"DATE_UPDATED_UTC": "timestamp"},
        [
            {"DATE_UPDATED_UTC": "2024-03-12 21:00:05", "LAST_SEEN_UTC": 5},
            {"DATE_UPDATED_UTC": "yesterday", "LAST_SEEN_UTC": "2024-01-02 03:04:05"},
            {"DATE_UPDATED_UTC": None, "LAST_SEEN_UTC": "12"},
        ],
    )
    stamp = datetime(2024, 3, 12, 21, 0, 5, tzinfo=timezone.utc)
    assert out["date_updated_utc"] == [stamp, None, None]
    assert out["date_updated_utc__v_text"] == [None, "yesterday", None]
    assert out["last_seen_utc"] == [5, None, None]
    assert out["last_seen_utc__v_timestamp"][1] == datetime(
        2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc
    )
    assert out["last_seen_utc__v_text"] == [None, None, "12"]


def test_undeclared_fields_take_their_first_values_type_and_objects_become_json_text():
    out = built({}, {}, [{"NEW": None, "N": {"a": 1}}, {"NEW": 7, "N": [1, "x"]}, {"NEW": 2**70}])
    assert out["new"] == [None, 7, None]
    assert out["new__v_text"] == [None, None, str(2**70)]  # beyond 64 bits: kept, as text
    assert out["n"] == ['{"a":1}', '[1,"x"]', None]
