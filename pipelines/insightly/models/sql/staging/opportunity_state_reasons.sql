-- Each record represents one reason an opportunity can be given when its state changes.
select
    cast(state_reason_id as bigint) as opportunity_state_reason_id,
    cast(state_reason as text) as state_reason,
    cast(upper(for_opportunity_state) as text) as opportunity_state
from raw.opportunity_state_reasons
where _deleted_at is null
