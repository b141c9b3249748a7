"""Your own models: a folder of `.sql` files, each one SELECT, built as views after ours.

The light answer for a model a push reads, or for users without dbt (docs/models.md): set
`user_models_dir = "analytics"` under `[sources.insightly]`, put `lead_scores.sql` in it,
and every `insightly models` and every sync creates the view `analytics.lead_scores`.

- Files are built in name order (`10_base.sql` before `20_scores.sql`), so a file may read
  the views of the files before it.
- Each file is written in DuckDB's dialect, as ours are, and rendered for the destination
  with sqlglot. `raw.`, `stg.` and `reporting.` name our schemas on any dataset; real schema
  names work too.
- The schema (`user_models_schema`, default `analytics`) is never dropped: each view is
  replaced in place. On Postgres, the rebuild of our schemas drops (by CASCADE) the views
  that read them; they are made again from their files right after, in the same build.
- A file that is not one SELECT, or that fails, is named in the build's failures (exit 6);
  the other files are still built.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from insightly.models.dialects import SOURCE_DIALECT, dialect_of, ident, render, table

Create = Callable[[str, str, Any], bool]  # build.py's create(schema, name, select)


def user_model_files(folder: str | Path) -> list[Path]:
    """The folder's `.sql` files in name order; FileNotFoundError when it is not a folder."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"user_models_dir {str(folder)!r} is not a folder")
    return sorted(path.glob("*.sql"), key=lambda p: p.name)


def one_select(text: str, name: str) -> exp.Query:
    """The file's one SELECT (or UNION, WITH ...); ValueError naming what it holds instead."""
    try:
        statements = [s for s in sqlglot.parse(text, read=SOURCE_DIALECT) if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise ValueError(f"{name}: not valid SQL: {' '.join(str(exc).split())[:200]}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        kinds = ", ".join(type(s).__name__.upper() for s in statements) or "nothing"
        raise ValueError(f"{name}: a user model is one SELECT, this file holds {kinds}")
    return statements[0]


def bind(select: exp.Query, schemas: dict[str, str]) -> exp.Query:
    """`raw.x`, `stg.x`, `reporting.x` bound to the real schemas; other names kept."""
    for t in select.find_all(exp.Table):
        if not t.catalog and t.db in schemas:
            t.set("db", ident(schemas[t.db]))
    return select


def create_schema(schema: str, destination: str) -> str:
    """CREATE SCHEMA IF NOT EXISTS: the user's schema is made once and never dropped."""
    return render(
        exp.Create(this=exp.Table(this=ident(schema)), kind="SCHEMA", exists=True), destination
    )


def create_or_replace(schema: str, name: str, select: exp.Expression, destination: str) -> str:
    """CREATE OR REPLACE VIEW: a changed file replaces its view without dropping the schema.
    (Postgres refuses a replace that drops or renames columns; build_user_models then drops
    that one view and creates it again.)"""
    create = exp.Create(this=table(schema, name), kind="VIEW", expression=select, replace=True)
    return render(create, destination)


def drop_view(schema: str, name: str, destination: str) -> str:
    return render(exp.Drop(tables=[table(schema, name)], kind="VIEW", exists=True), destination)


def build_user_models(
    execute: Callable[[str], Any],
    folder: str | Path,
    schema: str,
    schemas: dict[str, str],
    destination: str,
    failed: dict[str, str],
) -> list[str]:
    """Build each file of `folder` as `schema.<file name>`; failures go to `failed`
    (schema.view or the folder -> one line). Returns the views built."""
    try:
        files = user_model_files(folder)
    except FileNotFoundError as exc:
        failed[f"{schema} (user models)"] = str(exc)
        return []
    if not files:
        return []
    execute(create_schema(schema, destination))
    built: list[str] = []
    for path in files:
        name = path.stem
        try:
            select = bind(one_select(path.read_text(), path.name), schemas)
            _replace(execute, schema, name, select, destination)
        except Exception as exc:
            failed[f"{schema}.{name}"] = " ".join(str(exc).split())[:300]
            continue
        built.append(name)
    return built


def _replace(
    execute: Callable[[str], Any], schema: str, name: str, select: exp.Query, destination: str
) -> None:
    try:
        execute(create_or_replace(schema, name, select, destination))
    except Exception:
        if dialect_of(destination) == "duckdb":  # DuckDB replaces any view: a real error
            raise
        # Postgres refuses a replace that drops or renames a column: make it anew (an
        # error of the file itself shows again on the create)
        execute(drop_view(schema, name, destination))
        execute(create_or_replace(schema, name, select, destination))
