"""One sync run: build the pipeline, finish any pending load, extract, load, summarise."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo
from filelock import FileLock, Timeout

from insightly.api.client import InsightlyClient
from insightly.api.connection import Connection, resolve_connection
from insightly.api.pacing import DEFAULT_IN_FLIGHT, DEFAULT_RATE, Pacer
from insightly.api.stamps import parse_utc
from insightly.catalogue.entities import (
    CUSTOM_FIELDS,
    CUSTOM_OBJECTS,
    ENTITIES,
    PER_RECORD,
    TAGS,
    Load,
)
from insightly.deletes.check import discard_checks, reconcile
from insightly.deletes.count import delete_counter
from insightly.errors import ConfigurationError, SyncAlreadyRunning
from insightly.history.store import begin_history, end_history
from insightly.read.opportunity_states import sync_state_history
from insightly.read.pages import REFRESHED_STATE
from insightly.read.source import insightly_source
from insightly.read.walk import resource_state
from insightly.stats import RunStats
from insightly.warehouse.integrity import repair_exact_copies
from insightly.warehouse.introspect import tables_in
from insightly.warehouse.migrate import migrate_child_tables

PIPELINE_NAME = "insightly"
DATASET_NAME = "insightly"
DEFAULT_PAGES_PER_RUN = 200  # 100,000 records: what a kill can cost at most


@dataclass
class SyncOptions:
    """What `insightly sync` was asked to do."""

    destination: str = "duckdb"
    dataset: str = DATASET_NAME
    pipeline_name: str = PIPELINE_NAME
    entities: Sequence[str] | None = None
    full_refresh: bool = False
    drop_history: bool = False  # drop the versions tables first (history.py)
    pipelines_dir: str | None = None
    start_date: str | None = None
    progress: str | None = None
    wait: bool = False  # queue behind a running sync instead of exiting
    api_key: str | None = field(default=None, repr=False)  # never in a log or a trace
    pod: str | None = None
    base_url: str | None = None
    client_options: dict[str, Any] = field(default_factory=dict)
    duckdb_file: str | None = None  # this pipeline's own file (accounts.py), else from config
    stats: RunStats | None = None  # the caller's, to count a run that fails (run log, progress)
    lock_held: bool = False  # the caller holds exclusive() around several syncs (a push)
    check_deletes: bool = False  # run the id check now, due or not (after a push's deletes)


@dataclass
class SyncResult:
    """What a sync did: the run summary's numbers and dlt's load info."""

    stats: RunStats
    load_info: list[LoadInfo]
    pending_loaded: bool
    seconds: float
    tables: list[str]


def make_pipeline(options: SyncOptions) -> dlt.Pipeline:
    # Every table keeps `_dlt_load_id`; dlt adds it to Arrow tables only when asked to.
    dlt.config["normalize.parquet_normalizer.add_dlt_load_id"] = True
    kwargs: dict[str, Any] = {}
    if options.pipelines_dir:
        kwargs["pipelines_dir"] = options.pipelines_dir
    if options.progress:
        kwargs["progress"] = options.progress
    destination: Any = options.destination
    if destination == "duckdb":
        destination = DuckDbWithMemoryLimit(credentials=duckdb_file(options))
    return dlt.pipeline(
        pipeline_name=options.pipeline_name,
        destination=destination,
        dataset_name=options.dataset,
        **kwargs,
    )


DEFAULT_DUCKDB_FILE = "insightly_crm.duckdb"


def duckdb_file(options: SyncOptions) -> str | None:
    """The DuckDB file: the account's, else what dlt is configured with (None: dlt resolves
    it), else `insightly_crm.duckdb`. Not dlt's default `<pipeline>.duckdb`: DuckDB 2.0 names
    the catalog after the file, and a catalog `insightly` beside the schema `insightly`
    makes every unqualified reference ambiguous (the load failed with a Binder Error)."""
    if options.duckdb_file:
        return options.duckdb_file
    if os.environ.get("DESTINATION__DUCKDB__CREDENTIALS"):
        return None
    configured = dlt.secrets.get("destination.duckdb.credentials")
    if isinstance(configured, str) or (isinstance(configured, dict) and configured.get("database")):
        return None
    return DEFAULT_DUCKDB_FILE


def default_memory_limit() -> str:
    """DuckDB's memory_limit unless configured: the smaller of 512 MiB and an eighth of the
    machine's memory (or of the cgroup's limit, in a container). DuckDB's own default, 80%
    of RAM, held 4.9 GB after a 1M-contact merge; 768MB held 1.24 GB with 2% more time."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        cgroup = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cgroup.isdigit():
            total = min(total, int(cgroup))
    except OSError:
        pass
    return f"{max(64, min(512, total // 8 // 2**20))}MiB"


class DuckDbWithMemoryLimit(dlt.destinations.duckdb):
    """dlt's duckdb destination, whose resolved credentials get `default_memory_limit()` and
    `preserve_insertion_order = false` unless `global_config` sets them. Config files can't
    compute, credentials passed to the factory would replace the configured ones (the
    database path included), and dlt refuses any `[destination.duckdb.credentials]` key in
    config.toml (a secrets section: `make sync` failed with ValueNotSecretException), so the
    defaults are added here, after dlt resolved the credentials."""

    @property
    def destination_type(self) -> str:  # the same destination: config sections, state
        return dlt.destinations.duckdb().destination_type

    def configuration(self, initial_config: Any, accept_partial: bool = False) -> Any:
        config = super().configuration(initial_config, accept_partial)
        credentials = config.credentials
        if credentials is not None:
            configured = dict(credentials.global_config or {})
            keys = {key.lower() for key in configured}
            defaults = {
                "memory_limit": default_memory_limit(),
                # a merge needn't keep row order: less memory, faster loads
                "preserve_insertion_order": False,
            }
            defaults = {k: v for k, v in defaults.items() if k not in keys}
            credentials.global_config = {**defaults, **configured}
        return config


def file_format(destination: str) -> str | None:
    """Parquet where the destination loads it fast (DuckDB is ~5x faster than inserts)."""
    return "parquet" if destination in ("duckdb", "motherduck", "bigquery") else None


def select(source: Any, names: Sequence[str] | None) -> Any:
    """Restrict the source to some tables, refusing names it doesn't have."""
    if not names:
        return source
    known = list(source.resources.keys())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigurationError(
            f"unknown entities {', '.join(unknown)}: choose from {', '.join(sorted(known))}"
        )
    return source.with_resources(*names)


def _setting(name: str, default: Any) -> Any:
    value = dlt.config.get(f"sources.insightly.{name}")
    return default if value is None else type(default)(value)


@dataclass(frozen=True)
class PacingSettings:
    """Request economy settings from dlt config (`[sources.insightly]`)."""

    rate: float
    in_flight: int
    reserve: float
    cadence_hours: float
    delete_check_hours: float
    hard_deletes: bool
    pages_per_run: int  # backfill_pages_per_run: pages of one read per pipeline run


def pacing_settings() -> PacingSettings:
    return PacingSettings(
        rate=_setting("rate_per_s", DEFAULT_RATE),
        in_flight=_setting("max_in_flight", DEFAULT_IN_FLIGHT),
        reserve=_setting("quota_reserve", 0.1),
        cadence_hours=_setting("lookup_refresh_hours", 24.0),
        delete_check_hours=_setting("delete_check_hours", 24.0),
        hard_deletes=str(_setting("hard_deletes", "false")).lower() in ("1", "true", "yes"),
        pages_per_run=max(1, _setting("backfill_pages_per_run", DEFAULT_PAGES_PER_RUN)),
    )


def lookup_tables(source: Any) -> list[str]:
    """Tables of rarely-changing reference data, refreshed on their own cadence."""
    lookups = {e.table for e in ENTITIES if e.lookup}
    lookups |= {TAGS.table, CUSTOM_OBJECTS.table, CUSTOM_FIELDS.table}
    return [name for name in source.selected_resources if name in lookups]


def refreshed_at(pipeline: dlt.Pipeline, table: str) -> datetime | None:
    """When the table's last complete full read happened, from the pipeline state."""
    value = parse_utc(resource_state(pipeline, table).get(REFRESHED_STATE))
    return value if isinstance(value, datetime) else None


def _warehouse_tables(pipeline: dlt.Pipeline) -> set[str]:
    """Tables the destination already holds (none before the first load)."""
    try:
        with pipeline.sql_client() as sql:
            return tables_in(sql)
    except Exception:  # no dataset yet, or a destination without information_schema
        return set()


def due(pipeline: dlt.Pipeline, table: str, cadence_hours: float) -> bool:
    last = refreshed_at(pipeline, table)
    if cadence_hours <= 0 or last is None:
        return True
    return datetime.now(timezone.utc) - last >= timedelta(hours=cadence_hours)


def run_sync(options: SyncOptions) -> SyncResult:
    """Run one sync. Raises InsightlyError subclasses for problems the user can act on.

    Full-read tables (lookups that are due, emails) load first, in their own load package:
    a replace table must never be loaded from a read cut short. Incremental tables follow;
    if the daily quota stops them, what was read is loaded and each unfinished table keeps
    its place, so the next run reads on from its first unread page. A read larger than the
    page budget of one run is loaded in chunks, one pipeline run each. Then the id checks
    that are due run with what is left of the quota (deletes.py).
    """
    started = time.monotonic()
    connection = resolve_connection(options.api_key, options.pod, options.base_url)
    pipeline = make_pipeline(options)
    if options.lock_held:
        return _sync_locked(options, pipeline, connection, started)
    with exclusive(pipeline, options.wait):
        return _sync_locked(options, pipeline, connection, started)


@contextmanager
def exclusive(pipeline: dlt.Pipeline, wait: bool) -> Iterator[None]:
    """One sync (or push) per pipeline at a time: two would race on the same state."""
    path = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.sync.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=-1 if wait else 0)
    try:
        lock.acquire()
    except Timeout:
        raise SyncAlreadyRunning(
            f"another sync of pipeline '{pipeline.pipeline_name}' is running (lock {path}): "
            "let it finish, or pass --wait to queue behind it"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _sync_locked(
    options: SyncOptions, pipeline: dlt.Pipeline, connection: Connection, started: float
) -> SyncResult:
    stats = options.stats or RunStats()
    loader_format = file_format(options.destination)
    pending_loaded = False
    if pipeline.has_pending_data:
        # A previous run extracted but did not load: load that first, then extract anew.
        pipeline.run(loader_file_format=loader_format)
        pending_loaded = True
    # A warehouse of the earlier, dlt-nested layout moves to parent-keyed child tables.
    pipeline.sync_destination()
    migrate_child_tables(pipeline)
    settings = pacing_settings()
    cadence = settings.cadence_hours
    client_options: dict[str, Any] = {
        "pacer": Pacer(settings.rate, settings.in_flight),
        "quota_reserve": settings.reserve,
        "page_concurrency": settings.in_flight,
        "pages_per_run": settings.pages_per_run,
    }
    client_options.update(options.client_options)
    infos: list[LoadInfo] = []
    with InsightlyClient(connection, stats, **client_options) as client:
        overrides = {"start_date": options.start_date} if options.start_date else {}
        source = insightly_source(
            api_key=connection.api_key, base_url=connection.base_url, client=client, **overrides
        )
        source = select(source, options.entities)
        tables = list(source.selected_resources.keys())
        full = {e.table for e in ENTITIES if e.load is Load.FULL} | set(lookup_tables(source))
        held = [
            t
            for t in lookup_tables(source)
            if not options.full_refresh and not due(pipeline, t, cadence)
        ]
        refresh = "drop_resources" if options.full_refresh else None
        begin_history(pipeline, stats, tables, options)
        if options.full_refresh:
            discard_checks(pipeline, tables)
        loaded = set() if options.full_refresh else _warehouse_tables(pipeline)
        first_sync = {t for t in tables if t not in loaded}
        run = Runs(pipeline, source, stats, loader_format)
        activity = {p.table for p in PER_RECORD}  # read off the parents loaded before it
        for phase in (
            [t for t in tables if t in full and t not in held],
            [t for t in tables if t not in full and t not in activity],
            [t for t in tables if t in activity],
        ):
            if phase and not stats.quota_stop:
                run.until_read(phase, refresh)
        end_history(pipeline)  # history a full refresh held aside goes back
        if run.infos or pending_loaded:
            stats.repaired = repair_exact_copies(pipeline, tables)
        if not stats.quota_stop:
            if options.check_deletes:
                settings = replace(settings, delete_check_hours=0)
            checked = [e for t, e in stats.incremental.items() if t in tables]
            check_ids(run, client, checked, settings, first_sync, options.start_date)
        if not stats.quota_stop:  # StateHistory of opportunities whose state changed
            history = sync_state_history(pipeline, client, tables, loader_format)
            run.infos += [history] if history is not None else []
        infos = run.infos
    for info in infos:
        info.raise_on_failed_jobs()
    stats.held = held
    return SyncResult(stats, infos, pending_loaded, time.monotonic() - started, tables)


@dataclass
class Runs:
    """The pipeline runs of one sync, each one load package."""

    pipeline: dlt.Pipeline
    source: Any
    stats: RunStats
    loader_format: str | None
    infos: list[LoadInfo] = field(default_factory=list)

    def until_read(self, tables: Sequence[str], refresh: str | None = None) -> None:
        """Run the tables; while some read stopped at its page budget (a large backfill,
        loaded in chunks so that a kill loses at most one), run those again, until every
        read is complete or the daily quota is spent. Tables are dropped (refresh) once."""
        while tables:
            self.stats.paused.clear()
            part = self.source.clone().with_resources(*tables)
            self.infos.append(
                self.pipeline.run(part, loader_file_format=self.loader_format, refresh=refresh)
            )
            refresh = None
            if self.stats.quota_stop:
                return
            tables = sorted(self.stats.paused)
            self.stats.chunks += len(tables) > 0


def check_ids(
    run: Runs,
    client: InsightlyClient,
    entities: Sequence[Any],
    settings: PacingSettings,
    first_sync: set[str],
    start_date: str | None = None,
) -> None:
    """The id checks that are due (deletes.py), delete counting for the other tables
    (delete_count.py), then a run loading what they fetched."""
    stats = run.stats
    counter = delete_counter(run.pipeline, client, start_date, stats.began, settings.hard_deletes)
    report = reconcile(
        run.pipeline,
        client,
        entities,
        cadence_hours=settings.delete_check_hours,
        hard=settings.hard_deletes,
        first_sync=first_sync,
        count=counter,
    )
    stats.deleted = report.found
    stats.fetched = {t: len(records) for t, records in report.fetched.items()}
    stats.rewound = dict(report.rewind)
    stats.checks_pending = report.pending
    if report.quota_stop:
        stats.stop_for_quota(report.pending[0], report.quota_stop)
    reload = sorted(set(report.fetched) | set(report.rewind))
    if reload:
        stats.refetch.update(report.fetched)
        stats.rewind.update(report.rewind)
        run.until_read(reload)
    report.commit()
