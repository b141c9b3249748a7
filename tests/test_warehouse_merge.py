"""Our DuckDB merge (warehouse/merge.py): the staged rows are numbered by key only when a
key repeats among them, and either way one row per key is kept, the right one."""

from __future__ import annotations

import dlt
import pyarrow as pa
import pytest

from insightly.sync.pipeline import DuckDbWithMemoryLimit
from insightly.warehouse import merge

HINTS = {
    "write_disposition": {"disposition": "merge", "strategy": "delete-insert"},
    "primary_key": ["parent_id", "_position"],
    "merge_key": ["parent_id"],
}


@pytest.fixture
def pipeline(tmp_path):
    destination = DuckDbWithMemoryLimit(credentials=str(tmp_path / "merge.duckdb"))
    return dlt.pipeline(
        pipeline_name="merge_test",
        destination=destination,
        dataset_name="merged",
        pipelines_dir=str(tmp_path / "pipelines"),
    )


@pytest.fixture
def merges(monkeypatch) -> list[list[str]]:
    """The SQL of every merge dlt makes with our job (the job files are deleted after)."""
    made: list[list[str]] = []
    original = merge.KeyedMergeJob.gen_merge_sql.__func__

    def recorded(cls, table_chain, sql_client):
        sql = original(cls, table_chain, sql_client)
        made.append(sql)
        return sql

    monkeypatch.setattr(merge.KeyedMergeJob, "gen_merge_sql", classmethod(recorded))
    return made


def _load(pipeline, rows: list[tuple[int, int, str]]) -> None:
    parent, position, value = (list(c) for c in zip(*rows, strict=True))
    table = pa.table({"parent_id": parent, "_position": position, "value": value})
    resource = dlt.resource([table], name="children", **HINTS)
    pipeline.run(resource, loader_file_format="parquet")


def _rows(pipeline) -> list[tuple]:
    with pipeline.sql_client() as sql:
        return sql.execute_sql("select parent_id, _position, value from children order by 1, 2")


def _numbered(sql: list[str]) -> bool:
    return any("ROW_NUMBER()" in statement for statement in sql)


def test_unique_staged_keys_are_inserted_without_numbering(pipeline, merges):
    _load(pipeline, [(1, 0, "a"), (1, 1, "b"), (2, 0, "c")])
    _load(pipeline, [(1, 0, "a2"), (3, 0, "d")])  # parent 1 now has one child
    assert _rows(pipeline) == [(1, 0, "a2"), (2, 0, "c"), (3, 0, "d")]
    assert len(merges) == 2
    assert not any(_numbered(sql) for sql in merges)


def test_a_key_staged_twice_is_numbered_and_kept_once(pipeline, merges):
    _load(pipeline, [(1, 0, "a"), (2, 0, "b")])
    _load(pipeline, [(1, 0, "x"), (1, 0, "x"), (2, 0, "c")])  # parent 1 read twice
    assert _rows(pipeline) == [(1, 0, "x"), (2, 0, "c")]
    assert [_numbered(sql) for sql in merges] == [False, True]
