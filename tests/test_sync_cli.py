"""`insightly sync` as a user runs it: exit codes, one-line errors, summary, no leaked key."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import API_KEY


def run_cli(tmp_path: Path, env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "cli.duckdb"),
            "RUNTIME__LOG_LEVEL": "INFO",
            "SOURCES__INSIGHTLY__RATE_PER_S": "500",
            **env_extra,
        }
    )
    command = [sys.executable, "-m", "insightly.cli", "sync"]
    command += ["--pipelines-dir", str(tmp_path / "pipelines"), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "env,expected",
    [
        ({}, "API key is missing: set SOURCES__INSIGHTLY__API_KEY"),
        ({"SOURCES__INSIGHTLY__API_KEY": API_KEY}, "pod is missing: set SOURCES__INSIGHTLY__POD"),
        (
            {"SOURCES__INSIGHTLY__API_KEY": API_KEY, "SOURCES__INSIGHTLY__POD": "eu1.x.com"},
            "SOURCES__INSIGHTLY__POD must be letters and digits only",
        ),
        (
            {"SOURCES__INSIGHTLY__API_KEY": API_KEY, "SOURCES__INSIGHTLY__BASE_URL": "http://x.io"},
            "plain http is only allowed for loopback",
        ),
    ],
)
def test_configuration_errors_are_one_line(tmp_path, env, expected):
    result = run_cli(tmp_path, env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]
    assert API_KEY not in result.stderr + result.stdout


def test_wrong_key_exits_3_with_advice(tmp_path, emulator):
    env = {
        "SOURCES__INSIGHTLY__API_KEY": "wrong-key-123456",
        "SOURCES__INSIGHTLY__BASE_URL": emulator.base_url,
    }
    result = run_cli(tmp_path, env)
    assert result.returncode == 3
    assert "check the API key and pod" in result.stderr.strip().splitlines()[-1]
    assert "wrong-key-123456" not in result.stderr + result.stdout


def test_sync_prints_summary_and_never_leaks_the_key(tmp_path, emulator):
    emulator.configure(
        forbidden={"Prospect": 403}, fail_next={"Contacts": [500, 503], "Leads": [429]}
    )
    env = {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emulator.base_url,
    }
    result = run_cli(tmp_path, env, "-v", "--entities", "contacts,leads,prospects,countries")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "contacts" in out and "skipped: no access (403)" in out
    assert "daily API quota left:" in out
    contacts_line = next(line for line in out.splitlines() if line.startswith("contacts "))
    assert contacts_line.split()[1:3] == ["1250", "5"]  # 3 pages + 2 retried failures
    assert "retrying" in result.stderr  # the 500/503/429 were retried, and said so

    needles = [API_KEY.encode(), base64.b64encode(f"{API_KEY}:".encode())]
    leaks = []
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaks += [str(path) for needle in needles if needle in data]
    text = (result.stdout + result.stderr).encode()
    leaks += ["output" for needle in needles if needle in text]
    assert leaks == []
    assert any(tmp_path.rglob("*.duckdb"))


def test_second_sync_exits_at_once_or_waits(tmp_path, emulator):
    emulator.configure(latency_ms=300)
    env = {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emulator.base_url,
    }
    args = ["--entities", "contacts,leads,organisations", "--no-models"]
    first = _start_cli(tmp_path, env, *args)
    try:
        _wait_for(lambda: (tmp_path / "pipelines" / "insightly.sync.lock").exists())
        _wait_for(
            lambda: any(r.path.lower().startswith("/v3.1/contacts") for r in emulator.requests)
        )
        second = run_cli(tmp_path, env, *args)
        assert second.returncode == 7
        assert "another sync of pipeline 'insightly' is running" in second.stderr
        waiting = run_cli(tmp_path, env, "--wait", *args)
        assert waiting.returncode == 0, waiting.stderr
        assert first.wait(timeout=300) == 0  # the first one finished before the waiter ran
    finally:
        first.kill()
    emulator.configure(latency_ms=0)
    import duckdb

    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as con:
        n, distinct = con.execute(
            "select count(*), count(distinct contact_id) from insightly.contacts"
        ).fetchone()
    assert n == distinct == len(emulator.tenant.records("Contacts"))


def _start_cli(tmp_path: Path, env_extra: dict[str, str], *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "cli.duckdb"),
            "SOURCES__INSIGHTLY__RATE_PER_S": "500",
            **env_extra,
        }
    )
    command = [sys.executable, "-m", "insightly.cli", "sync"]
    command += ["--pipelines-dir", str(tmp_path / "pipelines"), *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(condition, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_models_command_builds_after_a_sync_without_models(tmp_path, emulator):
    env = {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emulator.base_url,
    }
    assert run_cli(tmp_path, env, "--no-models").returncode == 0
    import duckdb

    query = "select count(*) from information_schema.schemata "
    query += "where schema_name in ('insightly_stg', 'insightly_reporting')"
    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as con:
        assert con.execute(query).fetchone()[0] == 0
    command = [sys.executable, "-m", "insightly.cli", "models"]
    command += ["--pipelines-dir", str(tmp_path / "pipelines")]
    environ = {**os.environ, "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "cli.duckdb")}
    built = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    with duckdb.connect(str(tmp_path / "cli.duckdb"), read_only=True) as con:
        assert con.execute(query).fetchone()[0] == 2
        (n,) = con.execute("select count(*) from insightly_reporting.lead_funnel").fetchone()
    assert n > 0
