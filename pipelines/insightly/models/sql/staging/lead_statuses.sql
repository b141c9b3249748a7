-- Each record represents one lead status.
select
    cast(lead_status_id as bigint) as lead_status_id,
    cast(lead_status as text) as lead_status,
    cast(coalesce(default_status, false) as boolean) as is_default,
    cast(status_type as bigint) as status_type,
    cast(field_order as bigint) as field_order
from raw.lead_statuses
where _deleted_at is null
