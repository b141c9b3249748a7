"""Several Insightly accounts from one config: `[accounts.<name>]` in `.dlt/config.toml`.

    [accounts.brand_a]
    api_key_env = "INSIGHTLY_KEY_BRAND_A"   # the environment variable holding the key
    pod = "na1"                             # or base_url = "https://..."
    dataset = "insightly"                   # optional
    duckdb_file = "brand_a.duckdb"          # optional, DuckDB only

Each account is its own dlt pipeline (`insightly_<name>`), so it has its own state, lock,
pacer and quota; on DuckDB it loads its own file (`<name>.duckdb`), since DuckDB allows one
writer per file. The key reaches the source through `SyncOptions.api_key`, never through a
process-wide environment variable that another account's thread would see, and outcome
lines have it masked.

Commands use two functions: `account_runs(accounts, all_accounts, base)` turns the names
asked for (--account, --all on the command line) into one option set per account, and
`run_accounts(runs, action)` runs a callable per account, a few at a time, prints each
account's outcome and returns the most severe exit code.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import dlt

from insightly.api.connection import check_api_key, override_url, pod_url
from insightly.config import load_settings
from insightly.errors import ConfigurationError, find_user_error
from insightly.sync.pipeline import DATASET_NAME, PIPELINE_NAME, SyncOptions

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # goes into a pipeline name and a file name
DEFAULT_PARALLEL = 2
# Most severe first: a bad key (3) or a bad config (2) needs a person; an API answer we can't
# load (4), any other failure (1), a push stopped by its guard rail (8) and failed models (6)
# need a look; an API that could not be reached (69) and a quota stop (75) only need a later
# run (69 first: an outage that lasts is worth noticing, a quota stop is expected); a busy
# lock (7) means another run is doing the work; 5 is a partial success (push). Codes not
# listed rank just after 1.
SEVERITY = (3, 2, 4, 1, 8, 6, 69, 75, 7, 5, 0)
MEANING = {
    0: "ok",
    1: "failed",
    2: "configuration error",
    3: "the API key was refused",
    4: "unloadable API response",
    5: "partly done",
    6: "loaded, but the SQL models failed",
    7: "skipped: another run holds the lock",
    8: "stopped by the mass-change guard rail",
    69: "the API could not be reached: the next run continues",
    75: "quota stop: run again after the reset",
}


@dataclass(frozen=True)
class Account:
    """One `[accounts.<name>]` section, without the key itself (read when a run needs it)."""

    name: str
    api_key_env: str | None
    pod: str | None
    base_url: str | None
    dataset: str | None
    duckdb_file: str | None

    @property
    def pipeline_name(self) -> str:
        return f"{PIPELINE_NAME}_{self.name}"

    def api_key(self) -> str:
        """The key from the environment variable the section names (or `api_key` under
        `[accounts.<name>]` in secrets.toml); never the default account's key."""
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if not key:
            key = dlt.secrets.get(f"accounts.{self.name}.api_key")
        where = f"the environment variable {self.api_key_env}" if self.api_key_env else ""
        if not key:
            raise ConfigurationError(
                f"account {self.name}: no API key: set {where or 'api_key_env'} "
                f"(api_key_env under [accounts.{self.name}] in .dlt/config.toml names it)"
            )
        try:
            return check_api_key(key)
        except ConfigurationError:
            raise ConfigurationError(
                f"account {self.name}: the API key in {where or 'secrets.toml'} is malformed "
                "(expected 8-256 printable characters without spaces or ':')"
            ) from None


@dataclass(frozen=True)
class AccountRun:
    """One account's options for a command; `account` is None for the single default
    account of `[sources.insightly]` (no --account/--all given)."""

    account: str | None
    options: SyncOptions
    problem: ConfigurationError | None = None  # reported as this account's outcome

    @property
    def label(self) -> str:
        return self.account or "default"


def configured_accounts() -> dict[str, Account]:
    """Every `[accounts.<name>]` section, in name order. Each field may also come from the
    environment (`ACCOUNTS__BRAND_A__POD`), as dlt resolves any other setting."""
    sections = dlt.config.get("accounts") or {}
    if not isinstance(sections, dict):
        raise ConfigurationError("[accounts] must hold one [accounts.<name>] table per account")
    accounts = {}
    for name in sorted(sections):
        if not isinstance(sections[name], dict):
            continue  # a scalar beside the account tables
        if not NAME_RE.match(name):
            raise ConfigurationError(
                f"account name {name!r}: use lowercase letters, digits and _ (it names the "
                "pipeline and the DuckDB file)"
            )

        def field(key: str, name: str = name) -> str | None:
            value = dlt.config.get(f"accounts.{name}.{key}")
            return str(value).strip() if value not in (None, "") else None

        accounts[name] = Account(
            name,
            field("api_key_env"),
            field("pod"),
            field("base_url"),
            field("dataset"),
            field("duckdb_file"),
        )
    return accounts


def account_runs(
    accounts: Sequence[str] | None, all_accounts: bool, base: SyncOptions
) -> list[AccountRun]:
    """One option set per account selected (the names in `accounts`, or every configured
    account when `all_accounts`): `base` with the account's pipeline, dataset, DuckDB file,
    key and pod/base_url. Neither (no --account/--all): `[base]` as is.
    Raises ConfigurationError for an unknown name or accounts that would share a warehouse;
    a missing key is that account's `problem`, so the other accounts still run."""
    names = list(accounts) if accounts else None
    if not names and not all_accounts:
        return [AccountRun(None, base)]
    configured = configured_accounts()
    if not configured:
        raise ConfigurationError(
            "no accounts configured: add [accounts.<name>] sections to .dlt/config.toml "
            "(see docs/accounts.md)"
        )
    unknown = sorted(set(names or ()) - set(configured))
    if unknown:
        raise ConfigurationError(
            f"unknown account {', '.join(unknown)}: configured are {', '.join(configured)}"
        )
    chosen = [configured[n] for n in dict.fromkeys(names)] if names else list(configured.values())
    runs = [_run_of(account, base) for account in chosen]
    _refuse_shared_targets(runs, base.destination)
    return runs


def _run_of(account: Account, base: SyncOptions) -> AccountRun:
    duckdb = base.destination == "duckdb"
    default_dataset = DATASET_NAME if duckdb else f"{DATASET_NAME}_{account.name}"
    options = replace(
        base,
        pipeline_name=account.pipeline_name,
        dataset=account.dataset or default_dataset,
        duckdb_file=(account.duckdb_file or f"{account.name}.duckdb") if duckdb else None,
        api_key=None,
        pod=None,
        base_url=None,
    )
    try:
        # The URL is always explicit: [sources.insightly] base_url must never receive
        # another account's key.
        base_url = _account_url(account)
        return AccountRun(
            account.name, replace(options, base_url=base_url, api_key=account.api_key())
        )
    except ConfigurationError as exc:
        return AccountRun(account.name, options, exc)


def _account_url(account: Account) -> str:
    try:
        if account.base_url:
            return override_url(account.base_url)
        if account.pod:
            return pod_url(account.pod)
    except ConfigurationError as exc:
        raise ConfigurationError(f"account {account.name}: {exc}") from None
    raise ConfigurationError(
        f"account {account.name}: set pod (na1, eu1, ...) or base_url under "
        f"[accounts.{account.name}]"
    )


def _refuse_shared_targets(runs: Sequence[AccountRun], destination: str) -> None:
    """Two accounts loading one DuckDB file or one dataset would mix their records."""
    seen: dict[str, str] = {}
    for run in runs:
        options = run.options
        if options.duckdb_file:
            target = os.path.abspath(options.duckdb_file)
        else:
            target = f"{destination} dataset {options.dataset}"
        if target in seen:
            raise ConfigurationError(
                f"accounts {seen[target]} and {run.account} would both load {target}: "
                "give each its own dataset (or duckdb_file)"
            )
        seen[target] = str(run.account)


def severity(code: int) -> float:
    """Rank of an exit code in SEVERITY (0 = most severe); an unlisted code ranks just
    after 1, any other failure."""
    return SEVERITY.index(code) if code in SEVERITY else SEVERITY.index(1) + 0.5


def most_severe(codes: Sequence[int]) -> int:
    return min(codes, key=severity) if codes else 0


def parallel_accounts(parallel: int | None = None) -> int:
    """Accounts run at once: `parallel` (--parallel N), else the configured number."""
    if parallel is None:
        return load_settings().accounts_in_parallel
    return max(1, int(parallel))


def run_accounts(
    runs: Sequence[AccountRun],
    action: Callable[[AccountRun], int],
    parallel: int = DEFAULT_PARALLEL,
) -> int:
    """Run `action` for each account, at most `parallel` at once (threads: each account's
    sync waits on its own API and its own warehouse), print `account NAME: ...` for each as
    it ends, and return the most severe exit code. The single default account runs as
    before: its errors propagate to the command."""
    if len(runs) == 1 and runs[0].account is None:
        return action(runs[0])
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="insightly-account") as pool:
        codes = list(pool.map(lambda run: _outcome(run, action), runs))
    return most_severe(codes)


def _outcome(run: AccountRun, action: Callable[[AccountRun], int]) -> int:
    """One account's exit code, with its outcome line (stdout when 0, else stderr)."""
    detail = ""
    if run.problem is not None:
        code, detail = run.problem.exit_code, str(run.problem)
    else:
        try:
            code = action(run)
        except BrokenPipeError:  # the reader went away: cli.main ends quietly (141)
            raise
        except Exception as exc:
            error = find_user_error(exc)
            if error is None:  # a bug: keep the trace, with the key masked
                code, detail = 1, "".join(traceback.format_exception(exc)).rstrip()
            else:
                code, detail = error.exit_code, str(error)
    line = f"account {run.label}: exit {code} ({MEANING.get(code, 'failed')})"
    if detail:
        line += f": {detail}"
    print(_masked(line, run.options.api_key), file=sys.stdout if code == 0 else sys.stderr)
    return code


def _masked(text: str, key: str | None) -> str:
    return text.replace(key, "***") if key else text
