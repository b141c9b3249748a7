"""Mirrored LINKS computed from either end in O(1).

A link type connects entity A to entity B.  Link k (0 <= k < m) joins A record k to B
record perm(k mod nB), where perm is a seeded affine bijection of [0, nB).  Because perm
can be inverted, a B record finds its links without scanning A: k = inv(b) + r*nB.  Both
ends therefore show the same LINK_ID with OBJECT/LINK_OBJECT swapped and IS_FORWARD
flipped, as Insightly does, and no link table is stored.  ``cap`` bounds how many links of
one type a B record can receive, so a 1M-contact tenant does not give one organisation
thousands of links.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .catalog import BY_NAME
from .generator import Ctx
from .rand import key

LINK_ID_BASE = 300_000_000
LINK_ID_STRIDE = 40_000_000


@dataclass(frozen=True)
class LinkType:
    a: str
    b: str
    frac: float  # share of A records that get one link of this type
    cap: int  # max links of this type per B record
    roles: tuple[str | None, ...] = (None,)
    relationship: str | None = None  # "contacts" | "organisations" | "both": uses Relationships


LINK_TYPES: tuple[LinkType, ...] = (
    LinkType("Contacts", "Organisations", 0.8, 8, ("Employee", None, "Consultant"), "both"),
    LinkType("Contacts", "Contacts", 0.1, 2, (None,), "contacts"),
    LinkType("Organisations", "Organisations", 0.05, 2, (None,), "organisations"),
    LinkType("Opportunities", "Contacts", 0.9, 5, ("Decision Maker", "Influencer", "Champion")),
    LinkType("Opportunities", "Organisations", 0.8, 10, (None, "Customer")),
    LinkType("Projects", "Opportunities", 0.5, 1),
    LinkType("Projects", "Contacts", 0.5, 3, ("Sponsor", "Key User", None)),
    LinkType("Leads", "Organisations", 0.1, 1, ("Prospective Customer",)),
    LinkType("Tasks", "Contacts", 0.5, 3),
    LinkType("Tasks", "Opportunities", 0.3, 3),
    LinkType("Events", "Contacts", 0.6, 3, (None, "Attendee")),
    LinkType("Notes", "Contacts", 0.5, 3),
    LinkType("Notes", "Organisations", 0.3, 3),
    LinkType("Notes", "Opportunities", 0.2, 3),
    LinkType("Emails", "Contacts", 0.8, 3),
    LinkType("Emails", "Organisations", 0.3, 3),
)


@dataclass(frozen=True)
class _Plan:
    m: int
    n_b: int
    stride: int
    offset: int
    inverse: int


def _plan(ctx: Ctx, t: int) -> _Plan:
    return _plans(ctx)[t]


def _plans(ctx: Ctx) -> tuple[_Plan, ...]:
    """The plan of every link type for this tenant (worked out once)."""
    return ctx.memo("link-plans", lambda: tuple(_make_plan(ctx, t) for t in range(len(LINK_TYPES))))


def _make_plan(ctx: Ctx, t: int) -> _Plan:
    lt = LINK_TYPES[t]
    n_a, n_b = ctx.n(lt.a), ctx.n(lt.b)
    if n_b == 0 or n_a == 0:
        return _Plan(0, 0, 1, 0, 1)
    m = min(int(n_a * lt.frac), lt.cap * n_b)
    stride = (key(ctx.seed, "link-stride", t) % n_b) | 1
    while math.gcd(stride, n_b) != 1:
        stride += 2
    stride %= n_b or 1
    if n_b == 1:
        stride = 1
    offset = key(ctx.seed, "link-offset", t) % n_b
    inverse = pow(stride, -1, n_b) if n_b > 1 else 0
    return _Plan(m, n_b, stride, offset, inverse)


def forward_target(ctx: Ctx, a: str, b: str, i: int) -> int | None:
    """Index of the B record that A record i links to through the first a->b type."""
    t = _FIRST_TYPE.get((a, b))
    if t is None:
        return None
    p = _plan(ctx, t)
    if i < p.m:
        target = (i % p.n_b * p.stride + p.offset) % p.n_b
        if not (a == b and target == i):
            return target
    return None


_FIRST_TYPE: dict[tuple[str, str], int] = {}
for _t, _lt in enumerate(LINK_TYPES):
    _FIRST_TYPE.setdefault((_lt.a, _lt.b), _t)


def _relationship_id(ctx: Ctx, lt: LinkType, k: int) -> int | None:
    if lt.relationship is None:
        return None
    choices = _relationship_choices(lt.relationship)
    h = key(ctx.seed, "link-rel", lt.a, lt.b, k)
    if lt.relationship == "both" and h % 3:
        return None  # most employee links carry only a role
    return ctx.id("Relationships", choices[h % len(choices)])


def _relationship_choices(kind: str) -> tuple[int, ...]:
    choices = _RELATIONSHIP_CHOICES.get(kind)
    if choices is None:
        from .gen_config import relationship_indexes

        choices = _RELATIONSHIP_CHOICES[kind] = relationship_indexes(kind)
    return choices


_RELATIONSHIP_CHOICES: dict[str, tuple[int, ...]] = {}
_LINK_NAMES = tuple((BY_NAME[lt.a].link_name, BY_NAME[lt.b].link_name) for lt in LINK_TYPES)


def _link(ctx: Ctx, t: int, k: int, a_idx: int, b_idx: int, forward: bool) -> dict[str, Any]:
    lt = LINK_TYPES[t]
    h = key(ctx.seed, "link", t, k)
    a_name, b_name = _LINK_NAMES[t]
    a_id, b_id = ctx.id(lt.a, a_idx), ctx.id(lt.b, b_idx)
    obj, obj_id, other, other_id = (
        (a_name, a_id, b_name, b_id) if forward else (b_name, b_id, a_name, a_id)
    )
    return {
        "LINK_ID": LINK_ID_BASE + t * LINK_ID_STRIDE + k,
        "OBJECT_NAME": obj,
        "OBJECT_ID": obj_id,
        "LINK_OBJECT_NAME": other,
        "LINK_OBJECT_ID": other_id,
        "ROLE": lt.roles[h % len(lt.roles)],
        "DETAILS": "Introduced at the annual conference" if h % 23 == 0 else None,
        "RELATIONSHIP_ID": _relationship_id(ctx, lt, k),
        "IS_FORWARD": forward,
    }


_TYPES_OF: dict[str, tuple[tuple[int, LinkType], ...]] = {
    name: tuple((t, lt) for t, lt in enumerate(LINK_TYPES) if name in (lt.a, lt.b))
    for name in BY_NAME
}


def linked_entities(entity: str) -> set[str]:
    """Entities whose deletions change the LINKS of ``entity`` records (itself included)."""
    return {name for _, lt in _TYPES_OF.get(entity, ()) for name in (lt.a, lt.b)}


def links_for(ctx: Ctx, entity: str, i: int) -> list[dict[str, Any]]:
    """All links of record i, seen from that record, sorted by LINK_ID.

    Links whose other end has been deleted are dropped, as a hard delete in the CRM
    removes the link from both records. A bare tenant (tenants.py) has none.
    """
    out: list[dict[str, Any]] = []
    if ctx.shape.bare:
        return out
    plans = _plans(ctx)
    for t, lt in _TYPES_OF.get(entity, ()):
        p = plans[t]
        if p.m == 0:
            continue
        if lt.a == entity and i < p.m:
            b_idx = (i % p.n_b * p.stride + p.offset) % p.n_b
            if not (lt.a == lt.b and b_idx == i) and not ctx.is_deleted(lt.b, b_idx):
                out.append(_link(ctx, t, i, i, b_idx, True))
        if lt.b == entity and i < p.n_b:
            base = ((i - p.offset) * p.inverse) % p.n_b
            for k in range(base, p.m, p.n_b):
                if lt.a == lt.b and k == i:
                    continue
                if not ctx.is_deleted(lt.a, k):
                    out.append(_link(ctx, t, k, k, i, False))
    if len(out) > 1:
        out.sort(key=_link_id)
    return out


def _link_id(link: dict[str, Any]) -> int:
    return link["LINK_ID"]
