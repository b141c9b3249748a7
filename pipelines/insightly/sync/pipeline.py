"""The pipeline a sync (or a push, or the models) opens: its name, dataset and DuckDB
file, dlt's DuckDB destination with our memory defaults, and the lock that lets one run
at a time work on it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from filelock import FileLock, Timeout

from insightly.errors import SyncAlreadyRunning
from insightly.stats import RunStats
from insightly.warehouse.destination import ResolvedOnce

PIPELINE_NAME = "insightly"
DATASET_NAME = "insightly"


@dataclass
class SyncOptions:
    """What `insightly sync` was asked to do."""

    destination: str = "duckdb"
    dataset: str = DATASET_NAME
    pipeline_name: str = PIPELINE_NAME
    entities: Sequence[str] | None = None
    full_refresh: bool = False
    drop_history: bool = False  # drop the versions tables first (history/store.py)
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
    makes every unqualified reference ambiguous (the load failed with a Binder Error).
    Ours are absolute: dlt resolves a relative path against the directory the pipeline was
    first run from (kept in its state), not the current one."""
    if options.duckdb_file:
        return os.path.abspath(options.duckdb_file)
    if os.environ.get("DESTINATION__DUCKDB__CREDENTIALS"):
        return None
    configured = dlt.secrets.get("destination.duckdb.credentials")
    if isinstance(configured, str) or (isinstance(configured, dict) and configured.get("database")):
        return None
    return os.path.abspath(DEFAULT_DUCKDB_FILE)


DUCKDB_MEMORY_MIB = 400


def default_memory_limit() -> str:
    """DuckDB's memory_limit unless configured: the smaller of 400 MiB and an eighth of the
    machine's memory (or of the cgroup's limit, in a container). DuckDB's own default, 80%
    of RAM, held 4.9 GB after a 1M-contact merge; 768MB held 1.24 GB with 2% more time.
    400 and not 512 since the page worker (page_workers) takes about 100 MB beside it: a
    1M-contact sync peaked at 1,016 MB PSS with 512 MiB, 917 MB with 400, as fast."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        cgroup = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if cgroup.isdigit():
            total = min(total, int(cgroup))
    except OSError:
        pass
    return f"{max(64, min(DUCKDB_MEMORY_MIB, total // 8 // 2**20))}MiB"


def default_threads() -> int:
    """DuckDB's threads unless configured: one core fewer than the machine has (at least
    one). The versions are made while the next chunk is read, and that read needs a core
    for the sync's thread and one for the page worker; with DuckDB on both cores of a
    2-core machine a 1M-contact sync took 88.8 s (one run), with one 83.8-85.9 s (four
    runs), the loads as fast (1.2-1.3 s a chunk of 83,500 contacts)."""
    return max(1, (os.cpu_count() or 1) - 1)


def all_cores(pipeline: dlt.Pipeline) -> None:
    """The reads are over: DuckDB takes every core for what is left of the sync (the
    integrity check, the id checks), unless `threads` is configured. Its distinct count over
    the 17M custom field rows of 1M contacts: 1.7 s on one thread, 0.7 s on two. The held
    connection (warehouse/held.py) keeps the database, and the setting, open to the end."""
    cores = os.cpu_count() or 1
    if not getattr(pipeline.destination, "threads_defaulted", False) or cores <= default_threads():
        return
    with pipeline.sql_client() as sql:
        sql.execute_sql(f"SET threads = {cores}")


class DuckDbWithMemoryLimit(ResolvedOnce, dlt.destinations.duckdb):  # warehouse/destination.py
    """dlt's duckdb destination, whose resolved credentials get `default_memory_limit()`,
    `default_threads()` and `preserve_insertion_order = false` unless `global_config` sets
    them. Config files can't
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
                "threads": default_threads(),
            }
            self.threads_defaulted = "threads" not in keys  # all_cores may change them
            defaults = {k: v for k, v in defaults.items() if k not in keys}
            credentials.global_config = {**defaults, **configured}
        return config


def file_format(destination: str) -> str | None:
    """Parquet where the destination loads it fast (DuckDB is ~5x faster than inserts)."""
    return "parquet" if destination in ("duckdb", "motherduck", "bigquery") else None


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


def finish_normalize_commit(pipeline: dlt.Pipeline) -> list[str]:
    """Complete a normalize step a kill cut in its commit, as dlt 1.31 would have.

    dlt commits a normalized package by renaming it into the load storage and then deleting
    the extracted one (normalize.py, "Committing storage, do not kill this process"). A
    SIGKILL between the two leaves both; the next run normalizes the extracted copy again
    and fails on the rename ("Directory not empty"), every run after it too. The renamed
    package is complete (a rename is atomic), so the extracted copy is what dlt would have
    deleted next. Returns the load ids cleaned up."""
    extracted = set(pipeline.list_extracted_load_packages())
    done = set(pipeline.list_normalized_load_packages())
    done |= set(pipeline.list_completed_load_packages())
    leftovers = sorted(extracted & done)
    storage = pipeline._get_normalize_storage()  # no public call deletes an extracted package
    for load_id in leftovers:
        storage.extracted_packages.delete_package(load_id)
    return leftovers
