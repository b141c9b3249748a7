"""Every knob of the emulator in one dataclass.

Tests describe their scenario by constructing an ``EmulatorConfig`` (data shape) and by
flipping switches at runtime with ``Emulator.configure``.  Behaviours that the facts file
(/work/shared/insightly-api.md) marks UNCONFIRMED are switches here, so the pipeline can
be tested against every plausible variant instead of one guess.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

DEFAULT_ANCHOR = datetime(2026, 6, 30, 0, 0, 0, tzinfo=timezone.utc)

# Allowed values of the enumerated switches; the first one is the default.
CHOICES: dict[str, tuple[str, ...]] = {
    # top > 500: silently serve 500 (clamp) or answer 400 (error)   [facts §2.3 UNCONFIRMED]
    "top_over_max": ("clamp", "error"),
    # result order of lists and /Search                             [facts §2.3 UNCONFIRMED]
    "order": ("id", "updated", "unordered"),
    # brief=true: array keys removed or present as []               [facts §4 UNCONFIRMED]
    "brief_arrays": ("omit", "empty"),
    # what updated_after_utc filters on for Emails/Search           [facts §2.2 UNCONFIRMED]
    "emails_updated_after": ("ignored", "date_created"),
    # updated_after_utc sent to a plain list endpoint               [facts §2.3 UNCONFIRMED]
    "list_updated_after": ("ignored", "honoured"),
    # field_name/field_value together with updated_after_utc        [facts §8.13 UNCONFIRMED]
    "search_filter_combination": ("allow", "error"),
    # custom fields without a value: FIELD_VALUE null, or left out  [facts §4 both observed]
    "unset_custom_fields": ("null", "omit"),
}

# Fields that shape the generated data; they cannot change while a tenant exists.
DATA_FIELDS = frozenset({"seed", "profile", "anchor", "sizes", "scale"})

PROFILES = ("test", "demo", "tiny")


@dataclass
class EmulatorConfig:
    """Data shape (seed, profile, sizes, ...) plus all runtime switches.

    Only the switches (everything outside ``DATA_FIELDS``) may be changed with
    ``Emulator.configure``; the data fields are fixed when the tenant is generated.
    """

    # --- data shape -------------------------------------------------------------------
    seed: int = 42
    profile: str = "test"
    api_key: str = "test-key"
    anchor: datetime = DEFAULT_ANCHOR
    sizes: dict[str, int] = field(default_factory=dict)
    scale: float = 1.0

    # --- transport --------------------------------------------------------------------
    daily_limit: int = 100_000
    rate_limit_per_s: float | None = None
    max_in_flight: int | None = None
    retry_after: bool = True
    latency_ms: float = 0.0

    # --- UNCONFIRMED semantics (see CHOICES) --------------------------------------------
    top_over_max: str = "clamp"
    order: str = "id"
    brief_arrays: str = "omit"
    emails_updated_after: str = "ignored"
    list_updated_after: str = "ignored"
    search_filter_combination: str = "allow"
    unset_custom_fields: str = "null"

    # --- failure injection (keys are entity path names, matched case-insensitively) ----
    forbidden: dict[str, int] = field(default_factory=dict)
    non_array: set[str] = field(default_factory=set)
    broken_json: set[str] = field(default_factory=set)
    fail_next: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate(self)


def switch_names() -> list[str]:
    """Names accepted by ``configure`` (every field except the data-shaping ones)."""
    return [f.name for f in dataclasses.fields(EmulatorConfig) if f.name not in DATA_FIELDS]


def validate(cfg: EmulatorConfig) -> None:
    """Reject impossible values early, with a message naming the switch."""
    if cfg.profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, not {cfg.profile!r}")
    if cfg.anchor.tzinfo is None:
        raise ValueError("anchor must be timezone-aware (UTC)")
    if cfg.scale <= 0:
        raise ValueError("scale must be > 0")
    for name, allowed in CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, not {getattr(cfg, name)!r}")
    if cfg.daily_limit < 0:
        raise ValueError("daily_limit must be >= 0")
    if cfg.rate_limit_per_s is not None and cfg.rate_limit_per_s <= 0:
        raise ValueError("rate_limit_per_s must be > 0 or None")
    if cfg.max_in_flight is not None and cfg.max_in_flight < 1:
        raise ValueError("max_in_flight must be >= 1 or None")
    if cfg.latency_ms < 0:
        raise ValueError("latency_ms must be >= 0")
    for entity, code in cfg.forbidden.items():
        if code not in (403, 404):
            raise ValueError(f"forbidden[{entity!r}] must be 403 or 404, not {code!r}")
    for entity, codes in cfg.fail_next.items():
        if not all(isinstance(c, int) and 400 <= c <= 599 for c in codes):
            raise ValueError(f"fail_next[{entity!r}] must be a list of 4xx/5xx codes")


def coerce_switch(name: str, value: Any) -> Any:
    """Turn JSON/CLI input into the switch's Python type (lists -> sets, copies)."""
    if name in ("non_array", "broken_json"):
        return set(value or ())
    if name == "forbidden":
        return {str(k): int(v) for k, v in (value or {}).items()}
    if name == "fail_next":
        return {str(k): [int(c) for c in v] for k, v in (value or {}).items()}
    if name in ("rate_limit_per_s",) and value is not None:
        return float(value)
    if name in ("max_in_flight", "daily_limit") and value is not None:
        return int(value)
    if name == "latency_ms":
        return float(value)
    if name == "retry_after":
        return bool(value)
    return value


def switches_as_json(cfg: EmulatorConfig) -> dict[str, Any]:
    """The current switches as JSON-friendly values (sets -> sorted lists)."""
    out: dict[str, Any] = {}
    for name in switch_names():
        value = getattr(cfg, name)
        if isinstance(value, set):
            value = sorted(value)
        elif isinstance(value, dict):
            value = {k: (list(v) if isinstance(v, list) else v) for k, v in value.items()}
        out[name] = value
    return out
