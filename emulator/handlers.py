"""Endpoint logic: turn a resolved route plus query parameters into a JSON payload.

Synchronous on purpose: the app runs it in a worker thread so generating a 500-record
page never blocks the event loop (other requests' latency sleeps keep running).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import customfields
from .activity import activity_reply
from .catalog import BY_NAME, TAG_TYPES, EntitySpec
from .config import EmulatorConfig
from .params import ApiError, bad_request, parse_bool, parse_paging, parse_utc
from .routing import Route
from .store import ARRAY_KEYS, Page, Query, Tenant
from .write_switches import write_switch

LIST_KINDS = frozenset({"list", "search", "searchbytag"})


@dataclass
class Reply:
    payload: Any
    total: int | None = None  # value of X-Total-Count, when asked for
    body: bytes | None = None  # the payload already serialised (single records)
    page: Page | None = None  # a list page, serialised (gzip made once, on demand)
    # a full page: what to render ahead, (entity, query, order, skip, top, brief mode)
    more: tuple[Any, ...] | None = None


def handle(route: Route, params: dict[str, str], cfg: EmulatorConfig, tenant: Tenant) -> Reply:
    kind = route.kind
    if kind in LIST_KINDS:
        return _collection(route, params, cfg, tenant)
    if kind == "single":
        body = tenant.get_bytes(route.entity, int(route.arg))  # type: ignore[arg-type]
        if body is None:
            raise ApiError(404, f"{BY_NAME[route.entity].link_name or route.entity} not found")
        return Reply(None, body=body)
    if kind == "me":
        return Reply(tenant.records("Users")[0])
    if kind == "tags":
        return _tags(params, cfg, tenant)
    if kind == "customfields":
        return Reply(_custom_field_metadata(str(route.arg), tenant))
    if kind == "customfields_search":
        wanted = (params.get("field_name") or "").lower()
        if not wanted:
            raise bad_request("field_name is required.")
        for item in _custom_field_metadata(str(route.arg), tenant):
            if item["FIELD_NAME"].lower() == wanted:
                return Reply(item)
        raise ApiError(404, "Custom field not found")
    if kind == "customobject":
        for obj in tenant.records("CustomObjects"):
            if obj["OBJECT_NAME"].lower() == str(route.arg).lower():
                return Reply(obj)
        raise ApiError(404, "Custom object not found")
    if kind == "activity":
        page, total = activity_reply(tenant, route.arg, params, cfg.top_over_max)
        return Reply(page, total)
    if kind == "instance":
        return Reply(_instance(tenant))
    if kind == "permissions":
        return Reply(_permissions(cfg, tenant))
    raise AssertionError(kind)


def _collection(route: Route, params: dict[str, str], cfg: EmulatorConfig, tenant: Tenant) -> Reply:
    spec = BY_NAME[route.entity]
    if spec.kind == "static":
        return Reply(None, page=tenant.select_page(spec.name, Query(), "id", 0, None))
    skip, top = parse_paging(params, cfg.top_over_max)
    count_total = parse_bool("count_total", params.get("count_total"))
    brief = spec.kind == "record" and parse_bool("brief", params.get("brief"))
    query = _query(route, spec, params, cfg, tenant)
    brief_mode = cfg.brief_arrays if brief else None
    page = tenant.select_page(spec.name, query, cfg.order, skip, top, brief_mode)
    more = (spec.name, query, cfg.order, skip, top, brief_mode) if page.count == top else None
    return Reply(None, page.total if count_total else None, page=page, more=more)


def _query(
    route: Route, spec: EntitySpec, params: dict[str, str], cfg: EmulatorConfig, tenant: Tenant
) -> Query:
    if route.kind == "searchbytag":
        tag = params.get("tag_name")
        if not tag:
            raise bad_request("tag_name is required.")
        return Query(tag=tag)
    after_text = params.get("updated_after_utc")
    honour_after = route.kind == "search" or cfg.list_updated_after == "honoured"
    after = time_column = None
    if after_text and honour_after:
        after = parse_utc("updated_after_utc", after_text)
        if spec.has_updated:
            time_column = "updated"
        elif spec.name == "Emails" and cfg.emails_updated_after == "date_created":
            time_column = "created"
        else:
            after = None  # accepted but ignored (Emails default, DocumentTemplates)
    elif after_text:
        parse_utc("updated_after_utc", after_text)  # still validated, then ignored
    field_name = field_value = None
    if route.kind == "search":
        field_name, field_value = params.get("field_name"), params.get("field_value")
        if (field_name is None) != (field_value is None) or field_name == "":
            raise bad_request("field_name and field_value must be given together.")
        if field_name is not None and not _is_search_field(spec, field_name, tenant):
            raise bad_request(f"'{field_name}' is not a valid field name.")
        if field_name is not None and after_text and cfg.search_filter_combination == "error":
            raise bad_request("Only one optional filter parameter can be specified.")
    exclude = None
    if spec.name == "LeadStatuses" and not parse_bool(
        "include_converted", params.get("include_converted")
    ):
        exclude = ("STATUS_TYPE", 3)
    return Query(
        after=after,
        time_column=time_column or "updated",
        field_name=field_name,
        field_value=field_value,
        exclude=exclude,
        fold_case=write_switch(cfg.writes, "search_case") == "insensitive",
    )


def _is_search_field(spec: EntitySpec, name: str, tenant: Tenant) -> bool:
    lowered = name.lower()
    if any(f.lower() == lowered and f not in ARRAY_KEYS for f in spec.fields):
        return True
    return any(f.name.lower() == lowered for f in tenant.shape.field_defs(spec))


def _tags(params: dict[str, str], cfg: EmulatorConfig, tenant: Tenant) -> Reply:
    record_type = (params.get("record_type") or "").lower()
    if not record_type:
        raise bad_request("record_type is required.")
    entity = TAG_TYPES.get(record_type)
    if entity is None:
        raise bad_request(f"The value '{params.get('record_type')}' is not valid for record_type.")
    skip, top = parse_paging(params, cfg.top_over_max)
    names = tenant.tag_names(entity)
    page = [{"TAG_NAME": n} for n in names[skip : skip + top]]
    count_total = parse_bool("count_total", params.get("count_total"))
    return Reply(page, len(names) if count_total else None)


def _custom_field_metadata(object_name: str, tenant: Tenant) -> list[dict[str, Any]]:
    table = tenant.shape.fields  # the tenant's definitions (tenants.py)
    field_for = tenant.shape.resolve_object(object_name)
    if field_for is None:
        return customfields.all_metadata(table)  # observed: unknown names list every field
    return customfields.metadata(field_for, table)


def _instance(tenant: Tenant) -> dict[str, Any]:
    return {
        "INSTANCE_NAME": "Acme Emulated Ltd",
        "INSTANCE_SUBDOMAIN": f"acme-emulated-{tenant.seed}",
        "PLAN_NAME": tenant.shape.plan_name,
        "NEW_USER_EXPERIENCE_ENABLED": True,
    }


def _permissions(cfg: EmulatorConfig, tenant: Tenant) -> dict[str, Any]:
    forbidden = {k.lower() for k in cfg.forbidden} | {k.lower() for k in tenant.shape.plan}
    objects = []
    for spec in BY_NAME.values():
        if (spec.kind == "lookup" and spec.name != "Users") or spec.kind == "static":
            continue
        if not tenant.serves(spec.name):
            continue
        allowed = spec.name.lower() not in forbidden
        objects.append(
            {
                "OBJECT_TYPE": spec.link_name or spec.name,
                "PERMISSIONS_STATE": "Allowed" if allowed else "Denied",
                "CAN_READ": allowed,
                "CAN_CREATE": allowed,
                "CAN_EDIT": allowed,
                "CAN_DELETE": allowed,
            }
        )
    return {"PERMISSIONS_STATE": "Custom" if forbidden else "Full", "OBJECT_PERMISSIONS": objects}
