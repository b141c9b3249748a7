"""The step matrix of test_sync_tenants.py on the custom-heavy and odd tenants (a file of
its own, so that the two test workers share the matrix)."""

from __future__ import annotations

import pytest

from .test_sync_tenants import every_step


@pytest.mark.parametrize("tenant", ("custom-heavy", "odd"))
def test_every_step_on_a_tenant_unlike_the_demo(
    tenant, emulator_factory, tmp_path, monkeypatch, capsys
):
    every_step(tenant, emulator_factory, tmp_path, monkeypatch, capsys)
