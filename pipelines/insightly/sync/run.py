"""One sync run: build the pipeline, finish any pending load, extract, load, summarise."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
from dlt.common.pipeline import LoadInfo

from insightly.api.client import InsightlyClient
from insightly.api.connection import Connection
from insightly.api.stamps import parse_utc
from insightly.catalogue.entities import (
    CUSTOM_FIELDS,
    CUSTOM_OBJECTS,
    ENTITIES,
    PER_RECORD,
    TAGS,
    Entity,
    Load,
)
from insightly.config import (
    STATE_HISTORY,
    Settings,
    client_for,
    connection_of,
    load_settings,
)
from insightly.deletes.check import discard_checks, reconcile
from insightly.deletes.count import delete_counter
from insightly.errors import ConfigurationError
from insightly.history.store import (
    VersionsBehind,
    begin_history,
    end_history,
    remember_runs,
    tables_of,
)
from insightly.history.versions import History, parse_entities
from insightly.read.endpoints import Endpoints, endpoints_file
from insightly.read.opportunity_states import sync_state_history
from insightly.read.pages import REFRESHED_STATE
from insightly.read.source import insightly_source
from insightly.read.walk import resource_state
from insightly.stats import RunStats
from insightly.sync.pipeline import (
    SyncOptions,
    all_cores,
    exclusive,
    file_format,
    finish_normalize_commit,
    make_pipeline,
)
from insightly.warehouse.held import HeldOpen
from insightly.warehouse.integrity import repair_exact_copies
from insightly.warehouse.introspect import tables_in
from insightly.warehouse.migrate import migrate_child_tables


@dataclass
class SyncResult:
    """What a sync did: the run summary's numbers and dlt's load info."""

    stats: RunStats
    load_info: list[LoadInfo]
    pending_loaded: bool
    seconds: float
    tables: list[str]


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
    that are due run with what is left of the quota (deletes/check.py).
    """
    started = time.monotonic()
    settings = load_settings()  # once per run: every part below gets this object
    # checked before the lock and any request: a typo never sends the key anywhere
    connection = connection_of(settings, options.api_key, options.pod, options.base_url)
    pipeline = make_pipeline(options)
    with ExitStack() as stack:
        if not options.lock_held:
            stack.enter_context(exclusive(pipeline, options.wait))
        # the many short connections of a run share one DuckDB instance (warehouse/held.py)
        kept_open = stack.enter_context(HeldOpen(pipeline))
        return _sync_locked(options, pipeline, settings, connection, started, kept_open)


def _sync_locked(
    options: SyncOptions,
    pipeline: dlt.Pipeline,
    settings: Settings,
    connection: Connection,
    started: float,
    kept_open: HeldOpen,
) -> SyncResult:
    stats = options.stats or RunStats()
    loader_format = file_format(options.destination)
    pending_loaded = False
    finish_normalize_commit(pipeline)
    if pipeline.has_pending_data:
        # A previous run extracted but did not load: load that first, then extract anew.
        pipeline.run(loader_file_format=loader_format)
        pending_loaded = True
    # A warehouse of the earlier, dlt-nested layout moves to parent-keyed child tables.
    pipeline.sync_destination()
    migrate_child_tables(pipeline)
    cadence = settings.cadence_hours
    client_options: dict[str, Any] = {
        "page_concurrency": settings.in_flight,
        "pages_per_run": settings.pages_per_run,
        **options.client_options,
    }
    infos: list[LoadInfo] = []
    endpoints = Endpoints(
        endpoints_file(pipeline.pipelines_dir, pipeline.pipeline_name), settings.cadence_hours
    )
    with client_for(settings, connection, stats, **client_options) as client:
        overrides = {"start_date": options.start_date} if options.start_date else {}
        source = insightly_source(
            api_key=connection.api_key,
            base_url=connection.base_url,
            client=client,
            settings=settings,
            endpoints=endpoints,
            **overrides,
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
        history = History(stats.sync, parse_entities(settings.history_entities))
        kept = [e for t, e in stats.incremental.items() if t in tables and history.covers(e)]
        begin_history(pipeline, stats, kept, options)
        if options.full_refresh:
            discard_checks(pipeline, tables)
        loaded = set() if options.full_refresh else _warehouse_tables(pipeline)
        first_sync = {t for t in tables if t not in loaded}
        run = Runs(pipeline, source, stats, loader_format, kept_open, kept)
        activity = {p.table for p in PER_RECORD}  # read off the parents loaded before it
        for phase in (
            [t for t in tables if t in full and t not in held],
            [t for t in tables if t not in full and t not in activity],
            [t for t in tables if t in activity],
        ):
            if phase and not stats.quota_stop:
                run.until_read(phase, refresh)
        end_history(pipeline, kept)  # history a full refresh held aside goes back
        all_cores(pipeline)
        if run.infos or pending_loaded:
            stats.repaired = repair_exact_copies(pipeline, tables)
        if not stats.quota_stop:
            if options.check_deletes:
                settings = replace(settings, delete_check_hours=0)
            checked = [e for t, e in stats.incremental.items() if t in tables]
            check_ids(run, client, checked, settings, first_sync, options.start_date)
        if not stats.quota_stop and settings.activity.reads(STATE_HISTORY):
            run.infos += state_history(run, client, tables, settings, endpoints)
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
    kept_open: HeldOpen | None = None
    history: Sequence[Entity] = ()  # the entities whose loads become versions
    infos: list[LoadInfo] = field(default_factory=list)
    versions: VersionsBehind = field(default_factory=VersionsBehind)

    def until_read(self, tables: Sequence[str], refresh: str | None = None) -> None:
        """Run the tables; while some read stopped at its page budget (a large backfill,
        loaded in chunks so that a kill loses at most one), run those again, until every
        read is complete or the daily quota is spent. Tables are dropped (refresh) once.
        Each load's versions are made while the next chunk is read (history/store.py)."""
        try:
            while tables:
                self.stats.paused.clear()
                part = self.source.clone().with_resources(*tables)
                self.infos.append(self._run(part, refresh))
                loaded = tables_of(self.infos[-1])
                kept = [e for e in self.history if e.table in loaded]
                self.versions.start(self.pipeline, kept, self.stats.sync)  # history/made.py
                refresh = None
                if self.stats.quota_stop:
                    break
                tables = sorted(self.stats.paused)
                self.stats.chunks += len(tables) > 0
        except BaseException:
            self.versions.wait(raise_error=False)  # the first error is the one to report
            raise
        self.versions.wait()

    def _run(self, part: Any, refresh: str | None) -> LoadInfo:
        """What `pipeline.run` does, step by step: the warehouse is let go while the run
        extracts and normalizes (warehouse/held.py), the normalize workers fit the rows
        read, and the destination is not synced again (run_sync did it once)."""
        rows = sum(self.stats.rows.values())
        if self.kept_open is not None:
            self.kept_open.release()
        self.pipeline.extract(part, loader_file_format=self.loader_format, refresh=refresh)
        remember_runs(self.pipeline, self.stats.sync)  # before the load (history/store.py)
        self.pipeline.normalize(workers=normalize_workers(sum(self.stats.rows.values()) - rows))
        self.versions.wait()  # the last load's versions, before this one loads
        if self.kept_open is not None:
            self.kept_open.hold()
        return self.pipeline.load()


# dlt writes a table's extracted rows to one file up to [*.data_writer] file_max_items
# (100,000, .dlt/config.toml): below that a second normalize worker could take only other
# tables, and starting a worker process (spawn, importing dlt) costs about a second.
PARALLEL_NORMALIZE_ROWS = 100_000
NORMALIZE_WORKERS = 2  # +25% on a 300,000-contact load on 2 cores


def normalize_workers(rows: int) -> int:
    """Normalize processes for a run that read `rows` records: NORMALIZE_WORKERS for a large
    read, 1 (in this process) for a small one. `[normalize] workers` in the config (or
    NORMALIZE__WORKERS) takes precedence, as any dlt setting does."""
    return NORMALIZE_WORKERS if rows >= PARALLEL_NORMALIZE_ROWS else 1


def check_ids(
    run: Runs,
    client: InsightlyClient,
    entities: Sequence[Any],
    settings: Settings,
    first_sync: set[str],
    start_date: str | None = None,
) -> None:
    """The id checks that are due (deletes/check.py), delete counting for the other tables
    (deletes/count.py), then a run loading what they fetched."""
    stats = run.stats
    counter = delete_counter(
        run.pipeline,
        client,
        start_date,
        stats.began,
        settings.hard_deletes,
        settings.delete_count,
    )
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


def state_history(
    run: Runs,
    client: InsightlyClient,
    tables: Sequence[str],
    settings: Settings,
    endpoints: Endpoints,
) -> list[LoadInfo]:
    """StateHistory of the opportunities whose state changed (and its backfill), within
    its per-sync budget and the per-record reads' share of today's quota."""
    budget, share = settings.state_history_requests, settings.activity.quota_share
    with endpoints.share(client.stats, STATE_HISTORY, budget, share) as budget:
        info = sync_state_history(
            run.pipeline, client, list(tables), run.loader_format, budget, endpoints
        )
    return [info] if info is not None else []
