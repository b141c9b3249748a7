"""Records written only under their parent (docs/api.md §10): milestones of a
project, line items of an opportunity or a quotation, price-book entries of a price book or
a product. ``GET /{Parent}/{id}/{Child}`` lists them, ``POST`` creates one with the
parent's key set, ``PUT`` (the child's key in the body) updates one of that parent,
``DELETE /{Parent}/{id}/{Child}/{childId}`` deletes one. The API documents no required list
for them.
"""

from __future__ import annotations

from typing import Any

from .catalog import spec
from .params import ApiError
from .write_records import RecordWrites, not_found

# (parent, lower-case path segment) -> (child entity, the child's field holding the parent)
CHILDREN: dict[tuple[str, str], tuple[str, str]] = {
    ("Projects", "milestones"): ("Milestones", "PROJECT_ID"),
    ("Opportunities", "opportunitylineitem"): ("OpportunityLineItem", "OPPORTUNITY_ID"),
    ("Quotation", "quotationlineitem"): ("QuotationLineItem", "QUOTE_ID"),
    ("Pricebook", "pricebookentry"): ("PricebookEntry", "PRICEBOOK_ID"),
    ("Product", "pricebookentry"): ("PricebookEntry", "PRODUCT_ID"),
}
SEGMENTS = frozenset(segment for _, segment in CHILDREN)


class ChildWrites:
    """POST, PUT and DELETE of child records under an existing parent."""

    def __init__(self, records: RecordWrites) -> None:
        self.records = records
        self.tenant = records.tenant

    def _child(self, parent: str, parent_id: int, segment: str) -> tuple[str, str]:
        found = CHILDREN.get((parent, segment.lower()))
        if found is None:
            raise ApiError(404, "No HTTP resource was found that matches the request URI.")
        if self.tenant.get(parent, parent_id) is None:
            raise not_found()
        return found

    def list(self, parent: str, parent_id: int, segment: str) -> list[dict]:
        child, key = self._child(parent, parent_id, segment)
        return [r for r in self.tenant.records(child) if r.get(key) == parent_id]

    def create(self, parent: str, parent_id: int, segment: str, body: Any) -> dict:
        child, key = self._child(parent, parent_id, segment)
        return self.records.create(child, body, extra={key: parent_id})

    def update(self, parent: str, parent_id: int, segment: str, body: Any) -> dict:
        child, key = self._child(parent, parent_id, segment)
        return self.records.update(child, body, None, parent=(key, parent_id))

    def delete(self, parent: str, parent_id: int, segment: str, child_id: Any) -> None:
        child, key = self._child(parent, parent_id, segment)
        record = self.tenant.get(child, int(child_id)) if str(child_id).isdigit() else None
        if record is None or record.get(key) != parent_id:
            raise not_found()
        self.tenant.delete(spec(child).name, int(child_id))
