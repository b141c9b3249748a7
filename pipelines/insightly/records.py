"""Record shaping between the API and dlt's normaliser.

Two things can't be left to dlt's type inference:
- `*_UTC` strings ("YYYY-MM-DD HH:MM:SS", no zone) become tz-aware datetimes, so the cursor
  compares as time and the warehouse gets TIMESTAMP columns. Nothing else is auto-typed:
  the source turns dlt's timestamp detection off, so a free-text value that happens to look
  like a date can never type its column (and later values split into variant columns).
- CUSTOMFIELDS values are of mixed JSON types. Each value is stored as text plus its JSON
  type (`field_value`, `field_value_type`), which is lossless and lets the SQL models cast
  per field from the /CustomFields metadata.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

UTC_SUFFIX = "_UTC"
CUSTOMFIELDS = "CUSTOMFIELDS"


def parse_utc(value: Any) -> Any:
    """ "2024-03-12 21:00:00" -> aware datetime; anything else is returned unchanged."""
    if isinstance(value, str) and len(value) == 19 and value[10] == " ":
        try:
            return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        except ValueError:
            return value
    return value


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def encode_value(value: Any) -> str | None:
    """Text form of a custom field value: strings as they are, everything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def decode_value(text: str | None, kind: str) -> Any:
    """Inverse of `encode_value` given the stored JSON type; used by tests and models."""
    if kind == "string":
        return text
    if kind == "null" or text is None:
        return None
    return json.loads(text)


def _custom_field(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):  # unexpected shape: keep it whole rather than drop it
        return {"FIELD_VALUE": encode_value(item), "FIELD_VALUE_TYPE": json_type(item)}
    out = {k: v for k, v in item.items() if k != "FIELD_VALUE"}
    value = item.get("FIELD_VALUE")
    out["FIELD_VALUE"] = encode_value(value)
    out["FIELD_VALUE_TYPE"] = json_type(value)
    return out


def shape(record: dict[str, Any]) -> dict[str, Any]:
    """Prepare one API record for dlt (in place, returns it)."""
    for key, value in record.items():
        if key.endswith(UTC_SUFFIX) and isinstance(value, str):
            record[key] = parse_utc(value)
    fields = record.get(CUSTOMFIELDS)
    if isinstance(fields, list):
        record[CUSTOMFIELDS] = [_custom_field(item) for item in fields]
    return record


def shape_page(page: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> list[dict]:
    """Shape a page of records, adding constant columns (e.g. RECORD_TYPE for tags)."""
    if extra:
        for record in page:
            record.update(extra)
    return [shape(record) for record in page]


# dlt's column type for each JSON scalar type a record can carry (after `shape`).
_TYPE_OF: dict[type, str] = {bool: "bool", int: "bigint", float: "double", str: "text"}
_COMPATIBLE = {("double", "bigint")}  # (column, value): converts without loss


class ColumnTypes:
    """Keeps each scalar in a column of its own type, for one table across a run.

    dlt converts a value into its column's type when it can: -1 into a bool column becomes
    true, 5 into a text column becomes "5", "12" into a bigint column becomes 12. A field
    Insightly starts sending with another type would then lose its value or its type. Nested
    as {"v_<type>": value}, dlt flattens the value into `<column>__v_<type>`, the column dlt
    itself uses for values it cannot convert, so every value keeps its type and queries find
    it in one place. A column first seen here gets the type of its first value, as dlt's
    normaliser types it.
    """

    def __init__(self, column_types: dict[str, str], naming: Any) -> None:
        self.types = dict(column_types)  # normalised column name -> dlt data type
        self._naming = naming
        self._names: dict[str, str] = {}  # API field name -> column name, normalised once

    def keep(self, record: dict) -> dict:
        """Move a mismatched scalar of `record` into its variant column (in place)."""
        for key, value in record.items():
            kind = _TYPE_OF.get(type(value))
            if kind is None:  # None, datetimes, lists and dicts are dlt's to place
                continue
            name = self._names.get(key)
            if name is None:
                name = self._names[key] = self._naming.normalize_identifier(key)
            expected = self.types.setdefault(name, kind)
            if expected != kind and (expected, kind) not in _COMPATIBLE:
                record[key] = {f"v_{kind}": value}
        return record
