"""Shared by the tenant tests (test_sync_tenants*.py, test_sync_tenant_gaps.py): the CLI
run as a user runs it against one emulator tenant and one warehouse file, and the request
counts the tests bound."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import duckdb

from insightly.catalogue.entities import ENTITIES, Load
from insightly.cli import main
from tests.conftest import API_KEY

PER_RECORD_PATHS = ("/comments", "/fileattachments", "/statehistory")


def api_requests(emu) -> list:
    return [r for r in emu.requests if not r.path.startswith("/_emulator")]


def per_record(requests) -> list:
    return [r for r in requests if r.path.lower().endswith(PER_RECORD_PATHS)]


class Steps:
    """The CLI against one emulator and one warehouse file, as a user runs it."""

    def __init__(self, emu, root: Path, monkeypatch, capsys) -> None:
        self.emu, self.root, self.capsys = emu, root, capsys
        self.database = root / "insightly_crm.duckdb"
        monkeypatch.chdir(root)
        monkeypatch.setenv("SOURCES__INSIGHTLY__API_KEY", API_KEY)
        monkeypatch.setenv("SOURCES__INSIGHTLY__BASE_URL", emu.base_url)
        monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(self.database))
        self.pipelines = ["--pipelines-dir", str(root / "pipelines")]

    def run(self, *argv: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        # each command's logging.basicConfig writes to this command's captured stderr
        for handler in logging.root.handlers[:]:
            logging.root.removeHandler(handler)
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return code, out, err

    def sync(self) -> tuple[int, list]:
        self.emu.clear_requests()
        code, out, err = self.run("sync", *self.pipelines, "--progress", "off")
        assert code == 0, out + err
        return code, api_requests(self.emu)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.database), read_only=True) as con:
            return con.execute(sql).fetchall()


def list_minimum(emu) -> int:
    """Σ ceil(n/500) over every collection the tenant serves: a page even when empty."""
    return sum(max(1, math.ceil(emu.tenant.count(e) / 500)) for e in emu.tenant.entities())


def incremental_tables(steps: Steps) -> int:
    custom = steps.query(
        "select count(*) from information_schema.tables where table_schema = 'insightly' "
        "and table_name like 'custom\\_%' escape '\\' and table_name not like '%\\_\\_%' "
        "escape '\\' and table_name not in ('custom_fields', 'custom_objects')"
    )[0][0]
    return sum(e.load is Load.INCREMENTAL for e in ENTITIES) + custom
