"""The Starlette application: auth, limits, failure injection, routing, JSON replies.

Order of checks for an API request: authentication (401) -> daily quota (429, Remaining
0) -> per-second rate and concurrency (429, Remaining > 0) -> latency (± jitter) ->
rate faults (``fault_rate``) -> routing (404/405, and 404 for a collection the tenant
doesn't have) -> injected failures (fail_next, forbidden and the tenant's plan) -> the
tenant's missing sub-reads (404) -> the endpoint -> non_array / broken_json -> drift -> gzip.
Every answer, errors included, carries X-RateLimit-Limit/Remaining and the
``application/json; charset=utf-8`` content type; bodies of 500 bytes or more are
gzipped (``gzip_level``) for clients that accept it.  Faulted requests never change data,
except the ``lost`` faults of writes.  Writes (POST/PUT/DELETE and the per-record
sub-endpoints) pass the same checks, then ``writes.py`` answers them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import logging
import time
from datetime import datetime, timezone
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp

from .config import BODY_FAULTS, CONNECTION_FAULTS, LOST_FAULTS, EmulatorConfig, switches_as_json
from .faults import ConnectionFault, hold
from .handlers import LIST_KINDS, Reply, handle
from .jsonbody import dumps
from .opportunity_states import opportunity_mutation
from .params import ApiError, parse_utc
from .rendercache import gzip_bytes
from .requestlog import FAULT, RequestLogMiddleware
from .routing import Route, not_found, resolve
from .state import EmulatorState
from .write_switches import write_switch
from .writes import UNAPPLIED_FAULTS, admin_route, error_response, resolve_write, serve_write

CONTENT_TYPE = "application/json; charset=utf-8"
GZIP_MIN_SIZE = 500
log = logging.getLogger("insightly_emulator")
FORBIDDEN_MESSAGES = {403: "user doesn't have access", 404: "Not Found"}
INJECTED_MESSAGES = {
    429: "Too many requests",
    500: "An error has occurred.",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def api_key_from(header: str | None) -> str | None:
    """The key from ``Basic base64(key)``, ``base64(key:)`` or ``base64(key:anything)``."""
    if not header or header[:6].lower() != "basic ":
        return None
    token = header[6:].strip()
    token += "=" * (-len(token) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            text = decode(token.encode("ascii")).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            continue
        return text.split(":", 1)[0]
    return None


class Api:
    """The /v3.1 request pipeline bound to one emulator's state."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _headers(self, remaining: int | None = None) -> dict[str, str]:
        cfg = self.state.config
        if remaining is None:
            remaining = self.state.limits.remaining(cfg.daily_limit)
        return {
            "content-type": CONTENT_TYPE,
            "x-ratelimit-limit": str(cfg.daily_limit),
            "x-ratelimit-remaining": str(remaining),
        }

    def _error(
        self,
        status: int,
        message: str,
        retry_after: int | None = None,
        remaining: int | None = None,
    ) -> Response:
        headers = self._headers(remaining)
        if status == 429 and retry_after is not None and self.state.config.retry_after:
            headers["retry-after"] = str(retry_after)
        shape = write_switch(self.state.config.writes, "error_body")
        return error_response(status, message, headers, shape)

    async def _latency(self, number: int) -> None:
        seconds = self.state.latency_s(number)
        if seconds:
            await asyncio.sleep(seconds)

    async def endpoint(self, request: Request) -> Response:
        cfg = self.state.config
        number = self.state.next_request()
        key = api_key_from(request.headers.get("authorization"))
        if key is None or not hmac.compare_digest(key.encode(), cfg.api_key.encode()):
            await self._latency(number)
            return self._error(401, "Authentication failed")
        verdict = self.state.limits.admit(cfg.daily_limit, cfg.rate_limit_per_s, cfg.max_in_flight)
        if not verdict.ok:
            await self._latency(number)
            remaining = 0 if verdict.quota_spent else None
            return self._error(429, verdict.message, verdict.retry_after, remaining)
        try:
            await self._latency(number)  # inside the in-flight window, so it counts as concurrency
            return await self._serve(request, number)
        except ApiError as exc:
            return self._error(exc.status, exc.message, exc.retry_after)
        except Exception:
            log.exception("emulator error on %s", request.url.path)
            return self._error(500, "An error has occurred.")
        finally:
            self.state.limits.release()

    async def _serve(self, request: Request, number: int) -> Response:
        state, cfg = self.state, self.state.config
        fault: int | str | None = state.rate_fault(number)
        write = resolve_write(request.url.path, request.method)
        route = write.route if write else resolve(request.url.path, request.method)
        shape = state.tenant.shape
        if not state.tenant.serves(route.entity):
            raise not_found(request.url.path)
        if fault is None:
            fault = state.pop_failure(route.entity)
        params = {k.lower(): v for k, v in request.query_params.multi_items()}
        lost = str(fault) if write is not None and fault in LOST_FAULTS else None
        broken = fault in BODY_FAULTS and write is None
        if broken:
            request.scope[FAULT] = str(fault)
        elif fault is not None and lost is None:
            request.scope[FAULT] = str(fault)
            if fault in LOST_FAULTS or write is not None:  # nothing applied, nothing half-sent
                fault = UNAPPLIED_FAULTS.get(str(fault), fault)
            if fault in CONNECTION_FAULTS:
                return await self._connection_fault(request, str(fault), route, params)
            status = int(fault)
            raise ApiError(status, INJECTED_MESSAGES.get(status, "Injected failure"), 1)
        forbidden = state.switch_for(cfg.forbidden, route.entity) or shape.plan.get(route.entity)
        if forbidden and route.kind in LIST_KINDS | {"single", "tags", "activity"}:
            raise ApiError(forbidden, FORBIDDEN_MESSAGES[forbidden])
        sub_read = route.kind == "activity" or (write is not None and write.method == "GET")
        if sub_read and not shape.sub_reads:  # GET /{Parent}/{id}/<Sub> (minimal-plan)
            raise not_found(request.url.path)
        if write is not None:
            request.scope[FAULT] = lost
            return await serve_write(state.writes, request, write, self._headers(), lost)
        gzip_ok = "gzip" in request.headers.get("accept-encoding", "").lower()
        body, headers = await anyio.to_thread.run_sync(
            self._reply, route, params, cfg, gzip_ok, True, broken
        )
        return Response(body, status_code=200, headers=headers)

    def _reply(
        self,
        route: Route,
        params: dict[str, str],
        cfg: EmulatorConfig,
        gzip_ok: bool,
        complete: bool,
        broken: bool = False,
    ) -> tuple[bytes, dict[str, str]]:
        """Body and headers of a 200 (in a worker thread: generating a page takes a while).

        ``complete`` is False for a truncated answer: no drift, no gzip. ``broken``: half
        the body of a list (fail_next's "broken_json").
        """
        with self.state.tenant.serving():
            return self._reply_serving(route, params, cfg, gzip_ok, complete, broken)

    def _reply_serving(
        self,
        route: Route,
        params: dict[str, str],
        cfg: EmulatorConfig,
        gzip_ok: bool,
        complete: bool,
        broken: bool = False,
    ) -> tuple[bytes, dict[str, str]]:
        state = self.state
        reply: Reply = handle(route, params, cfg, state.tenant)
        headers = self._headers()
        if reply.total is not None:
            headers["x-total-count"] = str(reply.total)
        page = reply.page
        if page is not None:
            body = page.body
        else:
            body = reply.body if reply.body is not None else dumps(reply.payload)
        if route.kind in LIST_KINDS:
            if state.switch_for(dict.fromkeys(cfg.non_array, True), route.entity):
                body, page = dumps({"Message": "An error has occurred."}), None
            elif broken or state.switch_for(dict.fromkeys(cfg.broken_json, True), route.entity):
                body, page = body[: max(1, len(body) // 2)], None
            if complete:
                state.after_page(route.entity)
                if reply.more is not None:
                    state.tenant.read_ahead(*reply.more, pages=cfg.readahead_pages)
        level = cfg.gzip_level
        if complete and gzip_ok and level and len(body) >= GZIP_MIN_SIZE:
            body = page.gzip(level) if page is not None else gzip_bytes(body, level)
            headers["content-encoding"] = "gzip"
            headers["vary"] = "Accept-Encoding"
        return body, headers

    async def _connection_fault(
        self, request: Request, kind: str, route: Route, params: dict[str, str]
    ) -> Response:
        if kind == "timeout":
            await hold(request, self.state.config.timeout_hold_s, self.state.stopping)
            return ConnectionFault(kind)
        if kind == "reset":
            return ConnectionFault(kind)
        try:
            body, headers = await anyio.to_thread.run_sync(
                self._reply, route, params, self.state.config, False, False
            )
        except ApiError:
            del request.scope[FAULT]  # nothing to truncate: the error is answered in full
            raise
        return ConnectionFault(kind, body, headers)


def _admin_routes(state: EmulatorState) -> list[StarletteRoute]:
    async def requests_(request: Request) -> Response:
        if request.method == "DELETE":
            state.log.clear()
            return Response(dumps({"cleared": True}), headers={"content-type": CONTENT_TYPE})
        return Response(dumps(state.log.summary()), headers={"content-type": CONTENT_TYPE})

    async def configure(request: Request) -> Response:
        try:
            state.configure(**(await request.json()))
        except (ValueError, TypeError) as exc:
            return Response(dumps({"Message": str(exc)}), 400, {"content-type": CONTENT_TYPE})
        return Response(
            dumps(switches_as_json(state.config)), headers={"content-type": CONTENT_TYPE}
        )

    async def mutate(request: Request) -> Response:
        try:
            body = await request.json()
            result = await anyio.to_thread.run_sync(_mutate, state, body)
        except (KeyError, ValueError, TypeError) as exc:
            return Response(dumps({"Message": str(exc)}), 400, {"content-type": CONTENT_TYPE})
        return Response(dumps(result), headers={"content-type": CONTENT_TYPE})

    async def drift(request: Request) -> Response:
        if request.method == "DELETE":
            state.clear_drift_log()
            return Response(dumps({"cleared": True}), headers={"content-type": CONTENT_TYPE})
        events = [event._asdict() for event in state.drift_log()]
        return Response(dumps(events), headers={"content-type": CONTENT_TYPE})

    async def quota(request: Request) -> Response:
        """GET: the day's quota use; POST: a new quota day (what ``reset_quota`` does)."""
        if request.method == "POST":
            state.limits.reset()
        limit = state.config.daily_limit
        body = {
            "limit": limit,
            "used": state.limits.used,
            "remaining": state.limits.remaining(limit),
        }
        return Response(dumps(body), headers={"content-type": CONTENT_TYPE})

    async def health(request: Request) -> Response:
        body = {
            "ok": True,
            "time": time.time(),
            "render_cache": state.tenant.rendered.stats(),
            "render_workers": {"processes": state.pool.size, "records": state.pool.records},
        }
        return Response(dumps(body), headers={"content-type": CONTENT_TYPE})

    return [
        StarletteRoute("/_emulator/requests", requests_, methods=["GET", "DELETE"]),
        StarletteRoute("/_emulator/configure", configure, methods=["POST"]),
        StarletteRoute("/_emulator/mutate", mutate, methods=["POST"]),
        StarletteRoute("/_emulator/health", health, methods=["GET"]),
        StarletteRoute("/_emulator/drift", drift, methods=["GET", "DELETE"]),
        StarletteRoute("/_emulator/quota", quota, methods=["GET", "POST"]),
        admin_route(state.writes),
    ]


def _mutate(state: EmulatorState, body: dict[str, Any]) -> dict[str, Any]:
    op, entity = body.get("op"), body.get("entity")
    if not isinstance(entity, str):
        raise ValueError("entity is required")
    tenant = state.tenant
    if op == "create":
        return tenant.create(entity, **(body.get("changes") or {}))
    if op == "update":
        at = body.get("at")
        when = datetime.fromtimestamp(parse_utc("at", at), tz=timezone.utc) if at else None
        return tenant.update(entity, int(body["id"]), body.get("changes"), at=when)
    if op == "delete":
        tenant.delete(entity, int(body["id"]))
        return {"deleted": int(body["id"]), "entity": entity}
    if op == "add_activity":  # a comment or file attachment (activity.py)
        return tenant.activity.add(str(body["kind"]), entity, int(body["id"]))
    if op in ("progress", "state"):  # opportunities moving on (opportunity_states.py)
        return opportunity_mutation(tenant, op, body)
    raise ValueError("op must be create, update, delete, add_activity, progress or state")


def build_app(state: EmulatorState) -> ASGIApp:
    """Starlette app wrapped by the request log."""
    app = Starlette(
        routes=[
            *_admin_routes(state),
            StarletteRoute("/{path:path}", Api(state).endpoint, methods=ALL_METHODS),
        ],
    )
    return RequestLogMiddleware(app, state.log)
