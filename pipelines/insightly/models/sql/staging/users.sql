-- Each record represents one Insightly user (a person who logs in), deleted users excluded.
select
    cast(user_id as bigint) as user_id,
    cast(contact_id as bigint) as contact_id,
    cast(first_name as text) as first_name,
    cast(last_name as text) as last_name,
    cast(trim(concat_ws(' ', first_name, last_name)) as text) as full_name,
    cast(email_address as text) as email_address,
    cast(timezone_id as text) as timezone_id,
    cast(user_currency as text) as user_currency,
    cast(coalesce(administrator, false) as boolean) as is_administrator,
    cast(coalesce(account_owner, false) as boolean) as is_account_owner,
    cast(coalesce(active, false) as boolean) as is_active,
    cast(date_created_utc as timestamptz) as created_at,
    cast(date_updated_utc as timestamptz) as updated_at
from raw.users
where _deleted_at is null
