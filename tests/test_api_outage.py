"""An API that gives no HTTP answer at all (connection refused, a host name that doesn't
resolve, resets past the retries) stops `insightly sync` with exit 69 (EX_UNAVAILABLE) and
one line saying what happened and what to do; a scheduler retries it (tests/test_sync_schedule.py
checks the recipes). A 5xx that persists stays exit 4.

The CLI runs as a user runs it (.venv/bin/insightly in a subprocess) with
SOURCES__INSIGHTLY__MAX_ATTEMPTS=2, so each run takes seconds, not the ~35 s of the default
six attempts."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from insightly.errors import ApiResponseError, ApiUnreachable, find_user_error
from tests.conftest import API_KEY

INSIGHTLY = Path(sys.executable).with_name("insightly")
NEEDLES = (API_KEY, base64.b64encode(f"{API_KEY}:".encode()).decode())


def refused_url() -> str:
    """A loopback port nothing listens on: bound, then closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v3.1/"


def run_sync_cli(tmp_path: Path, base_url: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        SOURCES__INSIGHTLY__API_KEY=API_KEY,
        SOURCES__INSIGHTLY__BASE_URL=base_url,
        SOURCES__INSIGHTLY__MAX_ATTEMPTS="2",
        DLT_DATA_DIR=str(tmp_path / "dlt"),
    )
    args = ["sync", "--no-models", "--pipelines-dir", str(tmp_path / "pipelines")]
    started = time.monotonic()
    result = subprocess.run(
        [str(INSIGHTLY), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    return result, time.monotonic() - started


@pytest.mark.parametrize(
    "base_url,reason",
    [
        (refused_url, "(connection refused)"),
        # https: plain http is refused for a host that isn't loopback (api/connection.py)
        (lambda: "https://nonexistent.invalid/", "(the host name does not resolve)"),
    ],
    ids=["refused", "no-dns"],
)
def test_unreachable_api_exits_69_with_one_line(tmp_path, base_url, reason):
    url = base_url()
    result, elapsed = run_sync_cli(tmp_path, url)
    print(f"{url}: exit {result.returncode} in {elapsed:.1f} s")  # shown with pytest -s
    assert result.returncode == 69, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    # besides the one retry's warning (1 of 2 attempts), the error is the one line
    retries = [line for line in lines if "retrying after attempt" in line]
    assert len(retries) == 1, result.stderr
    (line,) = [line for line in lines if line not in retries]
    assert line == lines[-1]
    expected_url = url if url.endswith("/v3.1/") else f"{url}v3.1/"
    assert line.startswith(
        f"insightly: the Insightly API could not be reached at {expected_url} {reason} "
        "after 2 attempts: check the network, the pod (SOURCES__INSIGHTLY__POD)"
    ), line
    assert line.endswith("the next run continues where this one stopped")
    for needle in NEEDLES:
        assert needle not in result.stdout + result.stderr
    assert elapsed < 30, f"{elapsed:.1f} s: the attempts setting was not used"


def test_resets_inside_the_load_are_found_through_dlts_wrapping(emulator, warehouse):
    """No answer during extraction: dlt wraps our error (PipelineStepFailed), find_user_error
    still finds it, and the CLI would exit 69."""
    emulator.configure(fail_next={"Contacts": ["reset"] * 4})  # FAST_RETRIES: 4 attempts
    with pytest.raises(Exception) as info:
        warehouse.sync(entities=["contacts"])
    assert type(info.value).__name__ == "PipelineStepFailed"
    error = find_user_error(info.value)
    assert isinstance(error, ApiUnreachable) and error.exit_code == 69
    assert "after 4 attempts" in str(error) and "Contacts" in str(error)
    assert API_KEY not in str(error)


def test_a_persistent_5xx_stays_exit_4(emulator, warehouse):
    """An HTTP answer, even a 503 every time, is not an outage of the network."""
    emulator.configure(fail_next={"Contacts": [503] * 4})
    with pytest.raises(Exception) as info:
        warehouse.sync(entities=["contacts"])
    error = find_user_error(info.value)
    assert isinstance(error, ApiResponseError) and error.exit_code == 4
    assert "HTTP 503" in str(error)


def test_max_attempts_is_a_setting(monkeypatch):
    from insightly.config import connect, load_settings

    monkeypatch.setenv("SOURCES__INSIGHTLY__MAX_ATTEMPTS", "3")
    settings = load_settings()
    assert settings.max_attempts == 3
    with connect(settings, API_KEY, base_url="http://127.0.0.1:9/v3.1/") as client:
        assert client._max_attempts == 3
    monkeypatch.setenv("SOURCES__INSIGHTLY__MAX_ATTEMPTS", "0")
    assert load_settings().max_attempts == 1  # at least the one attempt


def test_69_ranks_after_6_and_before_75_and_the_readme_says_so():
    from insightly.sync.accounts import MEANING, SEVERITY, most_severe

    assert SEVERITY.index(6) < SEVERITY.index(69) < SEVERITY.index(75)
    assert most_severe([0, 75, 69, 7]) == 69 and most_severe([69, 6]) == 6
    assert set(MEANING) == set(SEVERITY)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"most severe code ({' > '.join(map(str, SEVERITY))})" in readme
    table = readme.split("| code | meaning |", 1)[1].split("\n\n", 1)[0]
    listed = {int(c) for row in table.splitlines()[2:] for c in row.split("|")[1].split(",")}
    assert listed == set(SEVERITY)  # the README's exit code table has every code
