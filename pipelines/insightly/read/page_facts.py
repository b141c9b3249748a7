"""What a read needs to know of each page besides its tables: how many records, their keys
(the drift check, walk.RecordKeys) and the newest DATE_UPDATED_UTC (the cursor). Taken from
the records wherever they are decoded: in the sync's process, or in the page worker, which
sends them with the tables (page_worker.py, page_pipe.py) so the sync never decodes the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from insightly.api.stamps import parse_utc
from insightly.catalogue.entities import CURSOR


@dataclass(frozen=True)
class PageFacts:
    count: int
    ids: list[Any]  # each record's key: its value (one key field) or a tuple of them
    stamps: list[Any]  # each record's DATE_UPDATED_UTC as sent

    @property
    def newest(self) -> datetime | None:
        """The newest stamp that parses. Taken by the read's own thread: in the worker it
        was a twentieth of a page's time, and the worker is the slower of the two."""
        newest: datetime | None = None
        for stamp in self.stamps:
            value = parse_utc(stamp)
            if isinstance(value, datetime) and (newest is None or value > newest):
                newest = value
        return newest


def page_facts(page: Sequence[dict], key_names: Sequence[str]) -> PageFacts:
    if len(key_names) == 1:
        ids = [record.get(key_names[0]) for record in page]
    else:
        ids = [tuple(record.get(k) for k in key_names) for record in page]
    return PageFacts(len(page), ids, [record.get(CURSOR) for record in page])


def convert_page(convert: Any, records: list[dict]) -> tuple[PageFacts, Any]:
    """A decoded page's facts and tables (`convert`: the run's PageTables), wherever it is
    decoded: the sync's process or the worker. An empty page has no tables: the read skips
    it, and converting it would add the declared columns as a page with rows does."""
    facts = page_facts(records, convert.key_names)
    return facts, (convert.page(records) if records else None)


@dataclass
class ConvertedPage:
    """A page converted where it was decoded: its facts and its tables (root, children)."""

    offset: int
    facts: PageFacts
    root: pa.Table | None  # None for an empty page
    children: list[tuple[str, pa.Table]]

    def __len__(self) -> int:
        return self.facts.count
