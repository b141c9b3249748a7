"""`make sync` as a new user runs it: in the project directory, with the committed .dlt/
and only the key and URL set (no destination configured). Both defaults once failed there:
dlt refused a DuckDB credentials section in config.toml, and dlt's default file
`insightly.duckdb` made DuckDB 2.0's catalog `insightly` clash with the schema `insightly`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from .conftest import API_KEY

ROOT = Path(__file__).resolve().parents[1]


def test_sync_with_the_committed_config_and_no_destination(emulator, tmp_path):
    shutil.copytree(ROOT / ".dlt", tmp_path / ".dlt")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DESTINATION__", "SOURCES__"))}
    env |= {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emulator.base_url,
    }
    insightly = str(Path(sys.executable).with_name("insightly"))
    argv = [insightly, "sync", "--entities", "contacts", "--pipelines-dir", str(tmp_path / "p")]
    ran = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert not (tmp_path / "insightly.duckdb").exists()
    with duckdb.connect(str(tmp_path / "insightly_crm.duckdb"), read_only=True) as con:
        (count,) = con.execute("select count(*) from insightly.contacts").fetchone()
    assert count == len(emulator.tenant.records("Contacts"))
    query = [insightly, "query", "select count(*) as n from contacts"]
    asked = subprocess.run(query, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert asked.returncode == 0 and str(count) in asked.stdout, asked.stderr
