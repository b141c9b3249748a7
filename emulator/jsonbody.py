"""Response bodies as JSON text. orjson refuses an integer past 64 bits, which a tenant's
data may hold (a custom field, say); the standard library writes it exactly, as the API
would."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; stable key order, so the same data gives the same bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:  # "Integer exceeds 64-bit range"
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
