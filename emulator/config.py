"""Every knob of the emulator in one dataclass.

Tests describe their scenario by constructing an ``EmulatorConfig`` (data shape) and by
flipping switches at runtime with ``Emulator.configure``.  Behaviours that docs/api.md
marks UNCONFIRMED are switches here, so the pipeline can be tested against every
plausible variant instead of one guess.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

from .catalog import spec
from .write_switches import validate_writes

DEFAULT_ANCHOR = datetime(2026, 6, 30, 0, 0, 0, tzinfo=timezone.utc)


def anchor_from(text: str, today: date | None = None) -> datetime:
    """`--anchor`: "today" is today's midnight (UTC), so a tenant started twice in one day
    generates the same data, and its overdue tasks are overdue now; otherwise an ISO date
    or date-time (naive: UTC). Generated data lies before the anchor (store.Tenant)."""
    if text.strip().lower() == "today":
        day = today or datetime.now(timezone.utc).date()
        return datetime.combine(day, time(0), tzinfo=timezone.utc)
    try:  # Python 3.10 reads no "Z"
        value = datetime.fromisoformat(text.strip().removesuffix("Z").removesuffix("z"))
    except ValueError:
        raise ValueError(f"anchor must be 'today' or an ISO date, not {text!r}") from None
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


# Allowed values of the enumerated switches; the first one is the default.
CHOICES: dict[str, tuple[str, ...]] = {
    # top > 500: silently serve 500 (clamp) or answer 400 (error)   [api.md §4 UNCONFIRMED]
    "top_over_max": ("clamp", "error"),
    # result order of lists and /Search                             [api.md §4 UNCONFIRMED]
    "order": ("id", "updated", "unordered"),
    # brief=true: array keys removed or present as []               [api.md §4 UNCONFIRMED]
    "brief_arrays": ("omit", "empty"),
    # what updated_after_utc filters on for Emails/Search           [api.md §5 UNCONFIRMED]
    "emails_updated_after": ("ignored", "date_created"),
    # updated_after_utc sent to a plain list endpoint               [api.md §5 UNCONFIRMED]
    "list_updated_after": ("ignored", "honoured"),
    # field_name/field_value together with updated_after_utc        [api.md §5 UNCONFIRMED]
    "search_filter_combination": ("allow", "error"),
    # custom fields without a value: FIELD_VALUE null, or left out  [api.md §7 both observed]
    "unset_custom_fields": ("null", "omit"),
    # a new comment or attachment bumps its parent's DATE_UPDATED_UTC
    #                                                               [api.md §8 UNCONFIRMED]
    "activity_updates_parent": ("no", "yes"),
    # a delete drops the record's links from the records linked to it; their
    # DATE_UPDATED_UTC stays ("dropped") or becomes the delete time ("touched")
    #                                                               [api.md §9 UNCONFIRMED]
    "deleted_links": ("dropped", "touched"),
}

# Fields that shape the generated data; they cannot change while a tenant exists.
DATA_FIELDS = frozenset({"seed", "profile", "tenant", "anchor", "sizes", "scale"})

PROFILES = ("test", "demo", "tiny")
# What kind of Insightly instance it is (tenants.py, docs/emulator.md); the profile says
# how many records it has.
TENANTS = ("standard", "empty", "bare", "minimal-plan", "custom-heavy", "odd")

# Injected failures beside plain status codes: "timeout" holds the request for
# timeout_hold_s and then closes the connection without an answer, "reset" aborts the
# TCP connection (RST) without an answer, "truncated" sends a 200 whose Content-Length
# promises the whole body, sends half of it and closes the connection.
CONNECTION_FAULTS = ("timeout", "reset", "truncated")
# fail_next only: "broken_json" answers one list request 200 with half its body (a whole
# HTTP answer whose JSON doesn't decode), as the broken_json switch does to every one.
BODY_FAULTS = ("broken_json",)
FAULT_KINDS = ("500", "502", "503", *CONNECTION_FAULTS)
DEFAULT_FAULT_MIX = dict.fromkeys(FAULT_KINDS, 1.0)
# Writes only (writes.py): the server applies the write, then the answer is lost: "lost"
# resets the connection, "lost_500" answers 500. On a read they act as "reset" and "500".
LOST_FAULTS = ("lost", "lost_500")
# drift: after every_n_pages served pages of a list/search of ``entity``, create, update
# (DATE_UPDATED_UTC = now) and delete that many records, chosen from the seed; at most
# ``steps`` times (0: no limit).
DRIFT_KEYS = {
    "entity": None,
    "every_n_pages": 1,
    "creates": 0,
    "updates": 0,
    "deletes": 0,
    "steps": 0,
}


@dataclass
class EmulatorConfig:
    """Data shape (seed, profile, tenant, sizes, ...) plus all runtime switches.

    Only the switches (everything outside ``DATA_FIELDS``) may be changed with
    ``Emulator.configure``; the data fields are fixed when the tenant is generated.
    """

    # --- data shape -------------------------------------------------------------------
    seed: int = 42
    profile: str = "test"
    tenant: str = "standard"
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
    latency_jitter_ms: float = 0.0  # each request waits latency_ms ± up to this, uniformly
    gzip_level: int = 1  # 0: never compress; 1-9: zlib level for clients accepting gzip
    cache_mb: float = 256.0  # memory for serialised records kept between requests
    readahead_pages: int = 2  # after a full page, render the next ones in the background
    render_workers: int = 0  # extra processes rendering cold pages (for many-core machines)

    # --- UNCONFIRMED semantics (see CHOICES) --------------------------------------------
    top_over_max: str = "clamp"
    order: str = "id"
    brief_arrays: str = "omit"
    emails_updated_after: str = "ignored"
    list_updated_after: str = "ignored"
    search_filter_combination: str = "allow"
    unset_custom_fields: str = "null"
    activity_updates_parent: str = "no"
    deleted_links: str = "dropped"
    # the API grows: create/update accept fields v3.1 doesn't list, and records carry them
    new_fields: bool = False

    # --- failure injection (keys are entity path names, matched case-insensitively) ----
    forbidden: dict[str, int] = field(default_factory=dict)
    non_array: set[str] = field(default_factory=set)
    broken_json: set[str] = field(default_factory=set)
    fail_next: dict[str, list[int | str]] = field(default_factory=dict)
    # share of API requests (that reach an endpoint) failing with a kind drawn from
    # fault_mix; request n's fate follows from (seed, n), n restarting when a fault
    # switch or latency_jitter_ms is configured
    fault_rate: float = 0.0
    fault_mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FAULT_MIX))
    timeout_hold_s: float = 65.0  # how long a "timeout" fault holds the request
    # records change between the pages of one read, see ``DRIFT_KEYS``
    drift: dict[str, Any] = field(default_factory=dict)
    # the write side's open questions, see write_switches.WRITE_CHOICES
    writes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fail_next = {k: [_failure(c) for c in v] for k, v in self.fail_next.items()}
        self.fault_mix = {str(k): float(v) for k, v in self.fault_mix.items()}
        self.drift = _drift(self.drift)
        validate(self)


def switch_names() -> list[str]:
    """Names accepted by ``configure`` (every field except the data-shaping ones)."""
    return [f.name for f in dataclasses.fields(EmulatorConfig) if f.name not in DATA_FIELDS]


def validate(cfg: EmulatorConfig) -> None:
    """Reject impossible values early, with a message naming the switch."""
    if cfg.profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, not {cfg.profile!r}")
    if cfg.tenant not in TENANTS:
        raise ValueError(f"tenant must be one of {TENANTS}, not {cfg.tenant!r}")
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
    for name in ("latency_ms", "latency_jitter_ms", "timeout_hold_s", "cache_mb"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"{name} must be >= 0")
    for name in ("readahead_pages", "render_workers"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"{name} must be >= 0")
    if not 0 <= cfg.gzip_level <= 9:
        raise ValueError("gzip_level must be between 0 and 9")
    if not 0.0 <= cfg.fault_rate <= 1.0:
        raise ValueError("fault_rate must be between 0 and 1")
    for kind, weight in cfg.fault_mix.items():
        if kind not in FAULT_KINDS + LOST_FAULTS:
            raise ValueError(f"fault_mix keys must be among {FAULT_KINDS + LOST_FAULTS}")
        if weight < 0:
            raise ValueError(f"fault_mix[{kind!r}] must be >= 0")
    if cfg.fault_rate > 0 and sum(cfg.fault_mix.values()) <= 0:
        raise ValueError("fault_mix needs a positive weight when fault_rate > 0")
    _validate_drift(cfg.drift)
    validate_writes(cfg.writes)
    for entity, code in cfg.forbidden.items():
        if code not in (403, 404):
            raise ValueError(f"forbidden[{entity!r}] must be 403 or 404, not {code!r}")
    for entity, codes in cfg.fail_next.items():
        if not all(_is_failure(c) for c in codes):
            raise ValueError(
                f"fail_next[{entity!r}] must list 4xx/5xx codes or "
                f"{CONNECTION_FAULTS + LOST_FAULTS + BODY_FAULTS}"
            )


def _is_failure(item: Any) -> bool:
    if isinstance(item, str) and item in CONNECTION_FAULTS + LOST_FAULTS + BODY_FAULTS:
        return True
    if isinstance(item, str) and item.isdigit():
        item = int(item)
    return isinstance(item, int) and not isinstance(item, bool) and 400 <= item <= 599


def _validate_drift(drift: dict[str, Any]) -> None:
    if not drift:
        return
    unknown = set(drift) - set(DRIFT_KEYS)
    if unknown:
        raise ValueError(f"drift has unknown keys {sorted(unknown)}; known: {sorted(DRIFT_KEYS)}")
    entity = drift.get("entity")
    if not isinstance(entity, str):
        raise ValueError("drift needs an entity, e.g. {'entity': 'Contacts', 'updates': 3}")
    try:
        target = spec(entity)
    except KeyError:
        raise ValueError(f"drift: unknown entity {entity!r}") from None
    if target.kind != "record" or not target.numeric_pk or target.name == "TeamMembers":
        raise ValueError(f"drift: {target.name} is a lookup list; its records cannot change")
    for name in ("every_n_pages", "creates", "updates", "deletes", "steps"):
        value = drift.get(name, DRIFT_KEYS[name])
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"drift[{name!r}] must be an int >= 0")
    if drift.get("every_n_pages", 1) < 1:
        raise ValueError("drift['every_n_pages'] must be >= 1")


def coerce_switch(name: str, value: Any) -> Any:
    """Turn JSON/CLI input into the switch's Python type (lists -> sets, copies)."""
    if name in ("non_array", "broken_json"):
        return set(value or ())
    if name == "forbidden":
        return {str(k): int(v) for k, v in (value or {}).items()}
    if name == "fail_next":
        return {str(k): [_failure(c) for c in v] for k, v in (value or {}).items()}
    if name == "fault_mix":
        return {str(k): float(v) for k, v in (value or {}).items()}
    if name == "drift":
        return _drift(value)
    if name == "writes":
        return dict(value or {})
    if name in ("fault_rate", "timeout_hold_s", "latency_jitter_ms", "cache_mb"):
        return float(value)
    if name in ("gzip_level", "readahead_pages", "render_workers"):
        return int(value)
    if name in ("rate_limit_per_s",) and value is not None:
        return float(value)
    if name in ("max_in_flight", "daily_limit") and value is not None:
        return int(value)
    if name == "latency_ms":
        return float(value)
    if name == "retry_after":
        return bool(value)
    return value


def _failure(item: Any) -> int | str:
    """A fail_next item: status codes as ints ("503" too), connection faults as names."""
    if isinstance(item, str):
        text = item.strip().lower()
        return int(text) if text.isdigit() else text
    return item if isinstance(item, bool) else int(item)


def _drift(value: Any) -> dict[str, Any]:
    """A drift switch with its defaults filled in ({} or None switches drift off)."""
    if not value:
        return {}
    out = {**DRIFT_KEYS, **dict(value)}
    for name in ("every_n_pages", "creates", "updates", "deletes", "steps"):
        if isinstance(out[name], float) and out[name].is_integer():
            out[name] = int(out[name])
    return out


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
