"""Your own models (`user_models_dir`): a folder of `.sql` files, each one SELECT, built as
views in their own schema after ours, in name order, by `insightly models` and by every
sync; a failing file exits 6 and is named, the others are built; a rebuild never drops
the schema or what else it holds. (Postgres: tests/test_models_postgres.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from insightly_emulator import Emulator, EmulatorConfig
from tests.conftest import API_KEY

SCORES = """
-- a score per contact, from the staging view
select contact_id, case when title is not null then 40 else 0 end as lead_score
from stg.contacts
"""
TOP = "select contact_id from analytics.a_scores where lead_score > 0 order by contact_id"


def _insightly(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("insightly")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "insightly.cli"]
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A directory with `analytics/` (two good files, the second reading the first) and the
    setting pointing at it; the emulator running."""
    root = tmp_path_factory.mktemp("user-models")
    folder = root / "analytics"
    folder.mkdir()
    (folder / "a_scores.sql").write_text(SCORES)
    (folder / "b_top.sql").write_text(TOP + ";\n")
    config = EmulatorConfig(seed=3, profile="tiny", api_key=API_KEY, sizes={"Contacts": 30})
    with Emulator(config) as emu:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DESTINATION__", "SOURCES__"))
        }
        env |= {
            "SOURCES__INSIGHTLY__API_KEY": API_KEY,
            "SOURCES__INSIGHTLY__BASE_URL": emu.base_url,
            "SOURCES__INSIGHTLY__RATE_PER_S": "500",
            "SOURCES__INSIGHTLY__USER_MODELS_DIR": "analytics",
            "DESTINATION__DUCKDB__CREDENTIALS": str(root / "wh.duckdb"),
        }
        flags = ["--pipelines-dir", str(root / "p")]
        yield root, env, flags


def _views(root: Path, schema: str = "analytics") -> list[str]:
    with duckdb.connect(str(root / "wh.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables where table_schema = ? order by 1",
            [schema],
        ).fetchall()
    return [r[0] for r in rows]


def test_a_sync_builds_the_files_after_ours_in_name_order(project):
    root, env, flags = project
    ran = _insightly(root, env, "sync", "--entities", "contacts", *flags)
    assert ran.returncode == 0, ran.stderr
    assert "analytics: 2 user models" in ran.stdout
    assert _views(root) == ["a_scores", "b_top"]
    with duckdb.connect(str(root / "wh.duckdb"), read_only=True) as con:
        scored = con.execute("select count(*) from analytics.a_scores").fetchone()[0]
        titled = con.execute(
            "select count(*) from insightly.contacts where title is not null"
        ).fetchone()[0]
        top = con.execute("select count(*) from analytics.b_top").fetchone()[0]
    assert scored == 30 and top == titled


def test_a_rebuild_keeps_the_schema_and_what_else_it_holds(project):
    root, env, flags = project
    wrote = _insightly(
        root, env, "query", "--write", "create table analytics.kept as select 42 as answer", *flags
    )
    assert wrote.returncode == 0, wrote.stderr
    ran = _insightly(root, env, "models", *flags)
    assert ran.returncode == 0, ran.stderr
    assert _views(root) == ["a_scores", "b_top", "kept"]


def test_a_failing_file_exits_6_named_and_the_others_are_built(project):
    root, env, flags = project
    folder = root / "analytics"
    (folder / "c_two.sql").write_text("select 1; select 2")
    (folder / "d_broken.sql").write_text("select * from stg.no_such_view")
    (folder / "e_after.sql").write_text("select count(*) as n from analytics.b_top")
    try:
        ran = _insightly(root, env, "models", *flags)
    finally:
        for name in ("c_two.sql", "d_broken.sql", "e_after.sql"):
            (folder / name).unlink()
    assert ran.returncode == 6
    assert "FAILED analytics.c_two: c_two.sql: a user model is one SELECT" in ran.stdout
    assert "FAILED analytics.d_broken:" in ran.stdout and "no_such_view" in ran.stdout
    assert "analytics.c_two, analytics.d_broken" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert "e_after" in _views(root) and "d_broken" not in _views(root)


def test_a_missing_folder_is_named(project, tmp_path):
    root, env, flags = project
    ran = _insightly(
        root, {**env, "SOURCES__INSIGHTLY__USER_MODELS_DIR": "nowhere"}, "models", *flags
    )
    assert ran.returncode == 6
    assert "user_models_dir 'nowhere' is not a folder" in ran.stdout
