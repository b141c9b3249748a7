"""Scheduling: bin/insightly-cron and the recipes in deploy/ keep what the exit codes mean.

The wrapper runs as cron runs it (a nearly empty environment, another working directory)
against the emulator over HTTP; the recipes are parsed from their files, so the README, the
files and these tests can't drift apart."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

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


@pytest.mark.parametrize(
    "sync_code,step_code,result,annotation",
    [
        (0, 0, "ok", None),
        (7, 0, "skipped", "::notice"),
        (75, 0, "quota", "::warning"),
        (3, 3, "failed", "::error"),
        (4, 4, "failed", None),
        (1, 1, "failed", None),
    ],
)
def test_github_step_maps_the_codes(tmp_path, sync_code, step_code, result, annotation):
    step = _workflow_step()
    assert step["shell"] == "bash"
    # The checkout, with a stub in place of the venv's insightly that exits with the code.
    stub = tmp_path / ".venv" / "bin" / "insightly"
    stub.parent.mkdir(parents=True)
    stub.write_text('#!/bin/sh\necho "stub $*"\nexit "$STUB_CODE"\n')
    stub.chmod(0o755)
    script = tmp_path / "step.sh"
    script.write_text(step["run"])
    outputs, summary = tmp_path / "output", tmp_path / "summary"
    env = {
        "PATH": "/usr/bin:/bin",
        "STUB_CODE": str(sync_code),
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
    assert "stub sync" in ran.stdout
    assert outputs.read_text() == f"result={result}\n"
    assert f"exited {sync_code}" in summary.read_text()
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
