"""Record values between the API and the warehouse, one at a time.

Pages are typed in bulk by the Arrow row path (rows.py); these are the single-value forms
the cursor, the id check and the tests need: `*_UTC` strings ("YYYY-MM-DD HH:MM:SS", no
zone) as tz-aware datetimes, and custom field values as lossless text plus their JSON type
(`field_value`, `field_value_type`), which the SQL models cast per field.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from .rows import encode_values, json_type_name

json_type = json_type_name  # the JSON type of one value, named as the warehouse stores it


def parse_utc(value: Any) -> Any:
    """ "2024-03-12 21:00:00" -> aware datetime; anything else is returned unchanged."""
    if isinstance(value, str) and len(value) == 19 and value[10] == " ":
        try:
            return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        except ValueError:
            return value
    return value


def encode_value(value: Any) -> str | None:
    """Text form of a custom field value: strings as they are, everything else as JSON."""
    return encode_values([value])[0]


def decode_value(text: str | None, kind: str) -> Any:
    """Inverse of `encode_value` given the stored JSON type; used by tests and models."""
    if kind == "string":
        return text
    if kind == "null" or text is None:
        return None
    return json.loads(text)


def with_constants(page: list[dict[str, Any]], extra: dict[str, Any] | None) -> list[dict]:
    """Add constant columns to a page's records (e.g. RECORD_TYPE for tags), in place."""
    if extra:
        for record in page:
            record.update(extra)
    return page
