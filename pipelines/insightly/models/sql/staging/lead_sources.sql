-- Each record represents one lead source (where leads come from).
select
    cast(lead_source_id as bigint) as lead_source_id,
    cast(lead_source as text) as lead_source,
    cast(coalesce(default_value, false) as boolean) as is_default,
    cast(field_order as bigint) as field_order
from raw.lead_sources
where _deleted_at is null
