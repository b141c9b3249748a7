"""The Arrow row path: a page of API records becomes Arrow tables, one per warehouse table.

dlt's own normaliser unnests and types dict rows one value at a time in Python, and was
about 90% of a large load's CPU (docs/performance.md). Here a page is turned into typed
Arrow columns in bulk (one list comprehension and one `pa.array` per column, not per value),
its nested lists into child tables keyed by the parent's primary key, and dlt loads the
Arrow tables as they are: its normaliser does no per-row work.

Typing is strict where pyarrow is lenient: pyarrow turns 1.5 into the integer 1 and True into
1.0. A value whose JSON type differs from its column's goes to a variant column of its own
type, `<column>__v_<type>` (dlt's naming), as the dict path did, so no value is converted or
lost. A column's type is the one the warehouse already has, else the catalogue's
(`fields.py`), else its first value's.

Written by hand: no library turns JSON records into Arrow with these guarantees. DuckDB's
`read_json` with declared columns makes 1.5 a BIGINT 2 and true a DOUBLE 1.0; pyarrow's JSON
reader refuses a page whose custom field values differ in type, and needs newline-delimited
JSON. The loops over values are C (itemgetter, map, one orjson call per custom field list);
Python runs per value only for odd ones (read/page_worker.py and docs/performance.md have
what was measured).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import chain, compress
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from insightly.catalogue.entities import CUSTOMFIELDS

UTC_SUFFIX = "_UTC"
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
FIELD_VALUE, FIELD_VALUE_TYPE = "FIELD_VALUE", "FIELD_VALUE_TYPE"

KIND_OF: dict[type, str] = {
    bool: "bool",
    int: "bigint",
    float: "double",
    str: "text",
    list: "json",
    dict: "json",
}
ACCEPTS: dict[str, frozenset[type]] = {
    "bigint": frozenset({int}),
    "double": frozenset({float, int}),  # an integer in a double column converts losslessly
    "bool": frozenset({bool}),
    "text": frozenset({str}),
    "timestamp": frozenset({str}),  # "YYYY-MM-DD HH:MM:SS", UTC; anything else is a variant
    "json": frozenset({list, dict, str, int, float, bool}),
}
ARROW_TYPE: dict[str, pa.DataType] = {
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "text": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "json": pa.string(),  # JSON text (objects and lists the catalogue doesn't unnest)
}
JSON_TYPE_NAME: dict[type, str] = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}
_NONE = type(None)
_TEXTS = frozenset({str, _NONE})
_SCALARS = frozenset({int, float, bool})
_SCALARS_AND_TEXTS = _TEXTS | _SCALARS
_LIST, _DICT = {list}, frozenset({dict})
_INT64 = (-(2**63), 2**63 - 1)


def dumps(value: Any) -> str:
    """Compact JSON text: orjson, or json for what orjson refuses (integers over 64 bits) or
    writes as null (infinities, NaN), so the value reads back as it was."""
    try:
        text = orjson.dumps(value)
        if b"null" not in text:
            return text.decode()
    except TypeError:
        pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_type_name(value: Any) -> str:
    """The JSON type of a decoded value: `string`, `number`, `boolean`, `null`, ..."""
    return JSON_TYPE_NAME.get(type(value), "object")


def encode_values(values: list[Any], types: list[type] | None = None) -> list[str | None]:
    """Custom field values as text: strings as they are, everything else as JSON.

    The numbers and booleans of a list are written by one orjson call and split at the
    commas (a number's or a boolean's JSON has none): the same text as one call per value,
    which cost 1.7 ms of a page's 8.5 (8,500 custom field values). `types`: the values'
    types, when the caller has them."""
    if types is None:
        types = list(map(type, values))
    kinds = set(types)
    if kinds <= _TEXTS:
        return values
    if kinds <= _SCALARS_AND_TEXTS:
        mask = np.fromiter(map(_SCALARS.__contains__, types), dtype=bool, count=len(types))
        try:
            text = orjson.dumps(list(compress(values, mask)))
        except TypeError:  # an integer past 64 bits: one value at a time (dumps)
            text = b"null"
        if b"null" not in text:  # infinities and NaN are written as null: json.dumps
            out = np.array(values, dtype=object)
            out[mask] = text[1:-1].decode().split(",")
            return out.tolist()
    return [v if v is None or type(v) is str else dumps(v) for v in values]


def _timestamps(values: list[Any]) -> tuple[pa.Array, list[Any]]:
    """Parse "YYYY-MM-DD HH:MM:SS" (UTC) in bulk; returns the array and what didn't parse."""
    text = pa.array(values, pa.string())
    parsed = pc.strptime(text, format=STAMP_FORMAT, unit="us", error_is_null=True)
    failed = pc.and_(pc.is_valid(text), pc.is_null(parsed))
    bad: list[Any] = []
    if pc.any(failed).as_py():
        mask = failed.to_pylist()
        bad = [v if m else None for v, m in zip(values, mask, strict=True)]
    return parsed.cast(ARROW_TYPE["timestamp"]), bad


def _array(values: list[Any], kind: str) -> pa.Array:
    if kind == "json":
        return pa.array([None if v is None else dumps(v) for v in values], pa.string())
    return pa.array(values, ARROW_TYPE[kind])


class Columns:
    """The columns of one warehouse table during a run, and how to build them from rows."""

    def __init__(self, known: dict[str, str], declared: dict[str, str], naming: Any) -> None:
        self.types = dict(known)  # normalised column name -> dlt data type
        self._declared = declared  # API field name -> dlt data type (fields.py)
        self._naming = naming
        self._names: dict[str, str] = {}

    def name(self, key: str) -> str:
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = self._naming.normalize_path(key)
        return name

    def _kind(self, key: str, name: str, values: list[Any]) -> str:
        kind = self.types.get(name) or self._declared.get(key)
        if kind is None:
            first = next((v for v in values if v is not None), None)
            if key.endswith(UTC_SUFFIX) and (first is None or type(first) is str):
                kind = "timestamp"  # null at first too: a text column would keep stamps as text
            elif first is None:
                kind = "text"
            else:
                kind = KIND_OF.get(type(first), "json")
        self.types[name] = kind
        return kind

    def build(self, rows: Sequence[dict], keys: Iterable[str]) -> dict[str, pa.Array]:
        """One typed Arrow array per key (null where a row lacks it), plus variant columns."""
        out: dict[str, pa.Array] = {}
        for key in keys:
            extra: dict[str, pa.Array] = {}  # variant columns, after their column
            values = values_of(rows, key)
            kinds = set(map(type, values))
            kinds.discard(_NONE)
            name = self.name(key)
            kind = self._kind(key, name, values)
            odd = kinds - ACCEPTS[kind]
            if str in odd and key.endswith(UTC_SUFFIX):
                values = self._stamp_variant(name, values, extra)
                odd = set(map(type, values)) - {_NONE} - ACCEPTS[kind]
            if odd:
                values = self._variants(name, values, odd, extra)
            if kind == "timestamp":
                out[name], bad = _timestamps(values)
                if bad:
                    self._variants(name, bad, {str}, extra, force="text")
            else:
                try:
                    out[name] = _array(values, kind)
                except OverflowError:  # an integer beyond 64 bits: keep it, as text
                    big, values = _past_int64(values)
                    self._variants(name, big, {int}, extra, "text")
                    out[name] = _array(values, kind)
            out.update(extra)
        return out

    def _stamp_variant(self, name: str, values: list[Any], out: dict[str, pa.Array]) -> list[Any]:
        """A `*_UTC` stamp in a column of another type goes to `<name>__v_timestamp`, typed
        as a timestamp like every `*_UTC` value; returns what stays."""
        texts = [v if type(v) is str else None for v in values]
        parsed, bad = _timestamps(texts)
        if bad:
            parsed = pc.if_else(pc.is_valid(pa.array(bad, pa.string())), None, parsed)
        vname = self._naming.normalize_path(f"{name}__v_timestamp")
        self.types[vname] = "timestamp"
        out[vname] = parsed
        ok = pc.is_valid(parsed).to_pylist()
        return [None if good else v for v, good in zip(values, ok, strict=True)]

    def _variants(
        self,
        name: str,
        values: list[Any],
        odd: set[type],
        out: dict[str, pa.Array],
        force: str | None = None,
    ) -> list[Any]:
        """Move values of the types in `odd` to `<name>__v_<kind>`; return what stays. An
        integer beyond 64 bits goes to `<name>__v_text`, as in its own column (`build`)."""
        for kind in sorted({force or KIND_OF.get(t, "json") for t in odd}):

            def moved(v: Any, kind: str = kind) -> bool:
                return type(v) in odd and (force is not None or KIND_OF.get(type(v)) == kind)

            moved_values = [v if moved(v) else None for v in values]
            if force == "text":
                moved_values = [None if v is None else str(v) for v in moved_values]
            if kind == "bigint":
                big, moved_values = _past_int64(moved_values)
                if any(b is not None for b in big):
                    self._variants(name, big, {int}, out, "text")
                if all(v is None for v in moved_values):  # every one was past 64 bits
                    continue
            self._put(out, name, kind, _array(moved_values, kind))
        return [None if type(v) in odd else v for v in values]

    def _put(self, out: dict[str, pa.Array], name: str, kind: str, array: pa.Array) -> None:
        """`<name>__v_<kind>`: a column's values of one kind that are not of its own type.
        Two moves to one variant (text, and integers beyond 64 bits as text) hold values of
        different rows, so the second fills the first's nulls."""
        vname = self._naming.normalize_path(f"{name}__v_{kind}")
        self.types[vname] = kind
        out[vname] = pc.coalesce(out[vname], array) if vname in out else array


def _past_int64(values: list[Any]) -> tuple[list[Any], list[Any]]:
    """(the integers beyond 64 bits, the rest), each in the values' places: Arrow's int64
    can't hold the first."""
    big = [v if type(v) is int and not _INT64[0] <= v <= _INT64[1] else None for v in values]
    rest = [None if b is not None else v for v, b in zip(values, big, strict=True)]
    return big, rest


def values_of(rows: Sequence[dict], key: str) -> list[Any]:
    """One field of every row; the API sends every key on every record, so the fast way
    (itemgetter, about twice a comprehension's speed) almost always applies."""
    try:
        return list(map(itemgetter(key), rows))
    except KeyError:
        return [r.get(key) for r in rows]


def record_keys(rows: Sequence[dict], declared: Iterable[str], skip: Iterable[str]) -> list[str]:
    """The declared fields, then any other key a row carries, in first-seen order."""
    keys = dict.fromkeys(declared)
    keys.update(dict.fromkeys(chain.from_iterable(rows)))
    for key in skip:
        keys.pop(key, None)
    return list(keys)


def flatten(rows: Sequence[dict], array: str) -> tuple[list[Any], np.ndarray]:
    """The items of one nested list across a page, and how many each row has."""
    lists = [r.get(array) for r in rows]
    if set(map(type, lists)) != _LIST:  # C loops: the usual page has a list on every row
        lists = [v if type(v) is list else ([] if v is None else [v]) for v in lists]
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    return list(chain.from_iterable(lists)), counts


def positions(counts: np.ndarray) -> pa.Array:
    """0..n-1 within each parent's list."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return pa.array(np.arange(total, dtype=np.int64) - starts)


def as_items(items: list[Any], array: str) -> list[dict]:
    """Items that are not objects (an unexpected shape) are kept whole, not dropped."""
    if set(map(type, items)) <= _DICT:  # no Python call per item (1,700 a page's lists)
        return items
    key = FIELD_VALUE if array == CUSTOMFIELDS else "VALUE"
    return [i if type(i) is dict else {key: i} for i in items]


def custom_field_values(items: list[dict]) -> dict[str, pa.Array]:
    """FIELD_VALUE as lossless text plus its JSON type (the SQL models cast per field)."""
    values = values_of(items, FIELD_VALUE)
    types = list(map(type, values))
    names = list(map(JSON_TYPE_NAME.get, types))  # no Python call per value
    if None in names:  # a type JSON doesn't make (not from a parsed page)
        names = [JSON_TYPE_NAME.get(t, "object") for t in types]
    return {
        "field_value": pa.array(encode_values(values, types), pa.string()),
        "field_value_type": pa.array(names, pa.string()),
    }


# Single values, for the cursor, the id check, the models and the tests.
json_type = json_type_name  # the JSON type of one value, named as the warehouse stores it


def encode_value(value: Any) -> str | None:
    """Text form of a custom field value: strings as they are, everything else as JSON."""
    return encode_values([value])[0]


def decode_value(text: str | None, kind: str) -> Any:
    """Inverse of `encode_value` given the stored JSON type; used by tests and models."""
    if kind == "string":
        return text
    if kind == "null" or text is None:
        return None
    return json.loads(text)


def with_constants(page: list[dict[str, Any]], extra: dict[str, Any] | None) -> list[dict]:
    """Add constant columns to a page's records (e.g. RECORD_TYPE for tags), in place."""
    if extra:
        for record in page:
            record.update(extra)
    return page
