"""Builders for products, pricebooks, pricebook entries, quotations and line items.

All prices are pure functions of indexes, so the chain stays consistent without storing
anything: entry k lists product (k // nPB) in pricebook (k mod nPB) at that product's
price converted to the pricebook's currency; an opportunity's line items use entries of
the opportunity's pricebook; quotation line item k belongs to quote (k mod nQ) and a
quote's totals are the sum of its items.
"""

from __future__ import annotations

from typing import Any

from .gen_crm import pricebook_of_opportunity
from .generator import Ctx, Gen, builder, hashed_index
from .links import forward_target
from .people import address, org_name, person
from .rand import DAY, key, rand
from .vocab import PRODUCT_LINES

QUOTE_STATUSES = ("Draft", "Needs Review", "Approved", "Presented", "Accepted", "Denied")
PRODUCTS = tuple((family, name) for family, names in PRODUCT_LINES for name in names)
# (name, currency, factor vs. USD list price, is_standard)
PRICEBOOKS = (
    ("Standard Price Book", "USD", 1.0, True),
    ("EUR Price List", "EUR", 0.92, False),
    ("Partner Prices", "USD", 0.8, False),
    ("GBP Price List", "GBP", 0.79, False),
    ("APAC Price List", "AUD", 1.52, False),
)


def _pricebook(ctx: Ctx, pb: int) -> tuple[str, str, float, bool]:
    return PRICEBOOKS[pb % len(PRICEBOOKS)]


def product_price(ctx: Ctx, p: int) -> float:
    family = PRODUCTS[p % len(PRODUCTS)][0]
    lo, hi = {"Software": (20, 400), "Services": (500, 15000), "Hardware": (80, 2500)}.get(
        family, (100, 3000)
    )
    return rand(ctx.seed, "product-price", p).money(lo, hi, 5)


def entry_parts(ctx: Ctx, k: int) -> tuple[int, int, float, str]:
    """(pricebook index, product index, price, currency) of pricebook entry k."""
    n_pb = max(1, ctx.n("Pricebook"))
    pb, product = k % n_pb, (k // n_pb) % max(1, ctx.n("Product"))
    _, currency, factor, _ = _pricebook(ctx, pb)
    return pb, product, round(product_price(ctx, product) * factor, 2), currency


def entry_in_pricebook(ctx: Ctx, pb: int, h: int) -> int | None:
    """An entry index of pricebook ``pb`` chosen by hash ``h`` (None if it has none)."""
    n_pb, n_e = max(1, ctx.n("Pricebook")), ctx.n("PricebookEntry")
    count = n_e // n_pb + (1 if pb < n_e % n_pb else 0)
    return pb + n_pb * (h % count) if count else None


def line_amounts(ctx: Ctx, salt: str, k: int, pb: int | None) -> dict[str, Any]:
    """Entry, quantity and prices of one line item (opportunity or quotation)."""
    entry = entry_in_pricebook(ctx, pb, key(ctx.seed, salt, "entry", k)) if pb is not None else None
    if entry is None:
        return {"entry": None, "currency": "USD", "list": 0.0, "qty": 0, "discount": 0,
                "unit": 0.0, "subtotal": 0.0, "total": 0.0}  # fmt: skip
    _, _, price, currency = entry_parts(ctx, entry)
    r = rand(ctx.seed, salt, "amounts", k)
    qty = r.pick((1, 1, 2, 3, 5, 10, 25, 100))
    discount = r.pick((0, 0, 0, 5, 10, 15))
    unit = round(price * (100 - discount) / 100, 2)
    return {
        "entry": entry, "currency": currency, "list": price, "qty": qty, "discount": discount,
        "unit": unit, "subtotal": round(price * qty, 2), "total": round(unit * qty, 2),
    }  # fmt: skip


@builder("Product")
def _product(g: Gen) -> dict[str, Any]:
    family, name = PRODUCTS[g.i % len(PRODUCTS)]
    edition = g.i // len(PRODUCTS)
    full = name if edition == 0 else f"{name} v{edition + 1}"
    code = f"{family[:2].upper()}-{g.i + 1:04d}"
    return {
        "PRODUCT_NAME": full,
        "PRODUCT_CODE": code,
        "PRODUCT_SKU": f"SKU-{g.r.digits(6)}",
        "DESCRIPTION": g.r.maybe(0.7, f"{full} ({family.lower()})."),
        "PRODUCT_FAMILY": family,
        "PRODUCT_IMAGE_URL": g.r.maybe(0.2, f"https://cdn.example.com/products/{code}.png"),
        "CURRENCY_CODE": "USD",
        "DEFAULT_PRICE": product_price(g.ctx, g.i),
        "CREATED_USER_ID": g.user(),
        "OWNER_USER_ID": g.user(),
        "ACTIVE": g.r.chance(0.9),
    }


@builder("Pricebook")
def _pricebook_builder(g: Gen) -> dict[str, Any]:
    name, currency, _, standard = _pricebook(g.ctx, g.i)
    cycle = g.i // len(PRICEBOOKS)
    return {
        "NAME": name if cycle == 0 else f"{name} {cycle + 1}",
        "DESCRIPTION": "Default list prices" if standard else f"Prices in {currency}",
        "CURRENCY_CODE": currency,
        "IS_STANDARD": standard and cycle == 0,
        "ACTIVE": True,
        "OWNER_USER_ID": g.ctx.id("Users", 0),
        "CREATED_USER_ID": g.ctx.id("Users", 0),
    }


@builder("PricebookEntry")
def _entry(g: Gen) -> dict[str, Any]:
    pb, product, price, currency = entry_parts(g.ctx, g.i)
    return {  # an entry created on an empty tenant has no generated pricebook or product
        "PRICEBOOK_ID": g.id_of("Pricebook", pb if g.ctx.n("Pricebook") else None),
        "PRODUCT_ID": g.id_of("Product", product if g.ctx.n("Product") else None),
        "CURRENCY_CODE": currency,
        "PRICE": price,
        "USE_STANDARD_PRICE": pb == 0,
        "ACTIVE": g.r.chance(0.95),
        "CREATED_USER_ID": g.user(),
    }


@builder("OpportunityLineItem")
def _opportunity_item(g: Gen) -> dict[str, Any]:
    ctx = g.ctx
    opp = hashed_index(ctx, "Opportunities", "oli-opportunity", g.i)
    pb = pricebook_of_opportunity(ctx, opp) if opp is not None else None
    a = line_amounts(ctx, "oli", g.i, pb)
    return {
        "OPPORTUNITY_ID": ctx.id("Opportunities", opp) if opp is not None else None,
        "PRICEBOOK_ENTRY_ID": g.id_of("PricebookEntry", a["entry"]),
        "CURRENCY_CODE": a["currency"],
        "UNIT_PRICE": a["unit"],
        "DESCRIPTION": g.r.maybe(0.4, "Includes installation"),
        "QUANTITY": a["qty"],
        "SERVICE_DATE": g.r.maybe(0.5, g.day(g.created + g.r.between(5, 90) * DAY)),
        "TOTAL_PRICE": a["total"],
        "LIST_PRICE": a["list"],
        "SUBTOTAL": a["subtotal"],
        "DISCOUNT": a["discount"],
    }  # fmt: skip


def _quote_opportunity(ctx: Ctx, q: int) -> int | None:
    return hashed_index(ctx, "Opportunities", "quote-opportunity", q)


def _quote_items(ctx: Ctx, q: int) -> list[int]:
    n_q, n_items = ctx.n("Quotation"), ctx.n("QuotationLineItem")
    return list(range(q, n_items, n_q)) if n_q else []


def _quote_pricebook(ctx: Ctx, q: int) -> int | None:
    opp = _quote_opportunity(ctx, q)
    return pricebook_of_opportunity(ctx, opp) if opp is not None else None


@builder("Quotation")
def _quotation(g: Gen) -> dict[str, Any]:
    ctx, r = g.ctx, g.r
    opp = _quote_opportunity(ctx, g.i)
    pb = _quote_pricebook(ctx, g.i)
    items = [line_amounts(ctx, "qli", k, pb) for k in _quote_items(ctx, g.i)]
    subtotal = round(sum(a["total"] for a in items), 2)
    discount = round(subtotal * r.pick((0, 0, 0.05, 0.1)), 2)
    shipping = r.pick((0.0, 0.0, 25.0, 49.9))
    tax = round((subtotal - discount) * r.pick((0.0, 0.07, 0.19, 0.2)), 2)
    org = forward_target(ctx, "Opportunities", "Organisations", opp) if opp is not None else None
    contact = forward_target(ctx, "Opportunities", "Contacts", opp) if opp is not None else None
    bill = address(r)
    company = org_name(ctx, org).split(" (")[0] if org is not None else person(r).full
    currency = _pricebook(ctx, pb)[1] if pb is not None else "USD"
    return {
        "QUOTATION_NAME": f"Quote for {company}",
        "OPPORTUNITY_ID": ctx.id("Opportunities", opp) if opp is not None else None,
        "CONTACT_ID": ctx.id("Contacts", contact) if contact is not None else None,
        "ORGANISATION_ID": ctx.id("Organisations", org) if org is not None else None,
        "PRICEBOOK_ID": ctx.id("Pricebook", pb) if pb is not None else None,
        "QUOTATION_NUMBER": f"Q-{g.i + 1:05d}",
        "QUOTATION_DESCRIPTION": r.maybe(0.5, "Valid for 30 days. Prices exclude VAT."),
        "QUOTATION_PHONE": r.maybe(0.5, f"{bill.phone_prefix} {r.digits(3)} {r.digits(4)}"),
        "QUOTATION_EMAIL": r.maybe(0.6, "sales@acme-emulated.example"),
        "QUOTATION_FAX": None,
        "QUOTE_STATUS": r.pick(QUOTE_STATUSES),
        "QUOTATION_EXPIRATION_DATE": g.day(g.created + 30 * DAY),
        "LINE_ITEM_COUNT": len(items),
        "IS_SYNCING": r.chance(0.2),
        "QUOTATION_CURRENCY_CODE": currency,
        "SUBTOTAL": subtotal,
        "DISCOUNT": discount,
        "TOTAL_PRICE": round(subtotal - discount, 2),
        "SHIPPING_HANDLING": shipping,
        "TAX": tax,
        "GRAND_TOTAL": round(subtotal - discount + shipping + tax, 2),
        "ADDRESS_BILLING_NAME": company,
        "ADDRESS_BILLING_STREET": bill.street,
        "ADDRESS_BILLING_CITY": bill.city,
        "ADDRESS_BILLING_STATE": bill.state,
        "ADDRESS_BILLING_COUNTRY": bill.country,
        "ADDRESS_BILLING_POSTCODE": bill.postcode,
        "ADDRESS_SHIPPING_NAME": company,
        "ADDRESS_SHIPPING_STREET": bill.street,
        "ADDRESS_SHIPPING_CITY": bill.city,
        "ADDRESS_SHIPPING_STATE": bill.state,
        "ADDRESS_SHIPPING_COUNTRY": bill.country,
        "ADDRESS_SHIPPING_POSTCODE": bill.postcode,
        "OWNER_USER_ID": g.user(),
        "CREATED_USER_ID": g.user(),
    }  # fmt: skip


@builder("QuotationLineItem")
def _quotation_item(g: Gen) -> dict[str, Any]:
    ctx = g.ctx
    n_q = ctx.n("Quotation")
    q = g.i % n_q if n_q else None
    pb = _quote_pricebook(ctx, q) if q is not None else None
    a = line_amounts(ctx, "qli", g.i, pb)
    return {
        "QUOTE_ID": ctx.id("Quotation", q) if q is not None else None,
        "OPPORTUNITY_ITEM_ID": g.ref("OpportunityLineItem", 0.3),
        "PRICEBOOK_ENTRY_ID": g.id_of("PricebookEntry", a["entry"]),
        "DESCRIPTION": g.r.maybe(0.3, "Annual subscription"),
        "CURRENCY_CODE": a["currency"],
        "QUANTITY": a["qty"],
        "LIST_PRICE": a["list"],
        "UNIT_PRICE": a["unit"],
        "SUBTOTAL": a["subtotal"],
        "DISCOUNT": a["discount"],
        "TOTAL_PRICE": a["total"],
        "SORT_ORDER": g.i // n_q + 1 if n_q else 1,
    }  # fmt: skip
