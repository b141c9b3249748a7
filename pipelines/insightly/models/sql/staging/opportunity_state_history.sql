-- Each record represents one change of an opportunity's state (OPEN, WON, LOST, ABANDONED,
-- SUSPENDED) with the reason given, from /Opportunities/{id}/StateHistory.
select
    cast(opportunity_id as bigint) as opportunity_id,
    cast(date_changed_utc as timestamptz) as changed_at,
    cast(upper(for_opportunity_state) as text) as opportunity_state,
    cast(state_reason_id as bigint) as state_reason_id,
    cast(state_reason as text) as state_reason
from raw.opportunity_state_history
