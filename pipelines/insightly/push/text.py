"""How push output words lists and times: a list of ids is cut at ten with a count of the
rest (a mass delete once printed 9,016 ids on one line), a duration in the unit a person
plans with."""

from __future__ import annotations

from collections.abc import Iterable

MOST = 10  # items a list in push output shows before "… and N more"


def listed(items: Iterable[object], most: int = MOST) -> str:
    """ "1, 2, 3 … and 9,006 more": the first `most` items, then how many were left out."""
    items = list(items)
    shown = ", ".join(str(i) for i in items[:most])
    rest = len(items) - most
    return f"{shown} … and {rest:,} more" if rest > 0 else shown


def duration(seconds: float) -> str:
    """ "about 34 minutes": rounded to what a plan needs."""
    if seconds < 60:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} minute{'s' if minutes > 1 else ''}"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes:02d} min"
