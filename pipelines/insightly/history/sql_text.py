"""SQL text for versions made in the warehouse (made.py): a version's lists as JSON text
and its hash, written so that DuckDB and Postgres give the same text for the same content.

Why by hand and not with the databases' JSON functions: DuckDB's `json_group_object` and
Postgres's `jsonb` print JSON differently (spacing, key order), and the text must match the
text the earlier Python path wrote (orjson, compact, keys sorted) so that an unchanged
version compares equal across the upgrade. Each item is quoted by the database's `to_json`
and the items are joined in code point order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def _quote(column: str, dialect: str) -> str:
    """A text column as a JSON string literal."""
    if dialect == "postgres":
        return f"to_json(cast({column} as text))::text"
    return f"cast(to_json(cast({column} as varchar)) as varchar)"


def json_object(name: str, value: str, kind: str, dialect: str) -> str:
    """`{"FIELD":value,...}` from a custom field table's rows, keys sorted: a string value
    is quoted, a null is `null`, anything else is already JSON text (read/rows.py)."""
    item = (
        f"{_quote(name, dialect)} || ':' || case when {value} is null or {kind} = 'null' "
        f"then 'null' when {kind} = 'string' then {_quote(value, dialect)} else {value} end"
    )
    return "'{' || " + _sorted_join(item, dialect) + " || '}'"


def json_array(name: str, dialect: str) -> str:
    """`["a","b"]` from a tag table's rows, sorted."""
    return "'[' || " + _sorted_join(_quote(name, dialect), dialect) + " || ']'"


def _sorted_join(item: str, dialect: str) -> str:
    """The items joined by commas in code point order. Sorting the items sorts by name: each
    starts with the quoted name, and `"` sorts before any character a name continues with.
    On DuckDB a sorted list is twice as fast as an ordered string_agg (0.86 s against
    1.79 s over 1.7M custom field rows)."""
    if dialect == "postgres":
        return f"string_agg({item}, ',' order by {item} collate \"C\")"
    return f"array_to_string(list_sort(list({item})), ',')"


def canonical(column: str, kind: str, dialect: str) -> str:
    """A value as text that reads the same on DuckDB and Postgres, by its column type."""
    kind = kind.lower()
    if kind.startswith("timestamp"):  # microseconds since 1970: no time zone or format
        if dialect == "postgres":
            return f"cast(cast(extract(epoch from {column}) * 1000000 as bigint) as text)"
        return f"cast(epoch_us({column}) as varchar)"
    if kind.startswith("bool"):
        return f"case when {column} then 'true' else 'false' end"
    if kind.startswith(("double", "real", "float")):  # 12.0 prints 12.0 on one, 12 on the other
        whole = f"{column} = trunc({column}) and abs({column}) < 1e15"
        return (
            f"case when {whole} then cast(cast({column} as bigint) as text) "
            f"else cast({column} as text) end"
        )
    return f"cast({column} as text)"


def canonical_hash(
    columns: Mapping[str, str], dialect: str, escape: Callable[[str], str], prefix: str = ""
) -> str:
    """md5 over `name=value` of the non-null columns, in name order: a column added later
    (null in older rows) leaves their hash as it was.

    `concat` skips a null part on both databases, and builds the text in one pass: a chain
    of `||` copies it once per column (0.53 s against 0.27 s for 83,500 contacts of 41
    columns on DuckDB, the same hashes). Nested by CONCAT_ARGS: Postgres takes at most 100
    arguments."""
    parts = []
    for name, kind in sorted(columns.items()):
        label = name.replace("'", "''")
        value = canonical(prefix + escape(name), kind, dialect)
        parts.append(f"'{label}=' || {value} || chr(31)")
    return f"md5({_concat(parts) if parts else chr(39) * 2})"


CONCAT_ARGS = 50


def _concat(parts: list[str]) -> str:
    if len(parts) <= CONCAT_ARGS:
        return f"concat({', '.join(parts)})"
    groups = range(0, len(parts), CONCAT_ARGS)
    return _concat([_concat(parts[i : i + CONCAT_ARGS]) for i in groups])
