# Every target that needs the environment depends on `install`, so any of them works as
# the first command on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: install sync push plan models dbt-sources query dagster status report demo bench chaos test lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev,emulator,postgres,dbt,dagster]"
	touch $(STAMP)

## sync: load Insightly into insightly_crm.duckdb (needs SOURCES__INSIGHTLY__API_KEY and __POD)
sync: install
	$(BIN)/insightly sync $(ARGS)

## push: apply a warehouse relation to Insightly (ARGS="lead_scores --dry-run", docs/push.md)
push: install
	$(BIN)/insightly push $(ARGS)

## plan: count records and price a full load / a sync in requests for each Insightly plan
plan: install
	$(BIN)/insightly plan $(ARGS)

## models: (re)build the SQL models (staging, typed custom fields, tags, links, marts)
models: install
	$(BIN)/insightly models $(ARGS)

## dbt-sources: write dbt/models/sources.yml from the loaded schema (ARGS="--out PATH ...")
dbt-sources: install
	$(BIN)/insightly dbt-sources $(ARGS)

## query: SQL on the DuckDB warehouse, printed as a table (SQL="select * from contacts limit 5")
SQL ?= select table_name from information_schema.tables where table_schema = 'insightly'
query: install
	$(BIN)/insightly query "$(SQL)" $(ARGS)

## dagster: the Dagster UI over the assets (docs/dagster.md), http://127.0.0.1:3000
dagster: install
	$(BIN)/dagster dev -m insightly.dagster_defs $(ARGS)

## status: last runs, freshness, pending backfills and today's quota, from the run log
status: install
	$(BIN)/insightly status $(ARGS)

## report: one offline HTML page, CRM charts and sync health (ARGS="--out FILE")
report: install
	$(BIN)/insightly report $(ARGS)

## bench: sync scenarios against the emulator; prints one table (ARGS="--scale 0.1" for a quick run)
bench: install
	$(BIN)/python -m bench $(ARGS)

## chaos: the long crash/drift/fault/hostile-data runs; prints what it tried and found
chaos: install
	$(BIN)/python -m bench.chaos

## demo: start the emulator, sync a realistic tenant into demo.duckdb, print a summary
demo: install
	$(BIN)/python -m insightly_emulator.demo $(ARGS)

## test: the whole test suite against the emulator, real DuckDB, PostgreSQL and Chromium (installed
## by bin/system-deps where apt is available); two workers, one test file
## each (the suite mostly waits on HTTP, subprocesses and servers: 2 cores stay busy)
test: install
	bin/system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n 2 --dist loadfile $(ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache demo.duckdb _storage build dist *.egg-info
