"""From desired rows and the copy to the writes a push needs: validation, matching, and a
field-by-field diff. Nothing here sends a request: the plan is
what `--dry-run` prints and what apply.py sends, step by step."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from insightly.push import validate
from insightly.push.config import PushSpec
from insightly.push.mapping import Mapping, MatchKey
from insightly.push.objects import SINGULAR, Target
from insightly.push.snapshot import Current, CustomField
from insightly.push.text import listed

CREATE, UPDATE, DELETE, UNCHANGED, INVALID = "create", "update", "delete", "unchanged", "invalid"
ADD_TAG, REMOVE_TAG = "add_tag", "remove_tag"
ADD_LINK, REMOVE_LINK = "add_link", "remove_link"
SUB_WRITES = (ADD_TAG, REMOVE_TAG, ADD_LINK, REMOVE_LINK)  # counted per request
MIN_MASS_CHANGE, MASS_CHANGE_SHARE = 50, 0.05
CLEARS = "clear fields that hold values on"  # a guard rail kind (mass_changes)


@dataclass
class Step:
    """One write request."""

    kind: str  # create | update | delete | add_tag | remove_tag | add_link | remove_link
    body: dict[str, Any] | None = None
    # a tag name; (LINK_OBJECT_NAME, LINK_OBJECT_ID) to add, (.., .., LINK_ID) to remove
    value: Any = None


@dataclass
class RowPlan:
    """What one row of the relation asks of Insightly."""

    key: str
    action: str
    record_id: int | None = None
    steps: list[Step] = field(default_factory=list)
    error: str | None = None
    # (field, custom, value, parent id) for finding a create whose answer was lost
    match: tuple[str, bool, Any, int | None] | None = None
    cleared: list[str] = field(default_factory=list)  # fields that hold a value, cleared
    changed: list[str] = field(default_factory=list)  # fields an update changes (guards.py)
    repeats: int = 0  # rows of the relation that ask for the same record as this one
    tags_removed: int = 0
    links_removed: int = 0


@dataclass
class Plan:
    rows: list[RowPlan]
    object_count: int  # live records of the object in the copy
    threshold: int
    id_column: str | None = None  # what the key `id:<id>` of a row names

    def counts(self) -> Counter[str]:
        """Rows per action, and requests per tag and link change."""
        counts: Counter[str] = Counter(r.action for r in self.rows)
        for row in self.rows:
            for step in row.steps:
                if step.kind in SUB_WRITES:
                    counts[step.kind] += 1
        return counts

    def requests(self) -> Counter[str]:
        """Write requests per kind (a row's update may be tags only: no PUT)."""
        return Counter(step.kind for row in self.rows for step in row.steps)

    @property
    def writes(self) -> int:
        return sum(len(r.steps) for r in self.rows)

    def mass_changes(self) -> dict[str, list[RowPlan]]:
        """Rows whose destructive change counts against the guard rail, per kind."""
        return {
            "delete": [r for r in self.rows if r.action == DELETE],
            CLEARS: [r for r in self.rows if r.cleared],
            "remove tags from": [r for r in self.rows if r.tags_removed],
            "remove links from": [r for r in self.rows if r.links_removed],
        }

    def over_threshold(self) -> dict[str, list[RowPlan]]:
        return {k: v for k, v in self.mass_changes().items() if len(v) > self.threshold}


def threshold(spec: PushSpec, object_count: int) -> int:
    """Records a push may change destructively: configured, else max(50, 5% of the object)."""
    if spec.max_mass_change is not None:
        return spec.max_mass_change
    return max(MIN_MASS_CHANGE, math.ceil(object_count * MASS_CHANGE_SHARE))


def match_value(key: MatchKey, value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value.casefold() if key.folds_case else value
    return value


class Planner:
    """Plans every row of one push against one snapshot of the copy."""

    def __init__(
        self,
        spec: PushSpec,
        target: Target,
        mapping: Mapping,
        copy: dict[int, Current],
        customs: dict[str, CustomField],
    ) -> None:
        self.spec, self.target, self.mapping, self.copy = spec, target, mapping, copy
        self.editable = {n for n, f in customs.items() if f.editable}
        # notes match within their parent: the parent's link on the note (singular name)
        self.scope = SINGULAR.get(spec.parent or "")
        self.index: dict[Any, list[int]] = defaultdict(list)
        key = mapping.match
        if key is not None:
            for record in copy.values():
                source = record.custom if key.custom else record.fields
                value = source.get(key.field)
                if value is None:
                    continue
                value = match_value(key, self._copy_value(key.field, value))
                for parent in self._parents(record):
                    self.index[(parent, value)].append(record.id)

    def _parents(self, record: Current) -> list[int | None]:
        if self.scope is None:
            return [None]
        return [i for name, i, _ in record.links if name == self.scope]

    def _parent_of(self, row: dict) -> int | None:
        column = self.mapping.parent_column
        return validate.whole(row[column]) if column and row.get(column) is not None else None

    def _copy_value(self, name: str, value: Any) -> Any:
        custom = next((f for f in self.mapping.custom.values() if f.name == name), None)
        if custom is not None:
            return validate.copy_value(validate.custom, custom, value)
        kind = self.target.fields.get(name, "text")
        return validate.copy_value(validate.standard, name, kind, value)

    def plan(self, rows: list[dict]) -> Plan:
        identities = Counter(i for i in map(self._identity, rows) if i is not None)
        planned = []
        for row in rows:
            key, same = self.mapping.key_of(row), identities[self._identity(row)]
            if same > 1:
                error = f"{same} rows of the relation have {key}"
                planned.append(RowPlan(key, INVALID, error=error, repeats=same))
            else:
                planned.append(self.row(row, key))
        limit = threshold(self.spec, len(self.copy))
        return Plan(planned, len(self.copy), limit, self.mapping.id_column)

    def _identity(self, row: dict) -> tuple | None:
        """What makes two rows ask for the same record (the id, else the folded match)."""
        id_column, key = self.mapping.id_column, self.mapping.match
        if id_column and row.get(id_column) is not None:
            return ("id", str(row[id_column]))
        if key is not None and row.get(key.column) is not None:
            parent = row.get(self.mapping.parent_column or "")
            return ("match", str(parent), str(match_value(key, row[key.column])))
        return None

    def row(self, row: dict, key: str) -> RowPlan:
        try:
            desired = self._desired(row)
        except validate.Invalid as exc:
            return RowPlan(key, INVALID, error=str(exc))
        found = self._match(row)
        if isinstance(found, RowPlan):
            found.key = key
            return found
        if self.spec.mode == "delete":
            if found is None:
                return RowPlan(key, UNCHANGED, error="no such record: nothing to delete")
            return RowPlan(key, DELETE, found.id, [Step(DELETE)])
        if found is None:
            if self.spec.mode == "update":
                return RowPlan(key, INVALID, error="no record matches: update mode never creates")
            return self._create(key, row, desired)
        if self.spec.mode == "insert":
            return RowPlan(key, UNCHANGED, found.id, error="exists: insert mode never updates")
        return self._update(key, found, desired)

    def _desired(self, row: dict) -> dict[str, Any]:
        """The row's values in API form; raises Invalid with every reason at once."""
        out: dict[str, Any] = {"fields": {}, "custom": {}, "tags": None, "links": []}
        errors = []
        for col, api in self.mapping.standard.items():
            try:
                out["fields"][api] = validate.standard(api, self.target.fields[api], row[col])
            except validate.Invalid as exc:
                errors.append(str(exc))
        for col, custom in self.mapping.custom.items():
            try:
                out["custom"][custom.name] = validate.custom(custom, row[col])
            except validate.Invalid as exc:
                errors.append(str(exc))
        if self.mapping.tags_column:
            try:
                out["tags"] = validate.tags(row[self.mapping.tags_column])
            except validate.Invalid as exc:
                errors.append(str(exc))
        for col, name in self.mapping.links.items():
            if row[col] is not None:
                try:
                    out["links"].append((name, validate.whole(row[col])))
                except validate.Invalid as exc:
                    errors.append(f"{col}: {exc}")
        if errors:
            raise validate.Invalid("; ".join(errors))
        return out

    def _match(self, row: dict) -> Current | RowPlan | None:
        id_column, key = self.mapping.id_column, self.mapping.match
        if id_column and row.get(id_column) is not None:
            try:
                record_id = validate.whole(row[id_column])
            except validate.Invalid as exc:
                return RowPlan("", INVALID, error=f"{id_column}: {exc}")
            record = self.copy.get(record_id)
            if record is None and self.spec.mode != "delete":
                return RowPlan("", INVALID, error=f"no record {record_id} in the copy")
            return record
        if key is None:
            return RowPlan("", INVALID, error=f"{id_column} is empty")
        value = row.get(key.column)
        if value is None:
            return RowPlan("", INVALID, error=f"match key {key.field} is empty")
        try:
            parent = self._parent_of(row)
        except validate.Invalid as exc:
            return RowPlan("", INVALID, error=f"{self.mapping.parent_column}: {exc}")
        if self.scope is not None and parent is None:
            return RowPlan("", INVALID, error=f"{self.mapping.parent_column} is empty")
        found = match_value(key, self._copy_value(key.field, value))
        ids = self.index.get((parent, found), [])
        if len(ids) > 1:
            records = listed(sorted(ids))
            return RowPlan("", INVALID, error=f"ambiguous: {key.field} matches records {records}")
        return self.copy[ids[0]] if ids else None

    def _create(self, key: str, row: dict, desired: dict) -> RowPlan:
        fields = {f: v for f, v in desired["fields"].items() if v is not None}
        missing = [f for f in self.target.required if f not in fields]
        if missing:
            return RowPlan(key, INVALID, error=f"missing required field(s) {', '.join(missing)}")
        body: dict[str, Any] = dict(fields)
        custom = [
            {"FIELD_NAME": n, "FIELD_VALUE": v}
            for n, v in desired["custom"].items()
            if v is not None
        ]
        if custom:
            body["CUSTOMFIELDS"] = custom
        steps = [Step(CREATE, body)]
        steps += [Step(ADD_TAG, value=t) for t in desired["tags"] or []]
        steps += [Step(ADD_LINK, value=link) for link in desired["links"]]
        match = self.mapping.match
        assert match is not None  # insert and upsert require one (mapping.py)
        value = (desired["custom"] if match.custom else desired["fields"]).get(match.field)
        parent = self._parent_of(row)
        steps[0].value = parent
        return RowPlan(key, CREATE, None, steps, match=(match.field, match.custom, value, parent))

    def _update(self, key: str, record: Current, desired: dict) -> RowPlan:
        changed: dict[str, Any] = {}
        cleared: list[str] = []
        for api, value in desired["fields"].items():
            current = self._copy_value(api, record.fields.get(api))
            if current != value or (type(current) is bool and not isinstance(value, bool)):
                changed[api] = value
                if value is None and current is not None:
                    cleared.append(api)
        custom: list[str] = []
        for name, value in desired["custom"].items():
            current = self._copy_value(name, record.custom.get(name))
            if current != value:
                custom.append(name)
                if value is None and current is not None:
                    cleared.append(name)
        steps = []
        if changed or custom:
            body = {self.target.key: record.id, **changed}
            if custom:
                body["CUSTOMFIELDS"] = self._custom_list(record, desired["custom"])
            steps.append(Step(UPDATE, body))
        removed = 0
        if desired["tags"] is not None:
            have = set(record.tags)
            steps += [Step(ADD_TAG, value=t) for t in desired["tags"] if t not in have]
            if self.spec.tags_mode == "set":
                gone = [t for t in record.tags if t not in set(desired["tags"])]
                steps += [Step(REMOVE_TAG, value=t) for t in gone]
                removed = len(gone)
        links = self._link_steps(record, desired["links"])
        steps += links
        action = UPDATE if steps else UNCHANGED
        unlinked = sum(s.kind == REMOVE_LINK for s in links)
        return RowPlan(
            key, action, record.id, steps, cleared=cleared, changed=[*changed, *custom],
            tags_removed=removed, links_removed=unlinked,
        )  # fmt: skip

    def _link_steps(self, record: Current, desired: list[tuple[str, int]]) -> list[Step]:
        """Links to add; with links_mode = set, also the record's links to the objects the
        push's link columns name that the row does not hold (a NULL column: none)."""
        linked = {(n, i) for n, i, _ in record.links}
        steps = [Step(ADD_LINK, value=link) for link in desired if link not in linked]
        if self.spec.links_mode == "set":
            named, wanted = set(self.mapping.links.values()), set(desired)
            steps += [
                Step(REMOVE_LINK, value=(n, i, link_id))
                for n, i, link_id in record.links
                if n in named and (n, i) not in wanted
            ]
        return steps

    def _custom_list(self, record: Current, desired: dict[str, Any]) -> list[dict[str, Any]]:
        """The record's whole custom field list with the desired values: whether a PUT merges
        CUSTOMFIELDS per field or replaces the list is unknown (docs/api.md §10), and the
        whole list is right under both (the pattern of a public Go client)."""
        kept = {n: v for n, v in record.custom.items() if n in self.editable and v is not None}
        merged = {**kept, **desired}
        return [{"FIELD_NAME": n, "FIELD_VALUE": v} for n, v in merged.items()]
