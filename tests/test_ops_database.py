"""One way to say which warehouse: every command that reads or writes the DuckDB file takes
`--database FILE` (sync, status, report, changes, models, dbt-sources, push, query), none
creates an empty one, and `--database` with `--all` is refused (each account keeps its own
file). Run as a user would: the `insightly` command in a directory of its own, with no
DESTINATION__DUCKDB__CREDENTIALS, so only the flag can name the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from insightly_emulator import Emulator, EmulatorConfig
from tests.conftest import API_KEY

ENTITIES = "contacts,custom_fields,users"


def _insightly(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("insightly")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "insightly.cli"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """One sync into `crm/warehouse.duckdb`, named only by --database, from a directory
    with no configuration; the pipelines directory of its own."""
    root = tmp_path_factory.mktemp("database")
    config = EmulatorConfig(seed=5, profile="tiny", api_key=API_KEY, sizes={"Contacts": 40})
    with Emulator(config) as emu:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DESTINATION__", "SOURCES__"))
        }
        env |= {
            "SOURCES__INSIGHTLY__API_KEY": API_KEY,
            "SOURCES__INSIGHTLY__BASE_URL": emu.base_url,
            "SOURCES__INSIGHTLY__RATE_PER_S": "500",
        }
        (root / "crm").mkdir()
        flags = ["--database", "crm/warehouse.duckdb", "--pipelines-dir", str(root / "p")]
        ran = _insightly(root, env, "sync", "--entities", ENTITIES, *flags)
        assert ran.returncode == 0, ran.stderr
        yield root, env, flags


def test_sync_loads_the_named_file_and_no_other(synced):
    root, _, _ = synced
    assert (root / "crm" / "warehouse.duckdb").exists()
    assert not (root / "insightly_crm.duckdb").exists()
    with duckdb.connect(str(root / "crm" / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from insightly.contacts").fetchone()[0] == 40
        assert con.execute("select count(*) from insightly_stg.contacts").fetchone()[0] == 40


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["report", "--out", "page.html"],
        ["changes", "--since", "2000-01-01", "--entity", "contacts"],
        ["models"],
        ["dbt-sources", "--out", "sources.yml"],
        ["query", "select count(*) as n from contacts"],
    ],
    ids=lambda c: c[0],
)
def test_each_command_reads_the_file_database_names(synced, command):
    root, env, flags = synced
    query = command[0] == "query"
    args = [*command, *(flags[:2] if query else flags)]
    ran = _insightly(root, env, *args)
    assert ran.returncode == 0, ran.stderr
    assert "Traceback" not in ran.stderr
    assert not (root / "insightly_crm.duckdb").exists()  # the default file is never made
    if command[0] == "status":
        assert "contacts" in ran.stdout and "none loaded yet" not in ran.stdout
    if command[0] == "changes":
        assert ran.stdout.count(" created") == 40
    if command[0] == "query":
        assert ran.stdout.split()[-3:-1] == ["40", "(1"]
    if command[0] == "dbt-sources":
        assert "name: contacts" in (root / "sources.yml").read_text()


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["report"],
        ["changes", "--since", "1h"],
        ["models"],
        ["dbt-sources"],
        ["query", "select 1"],
        ["push", "--object", "contacts", "--from", "analytics.x", "--dry-run"],
    ],
    ids=lambda c: c[0],
)
def test_a_missing_file_is_one_line_and_no_file_is_made(synced, tmp_path, command):
    _, env, _ = synced
    # a pipelines directory of its own: the default one may hold other runs, which status shows
    pipelines = ["--pipelines-dir", str(tmp_path / "p")]
    ran = _insightly(tmp_path, env, *command, "--database", "none.duckdb", *pipelines)
    assert ran.returncode == 2, ran.stderr
    assert "Traceback" not in ran.stderr
    assert len(ran.stderr.strip().splitlines()) == 1
    assert "none.duckdb" in ran.stderr and "insightly sync" in ran.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".duckdb", ".wal")) == []


def test_database_with_all_accounts_is_refused(synced, tmp_path):
    _, env, _ = synced
    ran = _insightly(tmp_path, env, "sync", "--all", "--database", "x.duckdb")
    assert ran.returncode == 2
    assert "each account keeps its own" in ran.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_database_with_another_destination_is_refused(synced, tmp_path):
    _, env, _ = synced
    ran = _insightly(tmp_path, env, "status", "--destination", "postgres", "--database", "x")
    assert ran.returncode == 2
    assert "DESTINATION__POSTGRES__CREDENTIALS" in ran.stderr


def test_query_write_creates_a_view_under_the_lock(synced):
    root, env, flags = synced
    database = flags[:2]
    refused = _insightly(root, env, "query", "create schema mine", *database)
    assert refused.returncode == 2 and "read-only" in refused.stderr.lower()
    sql = "create schema if not exists mine; create or replace view mine.few as select 1 as x"
    ran = _insightly(root, env, "query", "--write", sql, *database, "--pipelines-dir", flags[3])
    assert ran.returncode == 0, ran.stderr
    back = _insightly(root, env, "query", "select x from mine.few", *database)
    assert back.returncode == 0 and back.stdout.split()[:3] == ["x", "-", "1"]
