"""README is a contract: its `sh` blocks, and those of the pages it links for the first hour
(push, scheduling, emulator), run in order, as printed, in a fresh copy of the project that
reuses the project's `.venv`, each in bash with `set -e` and what the blocks before it
exported (one reader's shell). A block fails the test when a command exits non-zero or
anything prints a traceback.

Where a block needs a real account, the test is the account: an emulator runs for the
whole file, and the documented settings point at it (SOURCES__INSIGHTLY__BASE_URL, which
wins over the pod; the key's `...` placeholder becomes the emulator's key). SKIPPED names
the commands that are not run, and why. Each block is one test, named after its page, line
and heading, so the test run lists every block it ran."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from insightly_emulator import Emulator, EmulatorConfig
from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "docs/push.md", "docs/scheduling.md", "docs/emulator.md"]
SKIPPED = {
    "make test": "this test suite itself: it would recurse",
    "make dagster": "serves the Dagster UI until stopped",
}
PLACEHOLDERS = {
    "export SOURCES__INSIGHTLY__API_KEY=...": f"export SOURCES__INSIGHTLY__API_KEY={API_KEY}"
}
FENCE = re.compile(r"^```sh\s*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    heading: str
    text: str

    @property
    def name(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.heading.lower()).strip("-")[:40]
        return f"{self.page}:{self.line}:{slug}"


def blocks_of(page: str) -> list[Block]:
    """The `sh` blocks of a page, with the heading they sit under."""
    found, heading, body, start = [], "", None, 0
    for n, line in enumerate((ROOT / page).read_text().splitlines(), 1):
        if body is None and line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif body is None and FENCE.match(line):
            body, start = [], n
        elif body is not None and line.startswith("```"):
            found.append(Block(page, start, heading, "\n".join(body)))
            body = None
        elif body is not None:
            body.append(line)
    return found


BLOCKS = [block for page in PAGES for block in blocks_of(page)]


def runnable(text: str) -> tuple[str, list[str]]:
    """The block as run (placeholders filled, SKIPPED commands left out) and what was left
    out. A command continued over several lines (`\\`) or inside a quote is kept whole."""
    kept, skipped = [], []
    for line in text.splitlines():
        command = line.split("#", 1)[0].strip()
        if command in SKIPPED:
            skipped.append(command)
            continue
        kept.append(PLACEHOLDERS.get(line.split("  #", 1)[0].strip(), line))
    return "\n".join(kept), skipped


def _copy_project(target: Path) -> None:
    """The tracked files as they are now (a fresh clone's view), `.venv` linked, and make's
    install stamp kept newer than pyproject.toml, so no target reinstalls."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    stamp = ROOT / ".venv" / ".installed-stamp"
    if stamp.exists():
        older = stamp.stat().st_mtime - 60
        os.utime(target / "pyproject.toml", (older, older))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A fresh copy of the project and the emulator that stands in for the account."""
    root = tmp_path_factory.mktemp("readme") / "insightly-elt"
    root.mkdir()
    _copy_project(root)
    config = EmulatorConfig(seed=11, profile="tiny", api_key=API_KEY)
    with Emulator(config) as emu:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DESTINATION__", "SOURCES__", "PUSH", "MAKE"))
            and k not in ("ARGS", "SQL")  # `make test ARGS=...` exports them to every make
        }
        env |= {
            "SOURCES__INSIGHTLY__BASE_URL": emu.base_url,  # wins over the pod (docs/api.md)
            "SOURCES__INSIGHTLY__RATE_PER_S": "200",  # the emulator has no per-second limit
            "HOME": str(root.parent / "home"),  # dlt's default pipelines dir: a fresh one
        }
        yield root, env


@pytest.mark.parametrize("block", BLOCKS, ids=[b.name for b in BLOCKS])
def test_block_runs_as_printed(project, block: Block):
    root, env = project
    script, skipped = runnable(block.text)
    if skipped:
        print(f"{block.name}: not run: {', '.join(f'{c} ({SKIPPED[c]})' for c in skipped)}")
    # one shell session, as a reader's: what a block exports holds for the blocks after it
    session = root.parent / "session.env"
    script = f"[ -f {session} ] && source {session}\n{script}\nexport -p > {session}"
    ran = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    said = ran.stdout + ran.stderr
    assert ran.returncode == 0, f"{block.name} exited {ran.returncode}:\n{said[-3000:]}"
    assert "Traceback" not in said, f"{block.name} printed a traceback:\n{said[-3000:]}"
    if "make demo" in script:
        _demo_hints_run(root, env, ran.stdout)


def _demo_hints_run(root: Path, env: dict[str, str], printed: str) -> None:
    """The commands `make demo` suggests last work as printed, and see its warehouse."""
    hints = [line.strip() for line in printed.splitlines() if line.startswith("  .venv/bin/")]
    assert len(hints) >= 4, printed[-2000:]
    for hint in hints:
        ran = subprocess.run(
            ["bash", "-e", "-c", hint], cwd=root, env=env, capture_output=True, text=True
        )
        assert ran.returncode == 0, f"{hint} exited {ran.returncode}: {ran.stderr[-2000:]}"
        assert "Traceback" not in ran.stderr
        assert "none loaded yet" not in ran.stdout and "none logged yet" not in ran.stdout, hint


def test_every_page_has_blocks_and_the_skips_are_used():
    """The list holds what it says: README has blocks, and each skip matches a command."""
    assert [b for b in BLOCKS if b.page == "README.md"]
    commands = {runnable(b.text)[1][i] for b in BLOCKS for i in range(len(runnable(b.text)[1]))}
    assert commands == set(SKIPPED)
