"""`insightly query "select ..."`: ask the DuckDB warehouse a question from the command line.

No `duckdb` CLI is needed (and the one on PyPI can't open files written by DuckDB 2.0): the
query runs on the project's own duckdb package, over a read-only connection, with the raw
dataset on the search path, so `select * from contacts limit 5` works. The answer is printed
as an aligned text table; several statements (`select 1; select 2`) are split by DuckDB's own
parser and each answer is printed in turn.

`--write` opens the file read-write, under the sync's lock (a sync or push running waits, or
the command exits 7), for what the read-only connection refuses: `create schema analytics`,
a view or a table of your own. (A folder of models rebuilt by every sync is the other way:
`user_models_dir`, models/user.py.)"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from insightly.errors import QueryFailed
from insightly.sync.pipeline import DEFAULT_DUCKDB_FILE

DEFAULT_DATABASE = DEFAULT_DUCKDB_FILE
MAX_CELL = 60  # characters of one value; longer ones are cut with "..."


def default_database() -> str:
    """The DuckDB file the sync loads: DESTINATION__DUCKDB__CREDENTIALS (or the same setting
    in .dlt/), else insightly_crm.duckdb in the working directory, as the sync chooses it."""
    import dlt

    for provider in (dlt.config, dlt.secrets):
        value = provider.get("destination.duckdb.credentials")
        if isinstance(value, dict):
            value = value.get("database")
        if isinstance(value, str) and value.strip():
            value = value.strip()
            return value.removeprefix("duckdb:///") if value.startswith("duckdb:///") else value
    return DEFAULT_DATABASE


def run_query(
    sql: str, database: str | None = None, dataset: str = "insightly", max_rows: int = 100
) -> str:
    """The answer to `sql` as text (each statement's, a blank line between them). Raises
    QueryFailed with a one-line reason."""
    return "\n\n".join(run_queries(sql, database, dataset, max_rows))


def run_queries(
    sql: str,
    database: str | None = None,
    dataset: str = "insightly",
    max_rows: int = 100,
    write: bool = False,
) -> Iterator[str]:
    """The answer to each statement of `sql` as text, in order, each as soon as it is
    known. Raises QueryFailed with a one-line reason: no file, no statement (empty SQL or
    only comments), or a statement DuckDB refuses (the answers before it were yielded).
    `write` opens the file read-write (the caller holds the sync's lock)."""
    import duckdb

    path = database or default_database()
    if not Path(path).exists():
        raise QueryFailed(
            f"no DuckDB file at {path}: run `insightly sync` first, or pass --database FILE"
        )
    try:
        con = duckdb.connect(path, read_only=not write)
    except duckdb.Error as exc:
        raise QueryFailed(f"cannot open {path}: {_one_line(exc)}") from None
    try:
        try:
            statements = con.extract_statements(sql)
        except duckdb.Error as exc:
            raise QueryFailed(f"query failed: {_one_line(exc)}") from None
        if not statements:
            raise QueryFailed(
                "no SQL statement to run (the text is empty or only comments): e.g. "
                '"select * from contacts limit 5"'
            )
        schemas = con.execute("select schema_name from information_schema.schemata").fetchall()
        if (dataset,) in schemas:
            con.execute(f"SET search_path = '{dataset.replace(chr(39), chr(39) * 2)},main'")
        for statement in statements:
            yield _answer(con, statement.query, max_rows)
    finally:
        con.close()


def _answer(con: Any, sql: str, max_rows: int) -> str:
    """One statement's answer as a table ("ok" for one without a result)."""
    import duckdb

    try:
        cursor = con.execute(sql)
        if cursor.description is None:  # a statement without a result
            return "ok"
        rows = cursor.fetchmany(max_rows + 1) if max_rows > 0 else cursor.fetchall()
    except duckdb.Error as exc:  # fetching runs the query too (a cast failing on row 10 000)
        raise QueryFailed(f"query failed: {_one_line(exc)}") from None
    columns = [d[0] for d in cursor.description]
    more = max_rows > 0 and len(rows) > max_rows
    return render_table(columns, rows[:max_rows] if more else rows, more)


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], more: bool = False) -> str:
    """Columns aligned, numbers to the right, NULL for missing values, then the row count."""
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], (int, float, Decimal)) or row[i] is None for row in rows)
        and any(row[i] is not None for row in rows)
        for i in range(len(columns))
    ]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if right else v.ljust(w)
            for v, w, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    count = f"{len(rows)} row" + ("" if len(rows) == 1 else "s")
    out.append(f"({count}; more not shown: --max-rows N, 0 for all)" if more else f"({count})")
    return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, (date, time)):
        text = value.isoformat()
    else:
        text = str(value)
    text = text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 3] + "..."


def _one_line(exc: BaseException) -> str:
    """DuckDB's message without its LINE/caret pointer, on one line."""
    lines = [s.strip() for s in str(exc).splitlines()]
    kept = [s for s in lines if s and not s.startswith(("LINE ", "^"))]
    return " ".join(kept) or type(exc).__name__
