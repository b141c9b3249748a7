"""What a tenant unlike the demo lacks: lists no record carries, and per-record endpoints
that answer 404."""

from __future__ import annotations

from insightly.catalogue.entities import PER_RECORD

from .tenant_steps import Steps, api_requests, per_record


def test_a_tenant_without_tags_links_or_custom_fields_builds_every_model(
    emulator_factory, tmp_path, monkeypatch, capsys
):
    """No record of any entity has tags, links or custom fields (array keys absent on some
    entities, empty on others): the child tables exist with their columns, the models
    build, and `record_tags` and `record_links` exist, empty."""
    emu = emulator_factory(profile="tiny", tenant="bare")
    steps = Steps(emu, tmp_path, monkeypatch, capsys)
    steps.sync()
    for table, column in (("tickets__tags", "tag_name"), ("contacts__links", "link_id")):
        columns = {
            r[0]
            for r in steps.query(
                "select column_name from information_schema.columns "
                f"where table_schema = 'insightly' and table_name = '{table}'"
            )
        }
        assert column in columns, (table, columns)
    assert steps.query("select count(*) from insightly_stg.record_tags") == [(0,)]
    assert steps.query("select count(*) from insightly_stg.record_links") == [(0,)]
    tickets = steps.query("select count(*) from insightly_stg.tickets")[0][0]
    assert tickets == emu.tenant.count("Ticket") > 0


def test_per_record_endpoints_that_answer_404_are_probed_three_times_then_left(
    emulator_factory, tmp_path, monkeypatch, capsys
):
    """Every per-record table opted in, on a tenant where each answers 404: the first sync
    probes each (parent, list) at most three times, the second asks none, and the summary
    and `insightly status` name them."""
    emu = emulator_factory(profile="tiny", tenant="minimal-plan")
    steps = Steps(emu, tmp_path, monkeypatch, capsys)
    monkeypatch.setenv("SOURCES__INSIGHTLY__PER_RECORD_TABLES", ",".join(
        ["opportunity_state_history", *(p.table for p in PER_RECORD)]
    ))  # fmt: skip
    emu.clear_requests()
    code, out, _ = steps.run("sync", *steps.pipelines, "--progress", "off")
    assert code == 0
    asked: dict[tuple[str, str], int] = {}
    for r in per_record(api_requests(emu)):
        parts = r.path.strip("/").split("/")
        key = (parts[-3].lower(), parts[-1].lower())
        asked[key] = asked.get(key, 0) + 1
    assert asked, "the endpoints were probed"
    assert max(asked.values()) <= 3 and set(asked.values()) <= {1, 2, 3}
    assert "statehistory" in {k[1] for k in asked}
    assert "StateHistory answers 404" in out and "Comments answers 404" in out

    _, second = steps.sync()
    assert per_record(second) == []
    code, out, _ = steps.run("status", *steps.pipelines)
    assert "per-record opportunities/StateHistory" in out
    assert "per-record contacts/FileAttachments" in out
    assert "list projects" in out  # outside the plan: the last sync skipped it
