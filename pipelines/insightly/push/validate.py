"""Values as the API takes and returns them. A desired value from the warehouse and a value
from the copy are both brought to the API's form, so that comparing them says whether a
write is needed, and a value that cannot be brought to it makes the row invalid before any
request: BIT is a JSON boolean, NUMERIC and PERCENT numbers, DATE and
DATETIME "yyyy-MM-dd HH:mm:ss" in UTC, MULTISELECT a ";"-joined string of its options,
DROPDOWN one of its options (exactly: the KB says matching is case-sensitive), TEXT at most
255 characters and MULTILINETEXT 4000 (docs/api.md §7, §10)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from insightly.push.snapshot import CustomField

STAMP = "%Y-%m-%d %H:%M:%S"
TEXT_LIMITS = {"TEXT": 255, "MULTILINETEXT": 4000, "URL": 255}
FIELD_LIMITS = {"OPPORTUNITY_STATE": 20}  # the standard-field lengths docs/api.md gives


class Invalid(ValueError):
    """A value the API would refuse; the message is the row's reason."""


def number(value: Any) -> int | float:
    """A JSON number: an int when whole (the API's read shape), else a float."""
    if isinstance(value, bool):
        raise Invalid(f"{value!r} is not a number")
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except ArithmeticError:
            raise Invalid(f"{value!r} is not a number") from None
    if not isinstance(value, int | float | Decimal):
        raise Invalid(f"{value!r} is not a number")
    if isinstance(value, float | Decimal) and not math.isfinite(float(value)):
        raise Invalid(f"{value!r} is not a finite number")
    if value == int(value):
        return int(value)
    return float(value)


def whole(value: Any) -> int:
    result = number(value)
    if not isinstance(result, int):
        raise Invalid(f"{value!r} is not a whole number")
    return result


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise Invalid(f"{value!r} is not true or false")


def stamp(value: Any) -> str:
    """A date or datetime as "yyyy-MM-dd HH:mm:ss" in UTC (a naive one is taken as UTC)."""
    if isinstance(value, str):
        text = value.strip().replace("T", " ").removesuffix("Z")
        try:
            value = datetime.fromisoformat(text) if len(text) > 10 else date.fromisoformat(text)
        except ValueError:
            raise Invalid(f"{value!r} is not a date (yyyy-MM-dd HH:mm:ss)") from None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value.strftime(STAMP)
    if isinstance(value, date):
        return f"{value.isoformat()} 00:00:00"
    raise Invalid(f"{value!r} is not a date")


def text(value: Any, limit: int | None = None) -> str:
    if isinstance(value, str):
        result = value
    elif isinstance(value, datetime | date):
        result = stamp(value)
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        result = str(number(value))
    else:
        raise Invalid(f"{value!r} is not text")
    if limit is not None and len(result) > limit:
        raise Invalid(f"{len(result)} characters, at most {limit} allowed")
    return result


def standard(field: str, kind: str, value: Any) -> Any:
    """A standard field's value in API form; None stays None (it clears the field)."""
    if value is None:
        return None
    try:
        if kind == "bigint":
            return whole(value)
        if kind == "double":
            return number(value)
        if kind == "bool":
            return boolean(value)
        if kind == "timestamp" or field.endswith(("_UTC", "_DATE")):
            return stamp(value)
        if kind == "json":
            return value if isinstance(value, list | dict) else json.loads(value)
        return text(value, FIELD_LIMITS.get(field))
    except (Invalid, ValueError) as exc:
        raise Invalid(f"{field}: {exc}") from None


def _options(custom: CustomField, values: list[str]) -> str:
    order = {o: i for i, o in enumerate(custom.options)}
    unknown = [v for v in values if custom.options and v not in order]
    if unknown:
        raise Invalid(f"{', '.join(map(repr, unknown))} not among the options")
    return ";".join(sorted(dict.fromkeys(values), key=lambda v: (order.get(v, len(order)), v)))


def custom(field: CustomField, value: Any) -> Any:
    """A custom field's FIELD_VALUE in API form; None stays None (it clears the field)."""
    if value is None:
        return None
    try:
        kind = field.type.upper()
        if kind == "BIT":
            return boolean(value)
        if kind in ("NUMERIC", "PERCENT"):
            return number(value)
        if kind in ("DATE", "DATETIME"):
            return stamp(value)
        if kind == "LOOKUP":
            return whole(value)
        if kind == "MULTISELECT":
            items = value if isinstance(value, list | tuple) else str(value).split(";")
            return _options(field, [str(v).strip() for v in items if str(v).strip()]) or None
        if kind == "DROPDOWN":
            choice = text(value)
            if field.options and choice not in field.options:
                raise Invalid(f"{choice!r} is not one of the options ({', '.join(field.options)})")
            return choice
        return text(value, TEXT_LIMITS.get(kind))
    except Invalid as exc:
        raise Invalid(f"{field.name}: {exc}") from None


def copy_value(convert: Any, *args: Any) -> Any:
    """The copy's value in API form; a value the copy holds in another shape is kept as it is,
    so it compares unequal and the desired value is written."""
    try:
        return convert(*args)
    except Invalid:
        return args[-1]


def tags(value: Any) -> list[str]:
    """A tags column: a list, or a ";"-joined string; blanks dropped, order and case kept."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list | tuple):
        raise Invalid(f"tags: {value!r} is neither a list nor a ';'-joined string")
    names = [str(v).strip() for v in value if v is not None and str(v).strip()]
    too_long = [n for n in names if len(n) > 255]
    if too_long:
        raise Invalid(f"tags: {too_long[0][:40]!r}... is longer than 255 characters")
    return list(dict.fromkeys(names))
