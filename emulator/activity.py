"""Per-record activity: `/{Parent}/{id}/Comments` and `/{Parent}/{id}/FileAttachments`.

Shapes as docs/api.md §8 gives them: comments on Emails, Notes and Tasks have
COMMENT_ID, BODY, OWNER_USER_ID, DATE_CREATED_UTC, DATE_UPDATED_UTC, NOTE_ID, TASK_ID,
EMAIL_ID; ticket comments have their own shape and id; file attachments are metadata only.
Both lists take `updated_after_utc`, `skip`, `top` and `count_total`.

Generated items are a pure function of (seed, kind, parent entity, parent index), so none
is kept in memory until a test adds, edits or removes one. Whether a new comment or
attachment bumps its parent's DATE_UPDATED_UTC is not confirmed (docs/api.md §8): the
switch `activity_updates_parent` ("no" by default, or "yes") decides.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .catalog import spec
from .params import ApiError, parse_bool, parse_paging, parse_utc
from .rand import DAY, fmt_ts, rand
from .vocab import SENTENCES

if TYPE_CHECKING:
    from .store import Tenant

COMMENTS, ATTACHMENTS = "Comments", "FileAttachments"
PARENTS: dict[str, tuple[str, ...]] = {
    COMMENTS: ("Emails", "Notes", "Tasks", "Ticket"),
    ATTACHMENTS: (
        "Contacts",
        "Leads",
        "Organisations",
        "Opportunities",
        "Projects",
        "Notes",
        "Emails",
        "Fruit__c",
        "Project_Site__c",
    ),
}
# Item ids: a range per (kind, parent) so they are unique across parents, like a sequence.
ID_BASE = {
    (kind, p): 100_000_000 * (n + 1) for kind in PARENTS for n, p in enumerate(PARENTS[kind])
}
PER_PARENT = 4  # at most this many generated items per parent
ADDED_BASE = 9_000_000_000  # ids of items added at run time
FILES = (
    ("proposal.pdf", "application/pdf"),
    ("signed-contract.pdf", "application/pdf"),
    ("site-photo.jpg", "image/jpeg"),
    ("pricing.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("meeting-notes.docx", "application/msword"),
    ("logo.png", "image/png"),
)  # fmt: skip
CHANNELS = ("Email", "Portal", "Phone", "Internal")


def item_key(kind: str, parent: str) -> str:
    """The id field of the items of `kind` under `parent`."""
    if kind == ATTACHMENTS:
        return "FILE_ID"
    return "TICKET_COMMENT_ID" if parent == "Ticket" else "COMMENT_ID"


class ActivityStore:
    """Generated comments and attachments of a tenant, plus what was added, edited or
    removed at run time."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self._lock = threading.Lock()
        self._added: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        self._edits: dict[int, dict[str, Any]] = {}
        self._removed: set[int] = set()
        self._next = ADDED_BASE

    # ------------------------------------------------------------------ reading
    def items(self, kind: str, parent: str, parent_id: int) -> list[dict[str, Any]] | None:
        """Every live item under a parent, in id order; None when the parent doesn't exist."""
        parent = spec(parent).name
        t = self.tenant.table(parent)
        index = t.index_of(parent_id)
        if index is None:
            return None
        generated = self._generated(kind, parent, index, parent_id)
        with self._lock:
            added = [dict(i) for i in self._added.get((kind, parent, parent_id), [])]
            edits, removed = dict(self._edits), set(self._removed)
        id_field = item_key(kind, parent)
        out = []
        for item in (*generated, *added):
            if item[id_field] in removed:
                continue
            out.append({**item, **edits.get(item[id_field], {})})
        return sorted(out, key=lambda i: i[id_field])

    def _generated(self, kind: str, parent: str, index: int, parent_id: int) -> list[dict]:
        seed = self.tenant.seed
        r = rand(seed, "activity", kind, parent, index)
        share = 0.35 if kind == COMMENTS else 0.25
        if index >= self.tenant.n(parent) or not r.chance(share):
            return []
        created = self.tenant.created(parent, index)
        anchor = self.tenant.anchor
        out = []
        for k in range(1 + int(r.random() * (PER_PARENT - 1))):
            item_id = ID_BASE[(kind, parent)] + index * PER_PARENT + k
            at = min(anchor - 1, created + int(r.random() * 60 * DAY))
            edited = at + int(r.random() * 5 * DAY) if r.chance(0.2) else at
            out.append(
                self._shape(kind, parent, parent_id, item_id, at, min(edited, anchor - 1), r)
            )
        return out

    def _shape(
        self, kind: str, parent: str, parent_id: int, item_id: int, at: int, edited: int, r: Any
    ) -> dict[str, Any]:
        user = self._ref("Users", r)
        if kind == ATTACHMENTS:
            name, content_type = r.pick(FILES)
            return {
                "FILE_ID": item_id,
                "FILE_NAME": name,
                "CONTENT_TYPE": content_type,
                "FILE_SIZE": r.between(2_000, 8_000_000),
                "FILE_CATEGORY_ID": self._ref("FileCategories", r) if r.chance(0.6) else None,
                "OWNER_USER_ID": user,
                "DATE_CREATED_UTC": fmt_ts(at),
                "DATE_UPDATED_UTC": fmt_ts(edited),
                "URL": f"https://files.insightly.example/{item_id}/{name}",
            }
        if parent == "Ticket":
            public = r.chance(0.7)
            return {
                "TICKET_COMMENT_ID": item_id,
                "TICKET_ID": parent_id,
                "BODY_HTML": f"<p>{r.pick(SENTENCES)}</p>",
                "PUBLIC_COMMENT": public,
                "CHANNEL": r.pick(CHANNELS),
                "AUTHOR_CONTACT_ID": self._ref("Contacts", r) if public else None,
                "CREATED_USER_ID": None if public else user,
                "DATE_CREATED_UTC": fmt_ts(at),
            }
        field = {"Emails": "EMAIL_ID", "Notes": "NOTE_ID", "Tasks": "TASK_ID"}[parent]
        return {
            "COMMENT_ID": item_id,
            "BODY": r.pick(SENTENCES),
            "OWNER_USER_ID": user,
            "DATE_CREATED_UTC": fmt_ts(at),
            "DATE_UPDATED_UTC": fmt_ts(edited),
            "NOTE_ID": None,
            "TASK_ID": None,
            "EMAIL_ID": None,
            field: parent_id,
        }

    def _ref(self, entity: str, r: Any) -> int | None:
        n = self.tenant.n(entity)
        return self.tenant.id(entity, int(r.random() * n)) if n else None

    # ------------------------------------------------------------------ mutations
    def add(self, kind: str, parent: str, parent_id: int, at: datetime | None = None) -> dict:
        """A new comment or attachment on a parent (dated `at` or now); bumps the parent's
        DATE_UPDATED_UTC when the switch `activity_updates_parent` is "yes"."""
        from .store import to_epoch

        parent = spec(parent).name
        if parent not in PARENTS[kind]:
            raise ValueError(f"{parent} has no {kind}")
        if self.tenant.get(parent, parent_id) is None:
            raise KeyError(f"{parent} {parent_id} does not exist")
        when = to_epoch(at)
        with self._lock:
            self._next += 1
            item_id = self._next
        r = rand(self.tenant.seed, "added", item_id)
        item = self._shape(kind, parent, parent_id, item_id, when, when, r)
        with self._lock:
            self._added.setdefault((kind, parent, parent_id), []).append(item)
        self._touch_parent(parent, parent_id, at)
        return dict(item)

    def edit(
        self, kind: str, parent: str, parent_id: int, item_id: int, at: datetime | None = None
    ):
        """Edit an item's text (and DATE_UPDATED_UTC, where it has one)."""
        from .store import to_epoch

        parent = spec(parent).name
        field = (
            "FILE_NAME" if kind == ATTACHMENTS else "BODY_HTML" if parent == "Ticket" else "BODY"
        )
        change: dict[str, Any] = {field: f"edited {item_id} at {to_epoch(at)}"}
        if not (kind == COMMENTS and parent == "Ticket"):
            change["DATE_UPDATED_UTC"] = fmt_ts(to_epoch(at))
        with self._lock:
            self._edits.setdefault(item_id, {}).update(change)
        self._touch_parent(parent, parent_id, at)

    def remove(self, item_id: int) -> None:
        with self._lock:
            self._removed.add(item_id)

    def _touch_parent(self, parent: str, parent_id: int, at: datetime | None) -> None:
        if self.tenant.config.activity_updates_parent == "yes":
            self.tenant.update(parent, parent_id, {}, at=at)


def activity_reply(tenant: Tenant, route_arg: Any, params: dict[str, str], top_over_max: str):
    """The page and X-Total-Count of `/{Parent}/{id}/{kind}`."""
    kind, parent, parent_id = route_arg
    items = tenant.activity.items(kind, parent, parent_id)
    if items is None:
        raise ApiError(404, f"{spec(parent).link_name or parent} not found")
    skip, top = parse_paging(params, top_over_max)
    after_text = params.get("updated_after_utc")
    if after_text:
        after = parse_utc("updated_after_utc", after_text)
        stamp = (
            "DATE_CREATED_UTC"
            if item_key(kind, parent) == "TICKET_COMMENT_ID"
            else "DATE_UPDATED_UTC"
        )
        items = [i for i in items if _epoch(i[stamp]) > after]
    count_total = parse_bool("count_total", params.get("count_total"))
    return items[skip : skip + top], (len(items) if count_total else None)


def _epoch(stamp: str) -> int:
    return parse_utc("stamp", stamp)
