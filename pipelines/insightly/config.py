"""Every `[sources.insightly]` setting, read once into one typed object, and the one place
that builds an API client from it.

Values come from dlt's config providers (environment first, then `.dlt/secrets.toml` and
`.dlt/config.toml`): `SOURCES__INSIGHTLY__RATE_PER_S=5` and `[sources.insightly]
rate_per_s = 5` are the same setting. `docs/configuration.md` lists them all. A run reads
them once (`load_settings()`) and hands the object down; a value that can't be used stops
the run with one line that names the setting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import dlt

from insightly.api.client import InsightlyClient
from insightly.api.connection import Connection, check_api_key, override_url, pod_url
from insightly.api.pacing import DEFAULT_IN_FLIGHT, DEFAULT_RATE, Pacer
from insightly.errors import ConfigurationError
from insightly.stats import RunStats

SECTION = "sources.insightly"
DEFAULT_PAGES_PER_RUN = 200  # 100,000 records: what a kill can cost at most
DEFAULT_ACTIVITY_REQUESTS = 500  # per activity table and sync
DEFAULT_STATE_HISTORY_REQUESTS = 2_000  # StateHistory reads per sync
DEFAULT_PARALLEL_ACCOUNTS = 2
DEFAULT_MAX_ATTEMPTS = 6  # per request: about 30 s of backoff before a run gives up
DEFAULT_REQUEST_TIMEOUT = 60.0  # seconds; a GET waits less once the API's pace is known
OFF = ("0", "false", "no", "off")


STATE_HISTORY = "opportunity_state_history"
# The tables read one request per parent record (docs/activity.md); the default reads only
# StateHistory (won/lost reasons, the API's own state changes). `activity = true` means all.
PER_RECORD_TABLES = (STATE_HISTORY, "comments", "ticket_comments", "file_attachments")
DEFAULT_PER_RECORD = (STATE_HISTORY,)
DEFAULT_QUOTA_SHARE = 0.25  # of the daily quota, for all per-record reads of a day


@dataclass(frozen=True)
class ActivitySettings:
    """The per-record reads: which tables, and what they may spend."""

    tables: frozenset[str] = frozenset(DEFAULT_PER_RECORD)  # per_record_tables
    requests_per_table: int = DEFAULT_ACTIVITY_REQUESTS  # activity_requests_per_table
    full_pass_hours: float | None = None  # activity_full_pass_hours; None: no full pass
    quota_share: float = DEFAULT_QUOTA_SHARE  # per_record_quota_share

    @property
    def enabled(self) -> bool:
        """Some activity table (comments, attachments) is read."""
        return bool(self.tables - {STATE_HISTORY})

    def reads(self, table: str) -> bool:
        return table in self.tables


def per_record_tables(listed: Any, activity: Any) -> frozenset[str]:
    """`per_record_tables` (a list, or comma-separated text from the environment) when set;
    else `activity = true` reads all of them, `activity = false` none but StateHistory."""
    if listed is not None:
        names = listed.split(",") if isinstance(listed, str) else list(listed)
        chosen = {str(n).strip() for n in names if str(n).strip()}
        unknown = sorted(chosen - set(PER_RECORD_TABLES))
        if unknown:
            raise ConfigurationError(
                f"per_record_tables: unknown {', '.join(unknown)}: choose from "
                f"{', '.join(PER_RECORD_TABLES)}"
            )
        return frozenset(chosen)
    if activity is not None and str(activity).strip().lower() not in OFF:
        return frozenset(PER_RECORD_TABLES)
    return frozenset(DEFAULT_PER_RECORD)


DEFAULT_USER_MODELS_SCHEMA = "analytics"


@dataclass(frozen=True)
class Settings:
    """`[sources.insightly]`, typed. The key is never part of repr()."""

    api_key: str | None = field(default=None, repr=False)
    pod: str | None = None
    base_url: str | None = None
    start_date: str | None = None
    # request economy (docs/pacing.md)
    rate: float = DEFAULT_RATE  # rate_per_s
    in_flight: int = DEFAULT_IN_FLIGHT  # max_in_flight
    reserve: float = 0.1  # quota_reserve: the share of the daily quota left to others
    cadence_hours: float = 24.0  # lookup_refresh_hours
    pages_per_run: int = DEFAULT_PAGES_PER_RUN  # backfill_pages_per_run
    max_attempts: int = DEFAULT_MAX_ATTEMPTS  # per request, on 5xx and no answer at all
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT  # request_timeout_seconds (api/timeouts.py)
    # deletes (docs/deletes.md)
    delete_check_hours: float = 24.0
    hard_deletes: bool = False
    delete_count: bool = True
    # per-record reads (docs/activity.md, docs/state-history.md)
    activity: ActivitySettings = ActivitySettings()
    state_history_requests: int | None = DEFAULT_STATE_HISTORY_REQUESTS  # None: no limit
    # history and models
    history_entities: Any = None  # a list of tables, or None for all
    build_models: bool = True
    user_models_dir: str | None = None  # a folder of .sql files built after ours (docs/models.md)
    user_models_schema: str = DEFAULT_USER_MODELS_SCHEMA
    accounts_in_parallel: int = DEFAULT_PARALLEL_ACCOUNTS
    page_workers: int = 0  # processes converting a long read's pages (read/page_worker.py)


def default_page_workers() -> int:
    """1 where there is a second core: a large read's pages are decoded and converted in a
    worker process (read/page_pipe.py), which took a 1M-contact sync from about 97 to 85 s
    on 2 cores; 0 on one core, where the two processes would only take turns."""
    return 1 if (os.cpu_count() or 1) >= 2 else 0


def _get(name: str) -> Any:
    return dlt.config.get(f"{SECTION}.{name}")


def _number(name: str, default: float, kind: type = float) -> Any:
    value = _get(name)
    if value is None:
        return kind(default)
    try:
        return kind(float(value)) if kind is int else kind(value)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise ConfigurationError(
            f"{name} must be {what}, got {value!r}: set SOURCES__INSIGHTLY__{name.upper()} "
            f"or [sources.insightly] {name}"
        ) from None


def _flag(name: str, default: bool) -> bool:
    value = _get(name)
    if value is None:
        return default
    return str(value).strip().lower() not in OFF


def load_settings() -> Settings:
    """Every setting from dlt's providers, once."""
    state_history = _number("state_history_requests_per_sync", DEFAULT_STATE_HISTORY_REQUESTS, int)
    return Settings(
        api_key=dlt.secrets.get(f"{SECTION}.api_key"),
        pod=_get("pod"),
        base_url=_get("base_url"),
        start_date=_get("start_date"),
        rate=_number("rate_per_s", DEFAULT_RATE),
        in_flight=_number("max_in_flight", DEFAULT_IN_FLIGHT, int),
        reserve=_number("quota_reserve", 0.1),
        cadence_hours=_number("lookup_refresh_hours", 24.0),
        pages_per_run=max(1, _number("backfill_pages_per_run", DEFAULT_PAGES_PER_RUN, int)),
        max_attempts=max(1, _number("max_attempts", DEFAULT_MAX_ATTEMPTS, int)),
        request_timeout=max(1.0, _number("request_timeout_seconds", DEFAULT_REQUEST_TIMEOUT)),
        delete_check_hours=_number("delete_check_hours", 24.0),
        hard_deletes=_flag("hard_deletes", False),
        delete_count=_flag("delete_count", True),
        activity=ActivitySettings(
            tables=per_record_tables(_get("per_record_tables"), _get("activity")),
            requests_per_table=max(
                1, _number("activity_requests_per_table", DEFAULT_ACTIVITY_REQUESTS, int)
            ),
            full_pass_hours=None
            if _get("activity_full_pass_hours") is None
            else _number("activity_full_pass_hours", 0.0),
            quota_share=min(1.0, max(0.0, _number("per_record_quota_share", DEFAULT_QUOTA_SHARE))),
        ),
        state_history_requests=state_history if state_history > 0 else None,
        history_entities=_get("history_entities"),
        build_models=_flag("build_models", True),
        user_models_dir=str(_get("user_models_dir") or "").strip() or None,
        user_models_schema=str(_get("user_models_schema") or "").strip()
        or DEFAULT_USER_MODELS_SCHEMA,
        accounts_in_parallel=max(
            1, _number("accounts_in_parallel", DEFAULT_PARALLEL_ACCOUNTS, int)
        ),
        page_workers=min(1, max(0, _number("page_workers", default_page_workers(), int))),
    )


def connection_of(
    settings: Settings,
    api_key: str | None = None,
    pod: str | None = None,
    base_url: str | None = None,
) -> Connection:
    """The validated key and URL: the arguments (an account's), else the settings'. Checked
    before any request, so that a typo never sends the key to an unexpected host."""
    key = check_api_key(api_key if api_key is not None else settings.api_key)
    pod = pod if pod is not None else settings.pod
    base_url = base_url if base_url is not None else settings.base_url
    if base_url:
        return Connection(key, override_url(str(base_url)))
    if not pod:
        raise ConfigurationError(
            "The Insightly pod is missing: set SOURCES__INSIGHTLY__POD (na1, eu1, au1, ... as "
            "shown in Insightly under User Settings > API) or [sources.insightly] pod"
        )
    return Connection(key, pod_url(str(pod)))


def resolve_connection(
    api_key: str | None = None, pod: str | None = None, base_url: str | None = None
) -> Connection:
    """The connection from arguments, falling back to the configured settings."""
    return connection_of(load_settings(), api_key, pod, base_url)


def connect(
    settings: Settings,
    api_key: str | None = None,
    pod: str | None = None,
    base_url: str | None = None,
    stats: RunStats | None = None,
    **client_options: Any,
) -> InsightlyClient:
    """The one way a client is built from the settings and an account's key and URL."""
    connection = connection_of(settings, api_key, pod, base_url)
    return client_for(settings, connection, stats, **client_options)


def client_for(
    settings: Settings,
    connection: Connection,
    stats: RunStats | None = None,
    **client_options: Any,
) -> InsightlyClient:
    """A client on a connection already checked: one pacer at the configured rate, the
    quota reserve, the attempts and the timeout per request; `client_options` (tests, the
    sync's paging) override them."""
    options: dict[str, Any] = {
        "pacer": Pacer(settings.rate, settings.in_flight),
        "quota_reserve": settings.reserve,
        "max_attempts": settings.max_attempts,
        "timeout": settings.request_timeout,
        **client_options,
    }
    return InsightlyClient(connection, stats, **options)
