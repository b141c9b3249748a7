-- Each record represents one email stored in Insightly, deleted emails excluded.
select
    cast(email_id as bigint) as email_id,
    cast(email_from as text) as email_from,
    cast(subject as text) as subject,
    cast(format as text) as format,
    cast(size as bigint) as size_bytes,
    cast(email_date_utc as timestamptz) as email_at,
    cast(queued_send_date_utc as timestamptz) as queued_send_at,
    cast(owner_user_id as bigint) as owner_user_id,
    cast(created_user_id as bigint) as created_user_id,
    cast(date_created_utc as timestamptz) as created_at
from raw.emails
where _deleted_at is null
