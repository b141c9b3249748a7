"""Query-parameter parsing with Insightly's rules (docs/api.md §4, §5).

Parameter names are matched case-insensitively (ASP.NET model binding); bad values give
400 with a ``{"Message": ...}`` body.  ``updated_after_utc`` accepts ISO-8601 with ``Z`` or
an offset, ``YYYY-MM-DD HH:MM:SS`` and a bare date, and is truncated to whole seconds.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

MAX_TOP = 500
DEFAULT_TOP = 100


class ApiError(Exception):
    """An error answer: status code and the text of the ``Message`` body."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def bad_request(message: str = "The request is invalid.") -> ApiError:
    return ApiError(400, message)


def parse_bool(name: str, value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise bad_request(f"The value '{value}' is not valid for {name}.")


def parse_int(name: str, value: str | None, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value.strip())
    except ValueError:
        raise bad_request(f"The value '{value}' is not valid for {name}.") from None


def parse_paging(params: dict[str, str], top_over_max: str) -> tuple[int, int]:
    """(skip, top) with top defaulting to 100 and capped (or rejected) above 500."""
    skip = parse_int("skip", params.get("skip"), 0) or 0
    top = parse_int("top", params.get("top"), DEFAULT_TOP)
    assert top is not None
    if skip < 0:
        raise bad_request("skip must not be negative.")
    if top < 1:
        raise bad_request("top must be between 1 and 500.")
    if top > MAX_TOP:
        if top_over_max == "error":
            raise bad_request("top must be between 1 and 500.")
        top = MAX_TOP
    return skip, top


_OFFSET_SPACE = re.compile(r"^(.*\d)[ ](\d\d:?\d\d)$")  # '+' decoded to ' ' by form encoding


def parse_utc(name: str, value: str) -> int:
    """Epoch seconds (UTC, truncated) for the accepted datetime spellings."""
    text = value.strip()
    match = _OFFSET_SPACE.match(text)
    if match and ("T" in text or text.count(" ") > 1):
        text = f"{match.group(1)}+{match.group(2)}"
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    for candidate in (text, text.replace(" ", "T", 1)):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return int(parsed.timestamp() // 1)
    raise bad_request(f"The value '{value}' is not valid for {name}.")
