"""The write side of the emulator: POST/PUT/DELETE and the per-record sub-endpoints,
routed here by a small hook in ``app.py`` (the write side: docs/api.md §10).

Writes pass the same gates as reads (auth, daily quota, rate, concurrency, latency,
``fault_rate`` / ``fail_next`` faults, ``forbidden``), so they count against the quota and
show up in the request log with their method. A faulted write is not applied, except the
``lost`` / ``lost_500`` faults: the write is applied, then the connection is reset or a 500
answers, as when a server acts and the answer goes missing. ``WriteBook.events`` lists every
applied write for tests.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from .catalog import BY_LOWER
from .config import EmulatorConfig
from .faults import ConnectionFault
from .params import ApiError
from .requestlog import FAULT
from .routing import API_PREFIX, Route
from .store import Tenant
from .write_children import SEGMENTS, ChildWrites
from .write_records import Invalid, RecordWrites
from .write_subs import SubWrites
from .write_switches import write_switch

CONTENT_TYPE = "application/json; charset=utf-8"
# A fault that does not apply the write it hits: the lost-answer kinds on a read, and a
# truncated answer to a write (a half-sent answer would mean the server acted).
UNAPPLIED_FAULTS: dict[str, int | str] = {"lost_500": 500, "lost": "reset", "truncated": "reset"}
SUBS = {"tags", "links", "notes", "pipeline", "pipelinestage", "statechange", "statehistory"}


@dataclass(frozen=True)
class WriteRoute:
    """A write (or a sub-endpoint read) addressed by method and path."""

    op: str  # create | update | delete | tags | links | notes | pipeline | pipelinestage | ...
    method: str
    entity: str
    record_id: int | None = None
    arg: str | None = None  # a tag name, link id or child id from the path
    child: str | None = None  # the child's path segment (write_children.py)

    @property
    def route(self) -> Route:
        """The read-side route, so per-entity switches (faults, forbidden) apply."""
        return Route("single", self.entity, self.record_id)


@dataclass(frozen=True)
class WriteEvent:
    """One applied write: what, on which record, and whether its answer was lost."""

    method: str
    op: str
    entity: str
    record_id: int | None
    status: int
    lost: str | None
    time: float


def resolve_write(path: str, method: str) -> WriteRoute | None:
    """The write route of a request, or None for the read-side router (which answers
    plain GETs and turns every other unknown method or path into 404/405)."""
    segments = [unquote(s) for s in path.split("/") if s]
    if len(segments) < 2 or segments[0].lower() != API_PREFIX:
        return None
    found = BY_LOWER.get(segments[1].lower())
    if found is None:
        return None
    rest, entity = segments[2:], found.name
    if not rest and method in ("POST", "PUT"):
        return WriteRoute("create" if method == "POST" else "update", method, entity)
    if not rest or not rest[0].isdigit():
        return None
    record_id = int(rest[0])
    if len(rest) == 1:
        if method in ("PUT", "DELETE"):
            return WriteRoute("update" if method == "PUT" else "delete", method, entity, record_id)
        return None
    sub = rest[1].lower()
    if sub in SEGMENTS and len(rest) <= 3:
        return WriteRoute(
            "child", method, entity, record_id, rest[2] if len(rest) == 3 else None, sub
        )
    if sub not in SUBS or len(rest) > 3:
        return None
    arg = rest[2] if len(rest) == 3 else None
    return WriteRoute(sub, method, entity, record_id, arg)


class WriteBook:
    """Applies writes to one tenant under one lock (a write checks, then changes)."""

    def __init__(self, tenant: Tenant, config: EmulatorConfig) -> None:
        self.config = config
        self.records = RecordWrites(tenant, config)
        self.subs = SubWrites(self.records)
        self.children = ChildWrites(self.records)
        self._lock = threading.Lock()
        self._events: list[WriteEvent] = []

    def events(self) -> list[WriteEvent]:
        with self._lock:
            return list(self._events)

    def apply(self, w: WriteRoute, body: Any, lost: str | None = None) -> tuple[int, Any]:
        """(status, payload) of a write; ApiError for a refusal (nothing applied)."""
        with self._lock:
            status, payload = self._dispatch(w, body)
            if w.method != "GET":
                rid = w.record_id
                if rid is None and isinstance(payload, dict):
                    rid = payload.get(self.records_pk(w.entity))
                self._events.append(
                    WriteEvent(w.method, w.op, w.entity, rid, status, lost, time.time())
                )
            return status, payload

    @staticmethod
    def records_pk(entity: str) -> str:
        return BY_LOWER[entity.lower()].pk

    def _dispatch(self, w: WriteRoute, body: Any) -> tuple[int, Any]:
        rec, rid, m = self.records, w.record_id, w.method
        if w.op == "create":
            return 201, rec.create(w.entity, body)
        if w.op == "update":
            if rid is not None and write_switch(self.config.writes, "put_with_id") == "refused":
                raise ApiError(405, "The requested resource does not support http method 'PUT'.")
            status = int(write_switch(self.config.writes, "put_status"))
            return status, rec.update(w.entity, body, rid)
        assert rid is not None
        if w.op == "delete":
            rec.delete(w.entity, rid)
            return 202, None
        if w.op == "child":
            return self._child(w, body)
        handler = _SUB_HANDLERS.get((w.op, m))
        if handler is None:
            raise ApiError(405, f"The requested resource does not support http method '{m}'.")
        return handler(self, w, body)

    def _child(self, w: WriteRoute, body: Any) -> tuple[int, Any]:
        assert w.record_id is not None and w.child is not None
        children = self.children
        if w.method == "GET" and w.arg is None:
            return 200, children.list(w.entity, w.record_id, w.child)
        if w.method == "POST" and w.arg is None:
            return 201, children.create(w.entity, w.record_id, w.child, body)
        if w.method == "PUT" and w.arg is None:
            return 200, children.update(w.entity, w.record_id, w.child, body)
        if w.method == "DELETE" and w.arg is not None:
            children.delete(w.entity, w.record_id, w.child, w.arg)
            return 202, None
        raise ApiError(405, f"The requested resource does not support http method '{w.method}'.")

    def _tag_delete(self, w: WriteRoute, body: Any) -> tuple[int, Any]:
        mode = write_switch(self.config.writes, "tag_delete")
        assert w.record_id is not None
        if w.arg is not None:
            if mode == "body":
                raise ApiError(404, "No HTTP resource was found that matches the request URI.")
            name = w.arg
        else:
            if mode == "path" or not isinstance(body, dict) or not body.get("TAG_NAME"):
                raise Invalid(["The apiTag field is required."])
            name = str(body["TAG_NAME"])
        self.subs.remove_tag(w.entity, w.record_id, name)
        return 202, None


def _rid(w: WriteRoute) -> int:
    assert w.record_id is not None
    return w.record_id


_SUB_HANDLERS: dict[tuple[str, str], Any] = {
    ("tags", "GET"): lambda b, w, body: (200, b.subs.tags(w.entity, _rid(w))),
    ("tags", "POST"): lambda b, w, body: (201, b.subs.add_tag(w.entity, _rid(w), body)),
    ("tags", "PUT"): lambda b, w, body: (200, b.subs.set_tags(w.entity, _rid(w), body)),
    ("tags", "DELETE"): WriteBook._tag_delete,
    ("links", "GET"): lambda b, w, body: (200, b.subs.links(w.entity, _rid(w))),
    ("links", "POST"): lambda b, w, body: (201, b.subs.add_link(w.entity, _rid(w), body)),
    ("links", "DELETE"): lambda b, w, body: (
        202,
        b.subs.remove_link(w.entity, _rid(w), _link_id(w.arg)),
    ),
    ("notes", "GET"): lambda b, w, body: (200, b.subs.notes(w.entity, _rid(w))),
    ("notes", "POST"): lambda b, w, body: (201, b.subs.add_note(w.entity, _rid(w), body)),
    ("pipeline", "PUT"): lambda b, w, body: (200, b.subs.set_pipeline(w.entity, _rid(w), body)),
    ("pipeline", "DELETE"): lambda b, w, body: (202, b.subs.clear_pipeline(w.entity, _rid(w))),
    ("pipelinestage", "PUT"): lambda b, w, body: (
        200,
        b.subs.set_stage(w.entity, _rid(w), body),
    ),
    ("statechange", "PUT"): lambda b, w, body: (200, b.subs.change_state(_rid(w), body)),
    ("statehistory", "GET"): lambda b, w, body: (200, b.subs.history(_rid(w))),
}


def _link_id(arg: str | None) -> int:
    if arg is None or not arg.isdigit():
        raise ApiError(404, "No HTTP resource was found that matches the request URI.")
    return int(arg)


def error_body(message: str, status: int, shape: str) -> bytes:
    """The error answer in the shape the ``error_body`` switch names."""
    if shape == "text":
        return message.encode("utf-8")
    if shape == "name_message":
        return orjson.dumps({"Name": _NAMES.get(status, "Error"), "Message": message})
    return orjson.dumps({"Message": message})


_NAMES = {400: "ValidationError", 402: "RecordLimit", 404: "NotFound", 405: "MethodNotAllowed"}


async def serve_write(
    book: WriteBook, request: Request, w: WriteRoute, headers: dict[str, str], lost: str | None
) -> Response:
    """Answer one write: parse the JSON body, apply it in a worker thread, reply.

    ``lost``: apply, then lose the answer ("lost": reset the connection; "lost_500": 500).
    """
    shape = write_switch(book.config.writes, "error_body")
    try:
        raw = await request.body()
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        return error_response(400, "The request body is not valid JSON.", headers, shape)
    try:
        status, payload = await anyio.to_thread.run_sync(book.apply, w, body, lost)
    except ApiError as exc:
        if lost is not None:  # refused: nothing was applied, so nothing is lost either
            request.scope[FAULT] = None
        return error_response(exc.status, exc.message, headers, shape)
    if lost == "lost":
        return ConnectionFault("lost")  # closes without an answer
    if lost == "lost_500":
        return error_response(500, "An error has occurred.", headers, shape)
    content = b"" if payload is None else orjson.dumps(payload)
    return Response(content, status_code=status, headers=headers)


def admin_route(book: WriteBook) -> StarletteRoute:
    """``GET /_emulator/writes``: every applied write, for tests in another process."""

    async def writes(request: Request) -> Response:
        events = [dataclasses.asdict(e) for e in book.events()]
        return Response(orjson.dumps(events), headers={"content-type": CONTENT_TYPE})

    return StarletteRoute("/_emulator/writes", writes, methods=["GET"])


def error_response(status: int, message: str, headers: dict[str, str], shape: str) -> Response:
    """An error answer in the ``error_body`` shape (every error, reads included)."""
    out = dict(headers)
    if shape == "text":
        out["content-type"] = "text/plain; charset=utf-8"
    return Response(error_body(message, status, shape), status_code=status, headers=out)
