"""Scheduling: bin/insightly-cron and the recipes in deploy/ keep what the exit codes mean.

The wrapper runs as cron runs it (a nearly empty environment, another working directory)
against the emulator over HTTP; the recipes are parsed from their files, so the README, the
files and these tests can't drift apart."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from insightly.sync.pipeline import DEFAULT_DUCKDB_FILE
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[1]
WRAPPER = ROOT / "bin" / "insightly-cron"
DEPLOY = ROOT / "deploy"
PROJECT_IN_RECIPES = "/opt/insightly-elt"


def cron_env(tmp_path: Path, base_url: str | None, **extra: str) -> dict[str, str]:
    """What cron gives a job (PATH, HOME) plus the settings a deployment would export."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__RATE_PER_S": "500",
        "DESTINATION__DUCKDB__CREDENTIALS": str(tmp_path / "cron.duckdb"),
        # dlt keeps pipeline state in ~/.dlt, or /var/dlt for root: keep the test's apart
        "DLT_DATA_DIR": str(tmp_path / "dlt"),
    }
    if base_url:
        env["SOURCES__INSIGHTLY__BASE_URL"] = base_url
    env.update(extra)
    return env


def run_wrapper(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(WRAPPER), *args],
        cwd=tmp_path,  # not the project: the wrapper changes there itself
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def crontab_entries() -> list[tuple[list[str], str]]:
    """(the five schedule fields, the command) of each job in deploy/cron.txt."""
    entries = []
    for line in (DEPLOY / "cron.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            *schedule, command = line.split(maxsplit=5)
            entries.append((schedule, command))
    return entries


def test_cron_line_runs_the_wrapper_and_a_quota_stop_exits_75(tmp_path, emulator_factory):
    ((schedule, command),) = crontab_entries()
    assert schedule == ["17", "*", "*", "*", "*"]
    assert command.split()[0] == f"{PROJECT_IN_RECIPES}/bin/insightly-cron"
    log = re.search(r">>\s*(\S+)\s+2>&1$", command)
    assert log, command  # stdout and stderr go to a log file
    # The line as cron runs it, with this checkout and a temporary log in place of /opt, /var.
    runnable = command.replace(PROJECT_IN_RECIPES, str(ROOT)).replace(
        log.group(1), str(tmp_path / "sync.log")
    )
    emulator = emulator_factory(daily_limit=2)
    env = cron_env(tmp_path, emulator.base_url, SOURCES__INSIGHTLY__QUOTA_RESERVE="0")
    result = subprocess.run(
        ["/bin/sh", "-c", runnable], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    logged = (tmp_path / "sync.log").read_text()
    assert result.returncode == 75, logged
    assert result.stdout == result.stderr == ""  # all of it went to the log
    assert "daily API quota reached" in logged
    assert "continues where it stopped at the next run after the quota resets" in logged
    # without --pipelines-dir the sync's state and lock are where dlt keeps them
    assert (tmp_path / "dlt" / "pipelines" / "insightly.sync.lock").exists()


def test_busy_lock_is_a_skip_not_a_failure(tmp_path, emulator):
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    env = cron_env(tmp_path, emulator.base_url)
    with FileLock(str(pipelines / "insightly.sync.lock"), timeout=0):
        result = run_wrapper(tmp_path, env, "--pipelines-dir", str(pipelines))
    assert result.returncode == 0, result.stderr
    assert "skipped: another sync of this pipeline is running" in result.stdout
    assert "another sync of pipeline 'insightly' is running" in result.stderr  # the sync's line
    assert emulator.requests == []  # nothing was sent


def test_rejected_key_alerts_on_stderr_and_exits_3(tmp_path, emulator):
    env = cron_env(tmp_path, emulator.base_url, SOURCES__INSIGHTLY__API_KEY="wrong-key-123456")
    result = run_wrapper(tmp_path, env, "--pipelines-dir", str(tmp_path / "pipelines"))
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert "check the API key and pod" in lines[-2]  # the sync's own line, then the alert
    assert "ALERT: the Insightly API rejected the key (401)" in lines[-1]
    assert "wrong-key-123456" not in result.stdout + result.stderr


def test_success_passes_0_and_other_codes_pass_through(tmp_path, emulator):
    env = cron_env(tmp_path, emulator.base_url)
    args = ["--pipelines-dir", str(tmp_path / "pipelines"), "--entities", "countries"]
    done = run_wrapper(tmp_path, env, *args, "--no-models")
    assert done.returncode == 0, done.stderr
    assert "countries" in done.stdout and "insightly-cron" not in done.stdout + done.stderr
    # a configuration error (2) stays 2
    env.pop("SOURCES__INSIGHTLY__API_KEY")
    missing_key = run_wrapper(tmp_path, env, *args)
    assert missing_key.returncode == 2
    assert "API key is missing" in missing_key.stderr


def test_unreachable_api_passes_69_through_with_a_line(tmp_path):
    with socket.socket() as sock:  # a port nothing listens on: bound, then closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = cron_env(tmp_path, f"http://127.0.0.1:{port}/v3.1/", SOURCES__INSIGHTLY__MAX_ATTEMPTS="1")
    result = run_wrapper(tmp_path, env, "--pipelines-dir", str(tmp_path / "pipelines"))
    assert result.returncode == 69, result.stderr
    assert "could not be reached" in result.stderr.strip().splitlines()[-1]  # the sync's line
    assert "the Insightly API could not be reached; the sync continues" in result.stdout
    assert "(exit 69)" in result.stdout and "Traceback" not in result.stderr
    assert API_KEY not in result.stdout + result.stderr


def test_recipes_and_docs_name_69_and_the_default_file():
    """The wrapper, the recipes and the docs agree: 69 is passed through and retried, and the
    default warehouse file is the one the sync writes."""
    wrapper = WRAPPER.read_text()
    assert re.search(r"^\s+69\)$", wrapper, flags=re.M)  # its own case, code kept
    workflow = (DEPLOY / "github-actions.yml").read_text()
    assert '"$status" -ne 69' in workflow  # the step's retry loop
    for text in (wrapper, (ROOT / "docs" / "scheduling.md").read_text()):
        assert DEFAULT_DUCKDB_FILE in text and "insightly.duckdb" not in text
    for name in ("insightly-sync.service", "cron.txt", "github-actions.yml"):
        assert "69" in (DEPLOY / name).read_text(), name
    for doc in ("README.md", "docs/scheduling.md"):
        assert "| 69 " in (ROOT / doc).read_text(), doc


def test_wrapper_is_posix_sh():
    assert WRAPPER.read_text().startswith("#!/bin/sh\n")
    assert os.access(WRAPPER, os.X_OK)
    dash = shutil.which("dash")
    if dash:  # the strictest POSIX shell at hand; Debian's /bin/sh
        assert subprocess.run([dash, "-n", str(WRAPPER)]).returncode == 0


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text())
    return parser


def test_systemd_units_declare_the_exit_code_handling():
    service = _unit("insightly-sync.service")
    run = service["Service"]
    assert run["Type"] == "oneshot"
    assert run["ExecStart"] == f"{PROJECT_IN_RECIPES}/bin/insightly-cron"
    # 7 (a skip) and 75 (quota: the next timer run continues) are not failures
    assert set(run["SuccessExitStatus"].split()) == {"7", "75"}
    # other failures restart, but not those a restart can't fix (config, key, API answer, models)
    assert run["Restart"] == "on-failure"
    assert set(run["RestartPreventExitStatus"].split()) == {"2", "3", "4", "6"}
    # 69, an API that could not be reached, is a failure that a later start can get past
    assert "69" not in run["RestartPreventExitStatus"].split()
    assert "69" not in run["SuccessExitStatus"].split()
    assert re.fullmatch(r"\d+min", run["RestartSec"])  # minutes, not systemd's 100 ms default
    assert "75" not in run.get("RestartForceExitStatus", "").split()
    assert int(service["Unit"]["StartLimitBurst"]) >= 1

    timer = _unit("insightly-sync.timer")
    assert timer["Timer"]["Unit"] == "insightly-sync.service"
    assert timer["Timer"]["OnCalendar"] == "hourly"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


def _workflow_step() -> dict:
    workflow = yaml.safe_load((DEPLOY / "github-actions.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["schedule"][0]["cron"]
    assert workflow["concurrency"]["cancel-in-progress"] is False
    steps = [step for job in workflow["jobs"].values() for step in job["steps"]]
    (step,) = [step for step in steps if step.get("id") == "sync"]
    return step


# The stub exits with the codes in turn, its last one from then on.
STUB = """#!/bin/sh
echo "stub $*"
n=$(( $(cat calls 2>/dev/null || echo 0) + 1 )); echo "$n" > calls
set -- $STUB_CODES
[ "$n" -le "$#" ] || n=$#
eval "exit \\${$n}"
"""


@pytest.mark.parametrize(
    "sync_codes,step_code,result,annotation,runs",
    [
        ("0", 0, "ok", None, 1),
        ("7", 0, "skipped", "::notice", 1),
        ("75", 0, "quota", "::warning", 1),
        ("3", 3, "failed", "::error", 1),
        ("4", 4, "failed", None, 1),
        ("1", 1, "failed", None, 1),
        ("69 0", 0, "ok", None, 2),  # the API came back: the second run got through
        ("69", 69, "unreachable", "::error", 3),  # SYNC_ATTEMPTS runs, then red
    ],
)
def test_github_step_maps_the_codes(tmp_path, sync_codes, step_code, result, annotation, runs):
    step = _workflow_step()
    assert step["shell"] == "bash"
    # The checkout, with a stub in place of the venv's insightly that exits with the codes.
    stub = tmp_path / ".venv" / "bin" / "insightly"
    stub.parent.mkdir(parents=True)
    stub.write_text(STUB)
    stub.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    outputs, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        **{name: str(value) for name, value in step["env"].items()},
        "SYNC_RETRY_DELAY_S": "0",  # the recipe waits 300 s between runs
        "PATH": "/usr/bin:/bin",
        "STUB_CODES": sync_codes,
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    # how GitHub runs a `shell: bash` step
    ran = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == step_code, ran.stdout + ran.stderr
    assert ran.stdout.count("stub sync") == runs
    assert outputs.read_text() == f"result={result}\n"
    assert f"exited {sync_codes.split()[-1]}; runs: {runs}" in summary.read_text()
    annotations = [line for line in ran.stdout.splitlines() if line.startswith("::")]
    if annotation:
        assert len(annotations) == 1 and annotations[0].startswith(annotation)
    else:
        assert annotations == []


def test_readme_shows_the_recipes_as_they_are():
    readme = (ROOT / "README.md").read_text()
    ((_, command),) = crontab_entries()
    assert f"17 * * * * {command}\n" in readme
    scheduling = (ROOT / "docs" / "scheduling.md").read_text()
    assert f"17 * * * * {command}\n" in scheduling
    service = (DEPLOY / "insightly-sync.service").read_text().splitlines()
    (shown,) = re.findall(r"```ini\n(.*?)```", scheduling, flags=re.S)
    for line in shown.splitlines():
        assert line in service, line
