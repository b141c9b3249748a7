"""Live progress on a terminal: `insightly sync` run in a pseudo-terminal draws rich's
progress bars per table (pages of the total, rows, rate, time left). The plain lines
written without a terminal are checked in test_ops_runlog.py."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

from tests.conftest import API_KEY


def _run_in_pty(command: list[str], env: dict[str, str], timeout: float = 300) -> str:
    """Run a command with a pseudo-terminal as stdin, stdout and stderr; its whole output."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    process.wait(timeout=timeout)
    assert process.returncode == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode(errors="replace")


def test_terminal_shows_rich_progress_bars(tmp_path, emulator):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "tty.duckdb"),
            "SOURCES__INSIGHTLY__RATE_PER_S": "500",
            "SOURCES__INSIGHTLY__API_KEY": API_KEY,
            "SOURCES__INSIGHTLY__BASE_URL": emulator.base_url,
            "TERM": "xterm-256color",
            "COLUMNS": "140",
        }
    )
    env.pop("NO_COLOR", None)
    command = [sys.executable, "-m", "insightly.cli", "sync", "--no-models"]
    command += ["--pipelines-dir", str(tmp_path / "pipelines"), "--entities", "contacts,leads"]
    out = _run_in_pty(command, env)
    assert "\x1b[" in out  # drawn with control codes: colours and cursor moves
    assert "━" in out  # rich's bar
    contacts = [line for line in out.splitlines() if "contacts" in line and "pages" in line]
    assert contacts and "3/3" in contacts[-1] and "1,250 rows" in contacts[-1]
    assert "rows/s" in contacts[-1]
    assert " progress contacts:" not in out  # not the plain lines meant for logs
