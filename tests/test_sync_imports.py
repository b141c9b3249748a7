"""A sync without a terminal (cron, systemd, CI) imports only what it needs: never altair
(the report's charts), dagster, rich (the terminal's progress bars) or dbt, and with
--no-models none of the models', the push's or the report's modules, nor SQLAlchemy. Each is
a fraction of a second at every start (docs/performance.md).

The command runs in a fresh interpreter whose stdout and stderr are pipes, against the
emulator; the interpreter then lists what it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import API_KEY

NEVER = {"altair", "dagster", "rich", "dbt"}  # top-level packages
NOT_WITHOUT_MODELS = ("insightly.models", "insightly.push", "insightly.ops.report")

# Runs `insightly <argv>` in this interpreter, then writes the exit code and the modules
# imported to the file named by the first argument.
SCRIPT = """
import json, sys
from insightly.cli import main
out, argv = sys.argv[1], sys.argv[2:]
try:
    code = main(argv)
except SystemExit as exc:  # --help
    code = exc.code
with open(out, "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""


def _imports(tmp_path, base_url: str, *argv: str) -> tuple[int, set[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env |= {
        "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "imports.duckdb"),
        "SOURCES__INSIGHTLY__RATE_PER_S": "500",
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": base_url,
    }
    out = tmp_path / "imports.json"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(out.read_text())
    return found["code"], set(found["modules"])


def _top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_a_sync_without_a_terminal_imports_no_charts_bars_or_orchestrators(tmp_path, emulator):
    pipelines = str(tmp_path / "pipelines")
    code, modules = _imports(
        tmp_path,
        emulator.base_url,
        *("sync", "--entities", "contacts", "--no-models", "--pipelines-dir", pipelines),
    )
    assert code == 0
    assert "insightly.sync.run" in modules and "dlt" in modules  # it did sync
    assert _top_level(modules) & NEVER == set()
    assert [m for m in modules if m.startswith(NOT_WITHOUT_MODELS)] == []
    assert "sqlalchemy" not in _top_level(modules)  # warehouse/destination.py

    code, modules = _imports(
        tmp_path, emulator.base_url, "sync", "--entities", "contacts", "--pipelines-dir", pipelines
    )
    assert code == 0
    assert "insightly.models.build" in modules  # it built the models
    assert _top_level(modules) & NEVER == set()


def test_sync_help_imports_no_other_command(tmp_path):
    code, modules = _imports(tmp_path, "http://127.0.0.1:9/v3.1/", "sync", "--help")
    assert code == 0
    assert "insightly.cli.sync" in modules
    assert [m for m in modules if m.startswith(("insightly.cli.push", "insightly.cli.ops"))] == []
    assert _top_level(modules) & NEVER == set()
