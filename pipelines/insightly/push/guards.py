"""Guard rails against a broken model, checked on the plan before anything is sent. A
wrong join can ask to delete or blank half the CRM, or repeat each record's row so that
thousands of rows are invalid and the rest are written several times over: those stop the
push (exit 8) unless --allow-mass-change. A field changed on many records is only
reported: a score pushed to every contact is the normal case."""

from __future__ import annotations

import math
from collections import Counter

from insightly.errors import InsightlyError
from insightly.push.config import PushSpec
from insightly.push.plan import CLEARS, UPDATE, Plan
from insightly.push.text import listed

MASS_CHANGE = 8
MIN_REPEATS, REPEAT_SHARE = 10, 0.01  # rows that may repeat a key: max(10, 1% of the rows)
EXAMPLES = 3  # repeated keys a stop message shows


class MassChangeStopped(InsightlyError):
    """The plan changes too much at once, or the relation repeats its key too often."""

    exit_code = MASS_CHANGE


def repeat_threshold(rows: int) -> int:
    """Rows of a relation that may repeat their key before the push stops."""
    return max(MIN_REPEATS, math.ceil(rows * REPEAT_SHARE))


def guard_message(spec: PushSpec, plan: Plan, allow_mass_change: bool) -> str | None:
    """Why to stop before sending anything; None when the plan passes every guard rail
    (or --allow-mass-change)."""
    if allow_mass_change:
        return None
    found = [m for m in (repeated_key(spec, plan), mass_change(spec, plan)) if m]
    return "\n".join(found) or None


def _split(plan: Plan, key: str) -> tuple[str, str]:
    """A row key (`id:12`, `EMAIL_ADDRESS:a@b.c`) as the key's name and the value."""
    name, _, value = key.partition(":")
    return (plan.id_column or name) if name == "id" else name, value


def repeated_key(spec: PushSpec, plan: Plan) -> str | None:
    """One line when more rows than max(10, 1%) repeat their match key (a join that
    multiplies rows), naming the key, the count, a few values and the way out."""
    repeated = [r for r in plan.rows if r.repeats]
    limit = repeat_threshold(len(plan.rows))
    if len(repeated) <= limit:
        return None
    per_key = Counter(r.key for r in repeated)
    names = " / ".join(sorted({_split(plan, k)[0] for k in per_key}))
    examples = ", ".join(
        f"{_split(plan, k)[1]} ({n} rows)" for k, n in per_key.most_common(EXAMPLES)
    )
    return (
        f"push {spec.name}: stopped before sending anything: {len(repeated):,} of "
        f"{len(plan.rows):,} rows of {spec.relation} repeat their key {names} (more than "
        f"max({MIN_REPEATS}, 1% of the rows) = {limit:,}), e.g. {examples}. A join that "
        "multiplies rows? Make the key unique in the model (one row per record); to push the "
        "other rows and report these as invalid, run again with --allow-mass-change."
    )


def mass_change(spec: PushSpec, plan: Plan) -> str | None:
    """Deletes, cleared fields, removed tags or links on more records than the threshold:
    what and how many, the first ids and the fields that would be cleared."""
    over = plan.over_threshold()
    if not over:
        return None
    lines = [
        f"push {spec.name}: stopped before sending anything: the plan would "
        + "; ".join(f"{kind} {len(rows):,} records" for kind, rows in over.items())
        + f", more than the guard rail's {plan.threshold:,} (max(50, 5% of "
        f"{plan.object_count:,}) unless max_mass_change is set). Check the model (a dry "
        "run lists every row in push_results); if this is intended, run again with "
        "--allow-mass-change."
    ]
    for kind, rows in over.items():
        lines.append(f"  would {kind} ({len(rows):,}): {listed(r.record_id for r in rows)}")
        if kind == CLEARS:
            fields = Counter(f for r in rows for f in r.cleared)
            lines.append(
                "  fields it would clear: "
                + listed(f"{f} on {n:,} records" for f, n in fields.most_common())
            )
    return "\n".join(lines)


def wide_changes(plan: Plan) -> list[str]:
    """A warning when an update changes one field on more records than the guard rail's
    threshold: the field and the count, for the dry run and the summary."""
    per_field = Counter(f for r in plan.rows if r.action == UPDATE for f in r.changed)
    wide = [(f, n) for f, n in per_field.most_common() if n > plan.threshold]
    if not wide:
        return []
    return [
        f"  warning: the push changes {listed(f'{f} on {n:,}' for f, n in wide)} of "
        f"{plan.object_count:,} records (more than {plan.threshold:,}, the guard rail's "
        "threshold): expected for a score pushed to every record; if not, check the model"
    ]
