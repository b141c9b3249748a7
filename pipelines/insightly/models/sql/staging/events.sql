-- Each record represents one calendar event, deleted events excluded.
select
    cast(event_id as bigint) as event_id,
    cast(title as text) as title,
    cast(location as text) as location,
    cast(details as text) as details,
    cast(coalesce(all_day, false) as boolean) as is_all_day,
    cast(start_date_utc as timestamptz) as start_at,
    cast(end_date_utc as timestamptz) as end_at,
    cast(reminder_date_utc as timestamptz) as reminder_at,
    cast(owner_user_id as bigint) as owner_user_id,
    cast(date_created_utc as timestamptz) as created_at,
    cast(date_updated_utc as timestamptz) as updated_at
from raw.events
where _deleted_at is null
