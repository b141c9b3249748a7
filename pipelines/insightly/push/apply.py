"""Sending a plan: each write journaled before it goes and after its answer, rows in
parallel up to the pacer's in-flight cap, each row's writes in order (a create first, its
tags and links after). A lost answer is resolved before anything is sent again: a create
is looked up with /Search by its match key, a link in the record's links.
The quota reserve stops the push between writes; what was not sent is planned again by the
next run, from a copy that by then shows what this one applied."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from insightly.actions import Actions, WriteOutcomeUnknown, WriteRefused
from insightly.errors import AuthenticationError, InsightlyError, QuotaExhausted
from insightly.push.journal import APPLIED, REFUSED, UNKNOWN, Intent, Journal
from insightly.push.mapping import MatchKey
from insightly.push.objects import Target
from insightly.push.plan import (
    ADD_LINK,
    ADD_TAG,
    CREATE,
    DELETE,
    INVALID,
    REMOVE_LINK,
    REMOVE_TAG,
    UPDATE,
    RowPlan,
    Step,
)
from insightly.push.results import APPLIED as ROW_APPLIED
from insightly.push.results import EQUAL, INVALID_STATUS, PENDING, Outcome, PushReport
from insightly.push.results import REFUSED as ROW_REFUSED
from insightly.push.results import UNKNOWN as ROW_UNKNOWN
from insightly.push.snapshot import Current

log = logging.getLogger(__name__)

NOT_SENT, REPLANNED, NOT_APPLIED = "not_sent", "replanned", "not_applied"
CREATE_ATTEMPTS = 3  # sends of one create, tag or link, each after a lookup found it missing
LOOKABLE = frozenset({ADD_TAG, REMOVE_TAG, ADD_LINK, REMOVE_LINK})  # resolved by a look


class Stopped(Exception):
    """The push stops sending (the daily quota or its reserve)."""


def folded(value: Any, fold: bool) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value.casefold() if fold else value
    return value


def field_value(record: dict, name: str, custom: bool) -> Any:
    if not custom:
        return record.get(name)
    for item in record.get("CUSTOMFIELDS") or []:
        if str(item.get("FIELD_NAME", "")).lower() == name.lower():
            return item.get("FIELD_VALUE")
    return None


def current_from_api(target: Target, record: dict) -> Current:
    """A record as the API answers it, in the copy's shape (for a record the copy missed)."""
    return Current(
        int(record[target.key]),
        {f: record.get(f) for f in target.fields},
        {c["FIELD_NAME"]: c.get("FIELD_VALUE") for c in record.get("CUSTOMFIELDS") or []},
        [t["TAG_NAME"] for t in record.get("TAGS") or []],
        [
            (k["LINK_OBJECT_NAME"], k["LINK_OBJECT_ID"], k.get("LINK_ID"))
            for k in record.get("LINKS") or []
        ],
    )


class Applier:
    """Sends the writes of one push run."""

    def __init__(
        self,
        actions: Actions,
        journal: Journal,
        target: Target,
        report: PushReport,
        parent: str | None = None,
    ) -> None:
        self.actions, self.journal, self.target, self.report = actions, journal, target, report
        self.parent = parent  # notes: the parent object's table
        self.object = target.table
        self._lock = threading.Lock()
        self._stop: str | None = None

    # -- recovery of an earlier run's lost answers -----------------------------------------

    def find_created(self, match: tuple) -> int | None:
        """The record a create made, looked up by its match key (exact, e-mail folded);
        a note among its parent's notes."""
        name, custom, value, parent = (*match, None)[:4]
        fold = MatchKey(name, custom, "").folds_case
        if parent is not None and self.parent:
            candidates = self.actions.notes(self.parent, parent)
        else:
            candidates = self.actions.search(self.object, name, value)
        found = [
            int(r[self.target.key])
            for r in candidates
            if folded(field_value(r, name, custom), fold) == folded(value, fold)
        ]
        return max(found) if found else None  # the newest, should Search find several

    def recover(self, copy: dict[int, Current]) -> int:
        """Settle the writes an earlier run sent without an answer; a record a create made
        that the copy does not show yet is fetched into it, so it is not created twice."""
        recovered = 0
        for intent in self.journal.unresolved():
            status, found = REPLANNED, None
            if intent.kind == CREATE and intent.value:
                found = self.find_created(tuple(intent.value))
                status = APPLIED if found else NOT_APPLIED
                if found and found not in copy:
                    record = self.actions.get(self.object, found)
                    if record is not None:
                        copy[found] = current_from_api(self.target, record)
            elif intent.kind in (ADD_LINK, REMOVE_LINK) and intent.record is not None:
                linked = self._linked(intent.record, intent.value)
                status = APPLIED if linked == (intent.kind == ADD_LINK) else NOT_APPLIED
            recovered += status == APPLIED
            self.journal.settle(intent, status, found)
        return recovered

    def _linked(self, record_id: int, link: Any) -> bool:
        """Does the record link to (name, id)? (a removal's value also holds the LINK_ID)"""
        name, other = link[0], link[1]
        links = self.actions.links(self.object, record_id)
        return any(
            k.get("LINK_OBJECT_NAME") == name and k.get("LINK_OBJECT_ID") == other for k in links
        )

    # -- sending ---------------------------------------------------------------------------

    def run(self, rows: list[RowPlan], workers: int) -> None:
        todo = [(i, r) for i, r in enumerate(rows) if r.steps]
        for i, r in enumerate(rows):
            if r.action == INVALID:
                self.report.outcomes[i] = Outcome(INVALID_STATUS, r.record_id, r.error)
            elif not r.steps:
                self.report.outcomes[i] = Outcome(EQUAL, r.record_id, r.error)
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix="push") as pool:
            outcomes = pool.map(lambda item: self._counted(item[1]), todo)
            for index, outcome in zip((i for i, _ in todo), outcomes, strict=True):
                self.report.outcomes[index] = outcome
        self.report.stop = self._stop

    def _counted(self, row: RowPlan) -> Outcome:
        """A row sent, and counted as it ends when it failed (for the progress lines)."""
        outcome = self._row(row)
        if outcome.status in (ROW_REFUSED, ROW_UNKNOWN):
            with self._lock:
                self.report.failed += 1
        return outcome

    def _row(self, row: RowPlan) -> Outcome:
        record_id = row.record_id
        for step in row.steps:
            if self._stop:
                return Outcome(PENDING, record_id, self._stop)
            try:
                record_id = self._send(row, step, record_id)
            except WriteRefused as exc:
                return Outcome(ROW_REFUSED, record_id, str(exc))
            except WriteOutcomeUnknown as exc:
                return Outcome(ROW_UNKNOWN, record_id, f"{exc}; tried again next run")
            except Stopped:
                return Outcome(PENDING, record_id, self._stop)
            except QuotaExhausted as exc:  # during a lookup after a lost answer
                with self._lock:
                    self._stop = self._stop or str(exc)
                return Outcome(PENDING, record_id, self._stop)
            except AuthenticationError:
                raise  # the key is wrong: nothing else will succeed
            except InsightlyError as exc:  # a lookup that failed: the row is tried again
                return Outcome(ROW_UNKNOWN, record_id, f"{exc}; tried again next run")
        return Outcome(ROW_APPLIED, record_id)

    def _send(self, row: RowPlan, step: Step, record_id: int | None) -> int | None:
        if step.kind == CREATE:
            return self._create(row, step)
        assert record_id is not None
        for _ in range(CREATE_ATTEMPTS):
            intent = self.journal.intend(
                row.key, step.kind, record_id, step.value, self.report.run_id
            )
            try:
                self._call(step, record_id)
            except QuotaExhausted as exc:
                self._halt(intent, exc)
            except WriteRefused:
                self.journal.settle(intent, REFUSED)
                raise
            except WriteOutcomeUnknown:
                self._count()
                landed = step.kind in LOOKABLE and self._landed(step, record_id)
                status = NOT_APPLIED if step.kind in LOOKABLE else UNKNOWN
                self.journal.settle(intent, APPLIED if landed else status, record_id)
                if landed:
                    return record_id
                if step.kind not in LOOKABLE:
                    raise  # an update or delete was already retried by the transport
                continue
            self._count()
            self.journal.settle(intent, APPLIED, record_id)
            return record_id
        raise WriteOutcomeUnknown(f"{step.kind} {row.key}", f"{CREATE_ATTEMPTS} lost answers")

    def _landed(self, step: Step, record_id: int) -> bool:
        """After a lost answer: does the record show the tag or link change?"""
        if step.kind in (ADD_LINK, REMOVE_LINK):
            return self._linked(record_id, step.value) == (step.kind == ADD_LINK)
        record = self.actions.get(self.object, record_id) or {}
        tags = {t.get("TAG_NAME") for t in record.get("TAGS") or []}
        return (step.value in tags) == (step.kind == ADD_TAG)

    def _call(self, step: Step, record_id: int) -> None:
        obj = self.object
        if step.kind == UPDATE:
            assert step.body is not None
            self.actions.update(obj, record_id, step.body)
        elif step.kind == DELETE:
            self.actions.delete(obj, record_id)
        elif step.kind == ADD_TAG:
            self.actions.add_tag(obj, record_id, step.value)
        elif step.kind == REMOVE_TAG:
            self.actions.remove_tag(obj, record_id, step.value)
        elif step.kind == ADD_LINK:
            name, other = step.value
            self.actions.add_link(
                obj, record_id, {"LINK_OBJECT_NAME": name, "LINK_OBJECT_ID": other}
            )
        elif step.kind == REMOVE_LINK:
            link_id = self._link_id(record_id, step.value)
            if link_id is not None:  # None: already gone, as remove_link's 404 would say
                self.actions.remove_link(obj, record_id, link_id)
        else:
            raise ValueError(f"unknown step {step.kind}")

    def _link_id(self, record_id: int, link: Any) -> int | None:
        """The LINK_ID to delete: the copy's, else looked up (a copy without LINK_ID)."""
        name, other, link_id = link
        if link_id is not None:
            return int(link_id)
        for k in self.actions.links(self.object, record_id):
            if k.get("LINK_OBJECT_NAME") == name and k.get("LINK_OBJECT_ID") == other:
                return int(k["LINK_ID"])
        return None

    def _create(self, row: RowPlan, step: Step) -> int:
        """POST, and after a lost answer look before sending again (never blindly)."""
        assert row.match is not None and step.body is not None
        for _ in range(CREATE_ATTEMPTS):
            intent = self.journal.intend(row.key, CREATE, None, row.match, self.report.run_id)
            try:
                if self.parent and step.value is not None:
                    created = self.actions.create_note(self.parent, step.value, step.body)
                else:
                    created = self.actions.create(self.object, step.body)
            except QuotaExhausted as exc:
                self._halt(intent, exc)
            except WriteRefused:
                self.journal.settle(intent, REFUSED)
                raise
            except WriteOutcomeUnknown as exc:
                self._count()
                found = self.find_created(row.match)
                self.journal.settle(intent, APPLIED if found else NOT_APPLIED, found)
                if found:
                    with self._lock:
                        self.report.recovered += 1
                    return found
                log.warning("%s: not applied after a lost answer, sending again: %s", row.key, exc)
                continue
            self._count()
            new_id = int(created[self.target.key])
            self.journal.settle(intent, APPLIED, new_id)
            return new_id
        raise WriteOutcomeUnknown(f"create {row.key}", f"{CREATE_ATTEMPTS} attempts without answer")

    def _halt(self, intent: Intent, exc: QuotaExhausted) -> None:
        """The quota refused this write before it was sent: stop every worker."""
        self.journal.settle(intent, NOT_SENT)
        with self._lock:
            self._stop = self._stop or str(exc)
        raise Stopped from None

    def _count(self) -> None:
        with self._lock:
            self.report.writes += 1
