"""Many accounts: `insightly sync --all` over two emulator tenants, each with its own key,
quota, pipeline and DuckDB file, run as a user runs it (a subprocess, real exit codes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from insightly.sync.accounts import SEVERITY, most_severe
from tests.conftest import Warehouse
from tests.helpers import column, entity_paths

KEY_A = "brand-a-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
KEY_B = "brand-b-9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4"
DEFAULT_KEY = "default-key-that-no-account-may-use"


def write_accounts(root: Path, url_a: str, url_b: str) -> None:
    (root / ".dlt").mkdir(exist_ok=True)
    (root / ".dlt" / "config.toml").write_text(
        "[accounts.brand_a]\n"
        'api_key_env = "INSIGHTLY_KEY_BRAND_A"\n'
        f'base_url = "{url_a}"\n'
        "[accounts.brand_b]\n"
        'api_key_env = "INSIGHTLY_KEY_BRAND_B"\n'
        f'base_url = "{url_b}"\n'
        'dataset = "crm"\n'
    )


def insightly(root: Path, *args: str, default_url: str = "") -> subprocess.CompletedProcess:
    """The CLI in `root` (where .dlt/ is), with both accounts' keys and a default account's
    settings that no account may fall back to."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        {
            "INSIGHTLY_KEY_BRAND_A": KEY_A,
            "INSIGHTLY_KEY_BRAND_B": KEY_B,
            "SOURCES__INSIGHTLY__API_KEY": DEFAULT_KEY,
            "SOURCES__INSIGHTLY__BASE_URL": default_url,
            "DESTINATION__DUCKDB__CREDENTIALS": str(root / "default.duckdb"),
            "SOURCES__INSIGHTLY__RATE_PER_S": "500",
            "SOURCES__INSIGHTLY__QUOTA_RESERVE": "0",
            "DLT_DATA_DIR": str(root / "dlt"),
        }
    )
    command = [sys.executable, "-m", "insightly.cli", *args]
    if args[0] == "sync":
        command += ["--pipelines-dir", str(root / "pipelines")]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)


def account_warehouse(root: Path, name: str, dataset: str, base_url: str) -> Warehouse:
    wh = Warehouse(root, base_url)
    wh.path = root / f"{name}.duckdb"
    return wh


def keys_in(warehouse: Warehouse, dataset: str, table: str, pk: tuple[str, ...]) -> set[tuple]:
    cols = ", ".join(column(k) for k in pk)
    return set(warehouse.query(f'select {cols} from {dataset}."{table}"'))


def assert_equal_to_tenant(warehouse: Warehouse, dataset: str, emulator) -> None:
    for table, (path, pk) in entity_paths(emulator).items():
        want = {tuple(r[k] for k in pk) for r in emulator.tenant.records(path)}
        assert keys_in(warehouse, dataset, table, pk) == want, table


def test_all_accounts_sync_apart_with_their_own_keys_and_quotas(tmp_path, emulator_factory):
    tenant_a = emulator_factory(seed=7, api_key=KEY_A, scale=0.1)
    # another tenant, and a quota that runs out during its first sync
    tenant_b = emulator_factory(seed=11, api_key=KEY_B, scale=0.1, daily_limit=12)
    write_accounts(tmp_path, tenant_a.base_url, tenant_b.base_url)

    first = insightly(tmp_path, "sync", "--all", "--no-models", default_url=tenant_a.base_url)
    output = first.stdout + first.stderr
    assert first.returncode == 75, output  # the most severe of 0 (brand_a) and 75 (brand_b)
    assert "account brand_a: exit 0 (ok)" in first.stdout
    assert "account brand_b: exit 75 (quota stop" in first.stderr
    # side by side, each account's progress lines name it
    assert " progress [brand_a] contacts: " in first.stderr
    assert " progress [brand_b] " in first.stderr
    assert " progress contacts: " not in first.stderr
    a = account_warehouse(tmp_path, "brand_a", "insightly", tenant_a.base_url)
    assert_equal_to_tenant(a, "insightly", tenant_a)
    # brand_b's spent quota did not stop brand_a, which sent far more requests than 12
    assert len(tenant_a.requests) > 12 * 3
    assert not (tmp_path / "default.duckdb").exists()

    # after brand_b's quota reset, --account finishes it (and builds its models) alone
    tenant_b.configure(daily_limit=100_000)
    requests_a = len(tenant_a.requests)
    second = insightly(tmp_path, "sync", "--account", "brand_b", default_url=tenant_a.base_url)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "account brand_b: exit 0 (ok)" in second.stdout
    assert "brand_a" not in second.stdout + second.stderr
    assert len(tenant_a.requests) == requests_a
    b = account_warehouse(tmp_path, "brand_b", "crm", tenant_b.base_url)
    assert_equal_to_tenant(b, "crm", tenant_b)
    # the models were built in brand_b's own file, next to its own dataset
    assert b.query("select count(*) from crm_stg.contacts")[0][0] == len(
        tenant_b.tenant.records("Contacts")
    )

    # each tenant saw only its own key, so neither ever answered 401
    assert {e.api_key for e in tenant_a.requests} == {KEY_A}
    assert {e.api_key for e in tenant_b.requests} == {KEY_B}
    assert {e.status for e in tenant_a.requests} == {200}
    assert {e.status for e in tenant_b.requests} <= {200, 429}  # 429: the spent quota
    for result in (first, second):
        for key in (KEY_A, KEY_B, DEFAULT_KEY):
            assert key not in result.stdout + result.stderr
    pipelines = {p.name for p in (tmp_path / "pipelines").iterdir() if p.is_dir()}
    assert {"insightly_brand_a", "insightly_brand_b"} <= pipelines
    assert "insightly" not in pipelines

    # each account's run log is its own, and `status --all` shows both
    assert a.query("select account, exit_code from insightly._insightly_runs") == [("brand_a", 0)]
    runs_b = b.query("select account, exit_code from crm._insightly_runs order by started_at")
    assert runs_b == [("brand_b", 75), ("brand_b", 0)]
    status = insightly(tmp_path, "status", "--all", "--pipelines-dir", str(tmp_path / "pipelines"))
    assert status.returncode == 0, status.stderr
    assert "account brand_a:\npipeline insightly_brand_a" in status.stdout
    assert "account brand_b:\npipeline insightly_brand_b, dataset crm" in status.stdout


def test_one_account_with_a_missing_key_fails_alone(tmp_path, emulator_factory):
    tenant_a = emulator_factory(seed=7, api_key=KEY_A, scale=0.1)
    write_accounts(tmp_path, tenant_a.base_url, tenant_a.base_url)
    config = tmp_path / ".dlt" / "config.toml"
    config.write_text(config.read_text().replace("INSIGHTLY_KEY_BRAND_B", "UNSET_KEY_VARIABLE"))
    result = insightly(tmp_path, "plan", "--all")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "account brand_a: exit 0 (ok)" in result.stdout
    assert "account brand_b: exit 2 (configuration error)" in result.stderr
    assert "UNSET_KEY_VARIABLE" in result.stderr  # which variable to set, never a key
    # brand_a's plan ran: it counted the tenant's contacts with its own key
    contacts = len(tenant_a.tenant.records("Contacts"))
    assert f"{'contacts':<30} {contacts:>8}" in result.stdout
    assert {e.api_key for e in tenant_a.requests} == {KEY_A}

    # a reader that stops early ends it quietly, from an account's thread too (141, no trace)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env["INSIGHTLY_KEY_BRAND_A"] = KEY_A
    piped = subprocess.run(
        ["bash", "-c", f"{sys.executable} -m insightly.cli plan --account brand_a | true; "
         'echo "exit=${PIPESTATUS[0]}"'],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert piped.stdout.splitlines()[-1] == "exit=141", piped.stdout + piped.stderr
    assert "Traceback" not in piped.stderr and "BrokenPipeError" not in piped.stderr

    unknown = insightly(tmp_path, "models", "--account", "brand_c")
    assert unknown.returncode == 2
    assert "unknown account brand_c: configured are brand_a, brand_b" in unknown.stderr


@pytest.mark.parametrize(
    "codes,expected",
    [
        ([0, 75, 7], 75),
        ([5, 7, 0], 7),
        ([75, 3, 2], 3),
        ([0, 6, 75], 6),
        ([0, 0], 0),
        ([], 0),
        ([6, 9], 9),  # an unlisted failure ranks just after 1
        ([9, 1], 1),
    ],
)
def test_the_most_severe_exit_code_wins(codes, expected):
    assert most_severe(codes) == expected
    assert SEVERITY[0] == 3 and SEVERITY[-1] == 0
