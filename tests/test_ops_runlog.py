"""The run log and `insightly status`, as a scheduler's runs leave them: one row per run
with its exit code, the pending backfill after a quota stop, a run refused by the lock kept
in the pipelines directory and appended by the next run, and progress lines in a log."""

from __future__ import annotations

import re

import duckdb
import httpx
from filelock import FileLock

from insightly.cli import main
from tests.conftest import API_KEY
from tests.test_sync_cli import run_cli

CONTROL = re.compile(r"\x1b|\r")  # escape sequences and carriage returns: none in a log


def _runs(database) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(
            "select run_id, command, exit_code, requests, responses_429, quota_remaining "
            "from insightly._insightly_runs order by started_at"
        ).fetchall()


def _run_tables(database, run_id: str) -> dict[str, tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "select table_name, rows, requests, skipped_reason, backfill_pages_left, "
            "id_check_pages_left, read_complete from insightly._insightly_run_tables "
            "where run_id = ?",
            [run_id],
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def _status(tmp_path, monkeypatch, capsys) -> str:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "cli.duckdb"))
    capsys.readouterr()
    assert main(["status", "--pipelines-dir", str(tmp_path / "pipelines")]) == 0
    return capsys.readouterr().out


def test_run_log_status_and_a_run_refused_by_the_lock(
    emulator_factory, tmp_path, monkeypatch, capsys
):
    emu = emulator_factory(seed=31, sizes={"Contacts": 2000}, daily_limit=4)
    env = {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emu.base_url,
        "SOURCES__INSIGHTLY__QUOTA_RESERVE": "0",
    }
    args = ("--entities", "contacts", "--no-models")
    database = tmp_path / "cli.duckdb"

    stopped = run_cli(tmp_path, env, *args)  # 3 of the 4 pages, then the daily quota
    assert stopped.returncode == 75, stopped.stderr
    # no TTY: progress is plain lines, with no control codes anywhere in the output
    assert re.search(r"progress contacts: \d+/4 pages, 1,500 rows", stopped.stderr)
    assert not CONTROL.search(stopped.stdout + stopped.stderr)
    [first] = _runs(database)
    # 3 pages and the custom objects' list, then the quota (its reserve) stopped it
    assert first[1:] == ("sync", 75, 4, 0, 0)
    contacts = _run_tables(database, first[0])["contacts"]
    assert contacts == (1500, 3, None, 1, None, False)  # 1 page left, not complete

    status = _status(tmp_path, monkeypatch, capsys)
    assert "contacts: backfill, 1,500 of ~2,000 records read, 1 page left" in status
    assert re.search(r"\n\S+ \S+\s+sync\s+-\s+75\s", status)
    assert "4 requests in 1 run; 0 left after the newest run" in status

    # another sync holds the lock: this run can't touch the warehouse, its row is kept
    with FileLock(str(tmp_path / "pipelines" / "insightly.sync.lock")):
        refused = run_cli(tmp_path, env, *args)
    assert refused.returncode == 7
    assert len(_runs(database)) == 1
    kept = list((tmp_path / "pipelines" / "insightly.runlog").glob("*.json"))
    assert len(kept) == 1
    status = _status(tmp_path, monkeypatch, capsys)
    assert re.search(r"sync\s+-\s+7\s.*not in the warehouse yet", status)

    assert httpx.post(emu.url + "/_emulator/quota").json()["used"] == 0  # a new quota day
    emu.configure(daily_limit=100_000)  # with room for the rest and the id check it forces
    done = run_cli(tmp_path, env, *args)
    assert done.returncode == 0, done.stderr
    runs = _runs(database)
    assert [r[2] for r in runs] == [75, 7, 0]  # the refused run appended by the next one
    assert runs[1][0] == kept[0].stem and runs[1][3] == 0  # its own id; sent no request
    assert not list((tmp_path / "pipelines" / "insightly.runlog").glob("*.json"))
    assert _run_tables(database, runs[2][0])["contacts"][-1] is True

    status = _status(tmp_path, monkeypatch, capsys)
    assert "Pending backfills and id checks: none" in status
    assert "not in the warehouse yet" not in status
    freshness = next(line for line in status.splitlines() if line.startswith("contacts "))
    assert "never" not in freshness  # newest DATE_UPDATED_UTC and a complete read
