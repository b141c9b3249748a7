"""People, companies, addresses and phone numbers, derived from a ``Rand``.

Pure functions of the random stream they are given, so the same (seed, entity, index)
always gives the same person; ``contact_person`` and ``org_name`` can be recomputed by
other builders (a task titled "Call Zoë Ñúñez" for the contact it links to).
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

from .generator import Ctx
from .rand import Rand, rand
from .vocab import (
    CJK_NAMES,
    COMPANY_CORE,
    COMPANY_KIND,
    COMPANY_SUFFIX,
    FEMALE_HINTS,
    FIRST_NAMES,
    INTL_NAMES,
    LAST_NAMES,
    PLACES,
    SALUTATIONS_F,
    SALUTATIONS_M,
    STREETS,
    UNICODE_COMPANIES,
)

_D = "0123456789"
ORG_DOMAIN_CACHE = 100_000
_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "ı": "i"})


def ascii_fold(text: str) -> str:
    """Best-effort ASCII for e-mail local parts and URL slugs ('Ñúñez' -> 'Nunez')."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in folded if c.isascii() and (c.isalnum() or c in "-"))


class Person(NamedTuple):
    salutation: str | None
    first: str
    last: str
    first_ascii: str
    last_ascii: str

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"

    def email(self, domain: str, r: Rand) -> str:
        local = r.pick(
            (
                f"{self.first_ascii}.{self.last_ascii}",
                f"{self.first_ascii[:1]}{self.last_ascii}",
                f"{self.first_ascii}",
                f"{self.first_ascii}_{self.last_ascii}{r.between(1, 99)}",
            )
        )
        return f"{local.lower()}@{domain}"


def person(r: Rand) -> Person:
    """A person: mostly common English names, ~8 % accented Latin, ~3 % CJK."""
    p = r.random()
    if p < 0.03:
        first, last, fa, la = r.pick(CJK_NAMES)
    elif p < 0.11:
        first, last = r.pick(INTL_NAMES)
        fa, la = ascii_fold(first), ascii_fold(last)
    else:
        first, last = r.pick(FIRST_NAMES), r.pick(LAST_NAMES)
        fa, la = first, last
    pool = SALUTATIONS_F if first in FEMALE_HINTS else SALUTATIONS_M
    salutation = r.pick(pool) if r.random() < 0.7 else None
    return Person(salutation, first, last, fa or "user", la or "contact")


def contact_person(ctx: Ctx, index: int) -> Person:
    """The person of Contacts record ``index`` (same stream the contact builder uses)."""
    return person(rand(ctx.seed, "person", "Contacts", index))


def org_name(ctx: Ctx, index: int) -> str:
    r = rand(ctx.seed, "org-name", index)
    if r.random() < 0.06:
        base = r.pick(UNICODE_COMPANIES)
    else:
        base = f"{r.pick(COMPANY_CORE)} {r.pick(COMPANY_KIND)}"
        suffix = r.pick(COMPANY_SUFFIX)
        base = f"{base} {suffix}" if suffix else base
    # Index-derived tail keeps names unique enough without a registry.
    return base if index < 40 else f"{base} ({index % 97 + 1})"


def org_domain(ctx: Ctx, index: int) -> str:
    """Web domain of organisation ``index`` (memoised: every contact of it asks)."""
    cache: dict[int, str] = ctx.memo("org-domains", dict)
    domain = cache.get(index)
    if domain is None:
        if len(cache) >= ORG_DOMAIN_CACHE:
            cache.clear()
        domain = cache[index] = _org_domain(ctx, index)
    return domain


def _org_domain(ctx: Ctx, index: int) -> str:
    slug = ascii_fold(org_name(ctx, index).split("(")[0].replace(" ", "-")).lower().strip("-")
    return f"{slug or 'org'}-{index}.example.com"


class Address(NamedTuple):
    street: str
    city: str
    state: str | None
    postcode: str
    country: str
    phone_prefix: str


def address(r: Rand) -> Address:
    rnd = r.random
    city, state, country, pattern, prefix = PLACES[int(rnd() * len(PLACES))]
    postcode = "".join([_D[int(rnd() * 10)] if c == "#" else c for c in pattern])
    street = f"{1 + int(rnd() * 250)} {STREETS[int(rnd() * len(STREETS))]}"
    if rnd() < 0.1:
        street += f"\nSuite {100 + int(rnd() * 900)}"
    return Address(street, city, state, postcode, country, prefix)


def phone(r: Rand, prefix: str) -> str:
    """'<prefix> ddd dddd' (the same draws as two ``r.digits`` calls)."""
    rnd = r.random
    return (
        f"{prefix} {_D[int(rnd() * 10)]}{_D[int(rnd() * 10)]}{_D[int(rnd() * 10)]} "
        f"{_D[int(rnd() * 10)]}{_D[int(rnd() * 10)]}{_D[int(rnd() * 10)]}{_D[int(rnd() * 10)]}"
    )


def maybe_phone(r: Rand, prefix: str, share: float) -> str | None:
    """``r.maybe(share, phone(r, prefix))``: the same draws, no text for a number dropped."""
    rnd = r.random
    a, b, c, d, e, f, g = rnd(), rnd(), rnd(), rnd(), rnd(), rnd(), rnd()
    if rnd() >= share:
        return None
    return (
        f"{prefix} {_D[int(a * 10)]}{_D[int(b * 10)]}{_D[int(c * 10)]} "
        f"{_D[int(d * 10)]}{_D[int(e * 10)]}{_D[int(f * 10)]}{_D[int(g * 10)]}"
    )
