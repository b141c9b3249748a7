"""The package installs from a wheel and runs outside the checkout.

The wheel is built from the repository and installed, without its dependencies, into a
fresh virtual environment in a temporary folder; that venv sees the project venv's
site-packages through a .pth line (a path added that way has its own .pth files ignored,
so the checkout's editable install stays out of sight). From there, with the working
directory outside the checkout, `insightly --help` runs, and a sync plus the SQL models
load a DuckDB file from the emulator.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import duckdb
import pytest

from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parents[1]
PIP = (sys.executable, "-m", "pip")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (found,) = out.glob("insightly_elt-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh venv holding the wheel; the project venv's packages visible beneath it."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(home)
    python = home / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "project_venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [*PIP, "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    return home


def source_files(folder: Path) -> set[str]:
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.suffix in (".py", ".sql") and "__pycache__" not in p.parts
    }


def test_the_wheel_holds_every_module_and_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {n.removeprefix("insightly/") for n in names if n.startswith("insightly/")}
    emulator = {n.removeprefix("insightly_emulator/") for n in names if n.startswith("insightly_")}
    assert source_files(ROOT / "pipelines" / "insightly") <= package
    assert source_files(ROOT / "emulator") <= emulator
    assert any(n.startswith("insightly/models/sql/reporting/") for n in names)


def test_installed_from_the_wheel_it_syncs_and_builds_the_models(
    installed, emulator_factory, tmp_path
):
    emulator = emulator_factory(profile="tiny")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env |= {
        "SOURCES__INSIGHTLY__API_KEY": API_KEY,
        "SOURCES__INSIGHTLY__BASE_URL": emulator.base_url,
        "PYTHONPATH": "",
    }
    insightly = str(installed / "bin" / "insightly")
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import insightly; print(insightly.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(installed)), f"imported from {where}, not from the wheel"
    helped = subprocess.run([insightly, "--help"], cwd=work, env=env, capture_output=True)
    assert helped.returncode == 0, helped.stderr
    synced = subprocess.run(
        [insightly, "sync", "--pipelines-dir", str(work / "pipelines")],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert "Traceback" not in synced.stderr
    with duckdb.connect(str(work / "insightly_crm.duckdb"), read_only=True) as con:
        contacts = con.execute("select count(*) from insightly.contacts").fetchone()[0]
        marts = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'insightly_reporting'"
        ).fetchone()[0]
    assert contacts == emulator.tenant.count("Contacts") > 0
    assert marts == len(list((ROOT / "pipelines/insightly/models/sql/reporting").glob("*.sql")))
