"""What a new user met on `query`, `changes`, `models` and the other commands that read the
warehouse: a closed pipe ends the command quietly (exit 141, no traceback); empty SQL is
one line and exit 2, several statements each print their answer; `changes` says when
nothing changed, refuses an entity without history and gives `changed_fields` as a JSON
list; and no command creates an empty warehouse file before the first sync."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from insightly.cli import PIPE_CLOSED, main
from insightly.models import build_models
from insightly.ops.changes import split_fields
from insightly_emulator import Emulator, EmulatorConfig
from tests.conftest import API_KEY, Warehouse

ENTITIES = ["contacts", "custom_fields"]
DEFAULT_FILE = "insightly_crm.duckdb"


def _command() -> list[str]:
    """The installed `insightly` beside this Python (.venv/bin/insightly), else -m."""
    script = Path(sys.executable).with_name("insightly")
    return [str(script)] if script.exists() else [sys.executable, "-m", "insightly.cli"]


@pytest.fixture
def empty_db(tmp_path) -> Path:
    path = tmp_path / "f.duckdb"
    duckdb.connect(str(path)).close()
    return path


@pytest.fixture(scope="module")
def changed(tmp_path_factory):
    """Contacts synced twice, one of them renamed in between; the models built."""
    root = tmp_path_factory.mktemp("changes")
    config = EmulatorConfig(seed=7, profile="tiny", api_key=API_KEY, sizes={"Contacts": 60})
    with Emulator(config) as emu, pytest.MonkeyPatch.context() as mp:
        wh = Warehouse(root, emu.base_url)
        mp.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(wh.path))
        mp.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
        wh.sync(entities=ENTITIES)
        renamed = emu.tenant.records("Contacts")[0]["CONTACT_ID"]
        emu.tenant.update("Contacts", renamed, {"TITLE": "Renamed, once"})
        wh.sync(entities=ENTITIES)
        with duckdb.connect(str(wh.path)) as con:
            build_models(con, "insightly", "duckdb")
        yield wh, renamed


def _changes(wh: Warehouse, *args: str) -> int:
    return main(["changes", *args, "--pipelines-dir", wh.pipelines_dir])


# ----------------------------------------------------------------- 1. a closed pipe
def test_query_into_a_closed_pipe_stops_quietly(empty_db):
    command = shlex.join([*_command(), "query", "select * from range(100000)"])
    command += f" --database {shlex.quote(str(empty_db))} --max-rows 0"
    ran = subprocess.run(
        ["bash", "-c", f'{command} | head -2; echo "exit=${{PIPESTATUS[0]}}"'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.stdout.splitlines() == ["range", "-----", f"exit={PIPE_CLOSED}"]
    assert "Traceback" not in ran.stderr and "BrokenPipeError" not in ran.stderr
    assert ran.stderr == ""


def test_changes_into_a_closed_pipe_stops_quietly(changed):
    wh, _ = changed
    env = {**os.environ, "DESTINATION__DUCKDB__CREDENTIALS": str(wh.path)}
    args = ["changes", "--since", "2000-01-01", "--json", "--pipelines-dir", wh.pipelines_dir]
    process = subprocess.Popen(
        [*_command(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()  # the reader is gone before the first line (`| head -0`)
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == PIPE_CLOSED, stderr
    assert "Traceback" not in stderr and stderr == ""


# ----------------------------------------------------------------- 2. query's SQL
@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment", ";"])
def test_query_without_a_statement_is_one_line_and_exit_2(empty_db, capsys, sql):
    assert main(["query", sql, "--database", str(empty_db)]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err.startswith("insightly: no SQL statement to run") and said.err.count("\n") == 1


def test_query_prints_the_answer_of_each_statement_in_order(empty_db, capsys):
    sql = "select 1 as a; set threads = 2; select 'x' as b"
    assert main(["query", sql, "--database", str(empty_db)]) == 0
    blocks = capsys.readouterr().out.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == ["a", "Success", "b"]
    assert blocks[0].splitlines()[2:] == ["1", "(1 row)"]
    assert blocks[2].splitlines()[2:] == ["x", "(1 row)"]


def test_query_stops_at_the_statement_duckdb_refuses(empty_db, capsys):
    sql = "select 1 as a; select * from nowhere; select 3 as c"
    assert main(["query", sql, "--database", str(empty_db)]) == 2
    said = capsys.readouterr()
    assert said.out.splitlines()[0] == "a" and "c" not in said.out.split()
    assert said.err.count("\n") == 1 and "Table with name nowhere" in said.err


# ----------------------------------------------------------------- 3. changes
def test_changes_says_so_when_nothing_changed(changed, capsys):
    assert _changes(changed[0], "--since", "2999-01-01") == 0
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err == "no changes since 2999-01-01 00:00:00 UTC\n"


def test_changes_refuses_an_entity_without_history(changed, capsys):
    assert _changes(changed[0], "--since", "1d", "--entity", "contact") == 2
    said = capsys.readouterr()
    assert said.out == "" and said.err.count("\n") == 1
    assert "'contact' has no history (did you mean contacts?)" in said.err
    assert said.err.rstrip().endswith("tables with history: contacts")


def test_changes_json_gives_changed_fields_as_a_list(changed, capsys):
    wh, renamed = changed
    assert _changes(wh, "--since", "2000-01-01", "--entity", "contacts", "--json") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(events) > 60
    assert all(isinstance(e["changed_fields"], list) for e in events)
    (update,) = [e for e in events if e["change"] == "updated"]
    assert update["record_id"] == renamed and "title" in update["changed_fields"]
    assert all(e["changed_fields"] == [] for e in events if e["change"] == "created")
    # the lines keep their form: `[title, ...]`
    assert _changes(wh, "--since", "2000-01-01", "--entity", "contacts") == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if f" {renamed} updated" in x]
    assert len(lines) == 1 and lines[0].endswith("]") and "[" in lines[0]


def test_split_fields_keeps_a_label_holding_a_comma_whole():
    assert split_fields(None) == [] and split_fields("") == []
    assert split_fields("title, Size, in cm, tags", {"Size, in cm"}) == [
        "title",
        "Size, in cm",
        "tags",
    ]
    assert split_fields("a, b") == ["a", "b"]


# ----------------------------------------------------------------- 4. no warehouse yet
@pytest.mark.parametrize(
    "command,code",
    [
        (["changes", "--since", "1d"], 2),
        (["models"], 2),
        (["query", "select 1"], 2),
        (["dbt-sources", "--out", "sources.yml"], 2),
        (["report", "--out", "r.html"], 2),
        (["status"], 2),  # nothing in the pipelines directory either: one line, exit 2
    ],
)
def test_before_the_first_sync_commands_say_so_and_create_no_file(
    tmp_path, monkeypatch, capsys, command, code
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DESTINATION__DUCKDB__CREDENTIALS", raising=False)
    pipelines = [] if command[0] == "query" else ["--pipelines-dir", str(tmp_path / "p")]
    assert main([*command, *pipelines]) == code
    said = capsys.readouterr()
    assert "no DuckDB file at " in said.out + said.err
    assert "run `insightly sync` first" in said.out + said.err
    if code:
        assert said.out == "" and said.err.count("\n") == 1
    assert not (tmp_path / DEFAULT_FILE).exists()
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "sources.yml").exists()


@pytest.mark.parametrize("command", [["report", "--out", "r.html"], ["models"], ["changes"]])
def test_an_empty_file_an_older_version_left_is_no_warehouse(
    tmp_path, monkeypatch, capsys, command
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DESTINATION__DUCKDB__CREDENTIALS", raising=False)
    duckdb.connect(DEFAULT_FILE).close()
    since = ["--since", "1d"] if command == ["changes"] else []
    assert main([*command, *since, "--pipelines-dir", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert "holds no dataset 'insightly': run `insightly sync` first" in err
    assert not (tmp_path / "r.html").exists()


def test_a_broken_pipe_elsewhere_is_not_taken_for_the_reader_gone(monkeypatch, capfd):
    """Only a closed stdout ends quietly: EPIPE from a socket or another pipe is a failure."""

    def broken(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("insightly.cli.ops.run_queries", broken)
    with pytest.raises(BrokenPipeError):
        main(["query", "select 1"])
