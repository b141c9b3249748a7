"""Map a request path to an endpoint, case-insensitively (docs/api.md §2, §3).

Wrong plural/singular forms (``/Tickets``, ``/Contact``, ``/Milestone``) answer 405 as
observed live (docs/api.md §3); anything else unknown answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from .activity import PARENTS
from .catalog import BY_LOWER, SPECIAL_WRONG_FORMS, WRONG_FORMS
from .params import ApiError

API_PREFIX = "v3.1"
ACTIVITY_KINDS = {k.lower(): k for k in PARENTS}  # /{Parent}/{id}/{Comments|FileAttachments}


@dataclass(frozen=True)
class Route:
    kind: str  # list | search | searchbytag | single | me | tags | customfields |
    #            customfields_search | customobject | instance | permissions | activity
    entity: str  # canonical name used by per-entity switches
    arg: str | int | tuple | None = None


def not_found(path: str) -> ApiError:
    return ApiError(404, f"No HTTP resource was found that matches the request URI '{path}'.")


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, f"The requested resource does not support http method '{method}'.")


def resolve(path: str, method: str) -> Route:
    """Route for ``path`` (the full URL path) or an ApiError (404/405)."""
    segments = [s for s in path.split("/") if s]
    if not segments or segments[0].lower() != API_PREFIX:
        raise not_found(path)
    route = _resolve(segments[1:], path)
    if method not in ("GET", "HEAD"):
        raise method_not_allowed(method)
    return route


def _resolve(segments: list[str], path: str) -> Route:
    if not segments:
        raise not_found(path)
    head, rest = segments[0].lower(), segments[1:]
    if head in WRONG_FORMS or head in SPECIAL_WRONG_FORMS:
        raise method_not_allowed("GET")
    if head == "instance" and not rest:
        return Route("instance", "Instance")
    if head == "permissions" and not rest:
        return Route("permissions", "Permissions")
    if head == "tags" and not rest:
        return Route("tags", "Tags")
    if head == "customfields":
        if not rest:
            raise ApiError(400, "An object name is required, e.g. /CustomFields/Contacts.")
        if len(rest) == 1:
            return Route("customfields", "CustomFields", rest[0])
        if len(rest) == 2 and rest[1].lower() == "search":
            return Route("customfields_search", "CustomFields", rest[0])
        raise not_found(path)
    spec = BY_LOWER.get(head)
    if spec is None:
        raise not_found(path)
    if not rest:
        return Route("list", spec.name)
    if len(rest) == 1:
        sub = rest[0].lower()
        if spec.name == "CustomObjects":
            return Route("customobject", spec.name, rest[0])
        if sub == "search" and spec.search:
            return Route("search", spec.name)
        if sub == "searchbytag" and spec.search_by_tag:
            return Route("searchbytag", spec.name)
        if spec.name == "Users" and sub == "me":
            return Route("me", spec.name)
        if spec.numeric_pk and sub.isdigit():
            return Route("single", spec.name, int(sub))
    if len(rest) == 2 and rest[0].isdigit():
        kind = ACTIVITY_KINDS.get(rest[1].lower())
        if kind is not None and spec.name in PARENTS[kind]:
            return Route("activity", kind, (kind, spec.name, int(rest[0])))
    raise not_found(path)
