"""People, companies, addresses and phone numbers, derived from a ``Rand``.

Pure functions of the random stream they are given, so the same (seed, entity, index)
always gives the same person; ``contact_person`` and ``org_name`` can be recomputed by
other builders (a task titled "Call Zoë Ñúñez" for the contact it links to).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

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

_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "ı": "i"})


def ascii_fold(text: str) -> str:
    """Best-effort ASCII for e-mail local parts and URL slugs ('Ñúñez' -> 'Nunez')."""
    folded = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return "".join(c for c in folded if c.isascii() and (c.isalnum() or c in "-"))


@dataclass(frozen=True)
class Person:
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
    slug = ascii_fold(org_name(ctx, index).split("(")[0].replace(" ", "-")).lower().strip("-")
    return f"{slug or 'org'}-{index}.example.com"


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    state: str | None
    postcode: str
    country: str
    phone_prefix: str


def address(r: Rand) -> Address:
    city, state, country, pattern, prefix = r.pick(PLACES)
    postcode = "".join(str(r.between(0, 9)) if c == "#" else c for c in pattern)
    street = f"{r.between(1, 250)} {r.pick(STREETS)}"
    if r.random() < 0.1:
        street += f"\nSuite {r.between(100, 999)}"
    return Address(street, city, state, postcode, country, prefix)


def phone(r: Rand, prefix: str) -> str:
    return f"{prefix} {r.digits(3)} {r.digits(4)}"
