"""The API's time stamps: "YYYY-MM-DD HH:MM:SS" in UTC, and `updated_after_utc` values.

Insightly writes every `*_UTC` field without a zone; these are the single-value forms the
cursor, the id check, the history and the tests need.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

STAMP = "%Y-%m-%d %H:%M:%S"


def utc_stamp(value: datetime) -> str:
    """The API's own format, "YYYY-MM-DD HH:MM:SS" in UTC."""
    return value.astimezone(timezone.utc).strftime(STAMP)


def updated_after_param(value: datetime) -> str:
    """An `updated_after_utc` query value: ISO 8601 in UTC."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(value: str) -> datetime:
    return datetime.strptime(value, STAMP).replace(tzinfo=timezone.utc)


def parse_utc(value: Any) -> Any:
    """ "2024-03-12 21:00:00" -> aware datetime; anything else is returned unchanged."""
    if isinstance(value, str) and len(value) == 19 and value[10] == " ":
        try:
            return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        except ValueError:
            return value
    return value
