"""Shared by the push tests: a synced copy made once and copied per test (a sync of the
test tenant's contacts costs seconds; the emulator's seed makes every tenant the same),
desired rows built in DuckDB, and the emulator compared with what was asked."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from insightly.push import config
from insightly.push.command import PushOptions, PushResult, run_push
from insightly.push.snapshot import CustomField
from insightly.push.validate import custom as custom_value
from insightly.push.validate import standard as standard_value
from insightly_emulator import Emulator, EmulatorConfig

from .conftest import API_KEY, FAST_RETRIES, Warehouse

_TEMPLATES: dict[str, Path] = {}
WRITE_METHODS = ("POST", "PUT", "DELETE")
# Custom fields of contacts, one per FIELD_TYPE the push validates (customfields.py)
EVERY_TYPE = {
    "hobby__c": "TEXT",
    "interests__c": "MULTISELECT",
    "newsletter_subscription__c": "BIT",
    "preferred_contact_method__c": "DROPDOWN",
    "customer_since__c": "DATE",
    "last_review__c": "DATETIME",
    "internal_notes__c": "MULTILINETEXT",
    "lifetime_value__c": "NUMERIC",
    "discount_rate__c": "PERCENT",
    "homepage__c": "URL",
}


def synced_template(base: Path) -> Path:
    """The test tenant's contacts and custom field metadata, synced once per session."""
    key = str(base)
    if key not in _TEMPLATES:
        root = base / "push-template"
        with Emulator(EmulatorConfig(seed=7, profile="test", api_key=API_KEY)) as emu:
            wh = Warehouse(root, emu.base_url)
            env = {
                "DESTINATION__DUCKDB__CREDENTIALS": str(wh.path),
                "SOURCES__INSIGHTLY__RATE_PER_S": "500",
            }
            with _environ(env):
                wh.sync(entities=["contacts", "custom_fields"])
        _TEMPLATES[key] = root
    return _TEMPLATES[key]


class _environ:
    def __init__(self, values: dict[str, str]) -> None:
        self.values, self.saved = values, {}

    def __enter__(self) -> None:
        self.saved = {k: os.environ.get(k) for k in self.values}
        os.environ.update(self.values)

    def __exit__(self, *exc: object) -> None:
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class PushEnv:
    """An emulator with the test tenant and a warehouse holding its synced contacts."""

    emulator: Emulator
    warehouse: Warehouse

    def options(self, **overrides: Any) -> PushOptions:
        values: dict[str, Any] = {
            "pipelines_dir": self.warehouse.pipelines_dir,
            "api_key": API_KEY,
            "base_url": self.emulator.base_url,
            "client_options": dict(FAST_RETRIES),
        }
        values.update(overrides)
        return PushOptions(**values)

    def push(self, spec: config.PushSpec, **overrides: Any) -> PushResult:
        return run_push(spec, self.options(**overrides))

    def execute(self, *statements: str) -> None:
        with duckdb.connect(str(self.warehouse.path)) as con:
            for statement in statements:
                con.execute(statement)

    def write_events(self) -> list[Any]:
        return [e for e in self.emulator.writes.events()]

    def write_requests(self) -> list[Any]:
        return [r for r in self.emulator.requests if r.method in WRITE_METHODS]


def start(request: Any, tmp_path: Path, **switches: Any) -> PushEnv:
    """A fresh emulator (same seed, same data) and a copy of the synced template, with the
    environment the `warehouse` fixture sets (DuckDB file, a rate the emulator allows)."""
    base = request.getfixturevalue("tmp_path_factory").getbasetemp()
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("SOURCES__INSIGHTLY__RATE_PER_S", "500")
    monkeypatch.setenv("SOURCES__INSIGHTLY__MAX_IN_FLIGHT", "6")
    template = synced_template(base)
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    emu = request.getfixturevalue("emulator_factory")(**switches)
    warehouse = Warehouse(tmp_path, emu.base_url)
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(warehouse.path))
    return PushEnv(emu, warehouse)


def contacts_by_email(emulator: Emulator) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for record in emulator.tenant.records("Contacts"):
        email = record.get("EMAIL_ADDRESS")
        if email:
            out.setdefault(email.casefold(), []).append(record)
    return out


def mismatches(record: dict, row: dict, customs: dict[str, CustomField]) -> list[str]:
    """How an emulator record differs from a desired row (API-normalised values)."""
    problems = []
    fields = {"FIRST_NAME": "text", "LAST_NAME": "text", "TITLE": "text", "PHONE": "text"}
    for name, kind in fields.items():
        if name.lower() in row and record.get(name) != standard_value(
            name, kind, row[name.lower()]
        ):
            problems.append(f"{name}: {record.get(name)!r} != {row[name.lower()]!r}")
    have = {c["FIELD_NAME"]: c.get("FIELD_VALUE") for c in record.get("CUSTOMFIELDS") or []}
    for col, meta in customs.items():
        if col in row:
            want = custom_value(meta, row[col])
            got = have.get(meta.name)
            got = custom_value(meta, got) if got is not None else None
            if got != want:
                problems.append(f"{meta.name}: {got!r} != {want!r}")
    tags = {t["TAG_NAME"] for t in record.get("TAGS") or []}
    if "tags" in row and not set(row["tags"] or []) <= tags:
        problems.append(f"tags {sorted(tags)} lack {row['tags']}")
    return problems
