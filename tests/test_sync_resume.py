"""A sync killed inside dlt's normalize commit (between renaming the normalized package into
the load storage and deleting the extracted one) leaves both; the next sync completes the
commit instead of failing on every run after it ("Directory not empty")."""

from __future__ import annotations

import shutil
from pathlib import Path

import dlt


def test_a_kill_inside_the_normalize_commit_is_completed_by_the_next_sync(emulator, warehouse):
    warehouse.sync(entities=["contacts"])
    pipeline = dlt.pipeline(
        pipeline_name="insightly",
        destination="duckdb",
        dataset_name="insightly",
        pipelines_dir=warehouse.pipelines_dir,
    )
    pipeline.extract([{"id": 1}], table_name="scratch")
    (load_id,) = pipeline.list_extracted_load_packages()
    extracted = Path(warehouse.pipelines_dir) / "insightly" / "normalize" / "extracted" / load_id
    kept = Path(warehouse.pipelines_dir).parent / "kept-package"
    shutil.copytree(extracted, kept)
    pipeline.normalize()
    shutil.copytree(kept, extracted)  # the state a SIGKILL right after the rename leaves
    assert load_id in pipeline.list_extracted_load_packages()
    assert load_id in pipeline.list_normalized_load_packages()
    contact = emulator.tenant.records("Contacts")[0]["CONTACT_ID"]
    emulator.tenant.update("Contacts", contact, {"TITLE": "After the kill"})
    result = warehouse.sync(entities=["contacts"])
    assert result.pending_loaded
    assert warehouse.query("select count(*) from scratch") == [(1,)]  # loaded once
    assert warehouse.query(f"select title from contacts where contact_id = {contact}") == [
        ("After the kill",)
    ]
    assert not pipeline.list_extracted_load_packages()
