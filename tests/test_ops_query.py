"""`insightly query`: the warehouse answers from the command line, read-only, as a text table."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from insightly.cli import main
from insightly.ops.query import render_table
from insightly_emulator.demo import query_hint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def synced(warehouse):
    warehouse.sync(entities=["contacts"])
    return warehouse


def test_query_prints_an_aligned_table_from_the_sync_database(synced, capsys):
    # no --database: the file DESTINATION__DUCKDB__CREDENTIALS names, as for the sync
    sql = "select contact_id, first_name from contacts order by contact_id limit 5"
    assert main(["query", sql]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = synced.query(sql)
    assert lines[0].split() == ["contact_id", "first_name"]
    assert set(lines[1]) == {"-", " "}
    assert lines[-1] == "(5 rows)"
    assert len(lines) == 2 + 5 + 1
    for line, (contact_id, first_name) in zip(lines[2:-1], expected, strict=True):
        assert line.split(maxsplit=1) == [str(contact_id), first_name or "NULL"]
    # one column edge for every row: the table is aligned
    width = len(lines[1].split("  ")[0])
    assert all(line[width : width + 2] == "  " for line in lines[2:-1])


def test_query_with_database_and_row_limit(synced, capsys, monkeypatch):
    monkeypatch.delenv("DESTINATION__DUCKDB__CREDENTIALS")
    args = ["query", "--database", str(synced.path), "--max-rows", "2"]
    assert main([*args, "select count(*) as n from insightly.contacts"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].strip() == "n" and out[2].strip() == str(
        synced.query("select count(*) from contacts")[0][0]
    )
    assert main([*args, "select contact_id from contacts"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 + 2 + 1 and out[-1].startswith("(2 rows; more not shown")


@pytest.mark.parametrize(
    "sql,message",
    [
        ("selct * from contacts", 'query failed: Parser Error: syntax error at or near "selct"'),
        ("select * from contacs", "query failed: Catalog Error: Table with name contacs"),
        ("delete from contacts", "read-only mode"),
    ],
)
def test_bad_sql_is_one_line_and_exit_2(synced, capsys, sql, message):
    before = synced.query("select count(*) from contacts")
    assert main(["query", sql]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("insightly: ") and message in lines[0]
    assert captured.out == ""
    assert synced.query("select count(*) from contacts") == before


def test_missing_database_says_what_to_do(tmp_path, capsys):
    assert main(["query", "--database", str(tmp_path / "none.duckdb"), "select 1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("insightly: no DuckDB file at ") and "run `insightly sync`" in err
    assert not (tmp_path / "none.duckdb").exists()  # a read-only query creates nothing


def test_the_demo_hint_runs(synced, monkeypatch):
    monkeypatch.chdir(synced.path.parent)
    hint = query_hint(synced.path)
    assert hint.startswith(".venv/bin/insightly query --database warehouse.duckdb ")
    argv = shlex.split(hint)
    # the entry point as installed: .venv/bin/insightly is `python -m insightly.cli`
    ran = subprocess.run(
        [sys.executable, "-m", "insightly.cli", *argv[1:]], capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert "contact_id" in lines[0].split() and lines[-1] == "(5 rows)"


def test_render_table_cells():
    text = render_table(["id", "note", "amount"], [(1, "a\nb", None), (10, "x" * 80, 2.5)])
    lines = text.splitlines()
    assert lines[2] == " 1  a\\nb" + " " * 56 + "    NULL"
    assert lines[3].startswith("10  " + "x" * 57 + "...")
    assert lines[3].endswith("   2.5")
    assert lines[-1] == "(2 rows)"
