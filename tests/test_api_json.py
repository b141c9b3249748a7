"""JSON bodies: an integer past 64 bits reaches the warehouse exact, not as a float."""

from __future__ import annotations

from insightly.api.body import parse_body

BIG = 123456789012345678901234567890


def test_a_long_integer_is_read_exactly():
    body = b'[{"CONTACT_ID": 1, "X": 123456789012345678901234567890, "Y": -9223372036854775809}]'
    record = parse_body(body)[0]
    assert record["X"] == BIG and isinstance(record["X"], int)
    assert record["Y"] == -(2**63) - 1 and isinstance(record["Y"], int)
    assert parse_body(b'{"A": 1.5, "B": "x"}') == {"A": 1.5, "B": "x"}


def test_a_long_custom_field_value_lands_exact(emulator, warehouse):
    contact = emulator.tenant.records("Contacts")[0]
    field = next(f["FIELD_NAME"] for f in contact["CUSTOMFIELDS"])
    emulator.tenant.update("Contacts", contact["CONTACT_ID"], {"CUSTOMFIELDS": {field: BIG}})
    warehouse.sync(entities=["contacts"])
    stored = warehouse.query(
        "select field_value, field_value_type from contacts__customfields "
        f"where contact_id = {contact['CONTACT_ID']} and field_name = '{field}'"
    )
    assert stored == [(str(BIG), "number")]
