"""Shared fixtures: a running emulator and a sync that loads a real DuckDB file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from insightly.sync.pipeline import SyncOptions
from insightly.sync.run import SyncResult, run_sync
from insightly_emulator import Emulator, EmulatorConfig

API_KEY = "test-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
FAST_RETRIES = {"backoff_initial": 0.01, "backoff_max": 0.05, "max_attempts": 4}


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Emulator]]:
    started: list[Emulator] = []

    def start(**switches) -> Emulator:
        config = EmulatorConfig(**{"seed": 7, "profile": "test", "api_key": API_KEY, **switches})
        emu = Emulator(config)
        emu.__enter__()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.__exit__(None, None, None)


@pytest.fixture
def emulator(emulator_factory) -> Emulator:
    return emulator_factory()


class Warehouse:
    """A pipeline's DuckDB file plus the way to sync into it."""

    def __init__(self, root: Path, base_url: str, api_key: str = API_KEY) -> None:
        self.path = root / "warehouse.duckdb"
        self.pipelines_dir = str(root / "pipelines")
        self.base_url = base_url
        self.api_key = api_key

    def sync(self, **overrides) -> SyncResult:
        options = SyncOptions(
            pipelines_dir=self.pipelines_dir,
            api_key=self.api_key,
            base_url=self.base_url,
            client_options=dict(FAST_RETRIES),
            **overrides,
        )
        return run_sync(options)

    def query(self, sql: str, *params) -> list[tuple]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            schemas = con.execute("select schema_name from information_schema.schemata").fetchall()
            if ("insightly",) in schemas:
                con.execute("SET search_path = 'insightly'")
            return con.execute(sql, list(params)).fetchall()

    def tables(self) -> set[str]:
        rows = self.query(
            "select table_name from information_schema.tables where table_schema = 'insightly'"
        )
        return {r[0] for r in rows}

    def columns(self, table: str) -> list[str]:
        rows = self.query(
            "select column_name from information_schema.columns "
            "where table_schema = 'insightly' and table_name = ? order by ordinal_position",
            table,
        )
        return [r[0] for r in rows]


@pytest.fixture
def warehouse(tmp_path, emulator, monkeypatch) -> Warehouse:
    wh = Warehouse(tmp_path, emulator.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
    # The emulator has no per-second limit unless a test switches it on; pacing has its own tests.
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__MAX_IN_FLIGHT", "6")
    return wh


@contextmanager
def demo_tenant_synced(root: Path) -> Iterator[tuple[Emulator, Warehouse]]:
    """The emulator's seed-7 test tenant fully synced into a DuckDB under `root`."""
    config = EmulatorConfig(seed=7, profile="test", api_key=API_KEY)
    with Emulator(config) as emu, pytest.MonkeyPatch.context() as mp:
        wh = Warehouse(root, emu.base_url)
        mp.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
        mp.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
        wh.sync()
        yield emu, wh
