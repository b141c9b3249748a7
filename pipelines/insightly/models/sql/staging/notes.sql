-- Each record represents one note, deleted notes excluded.
select
    cast(note_id as bigint) as note_id,
    cast(title as text) as title,
    cast(body as text) as body,
    cast(owner_user_id as bigint) as owner_user_id,
    cast(date_created_utc as timestamptz) as created_at,
    cast(date_updated_utc as timestamptz) as updated_at
from raw.notes
where _deleted_at is null
