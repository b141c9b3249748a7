-- Each record represents one organisation (a company), deleted organisations excluded.
select
    cast(organisation_id as bigint) as organisation_id,
    cast(organisation_name as text) as organisation_name,
    cast(background as text) as background,
    cast(owner_user_id as bigint) as owner_user_id,
    cast(created_user_id as bigint) as created_user_id,
    cast(phone as text) as phone,
    cast(website as text) as website,
    cast(address_billing_city as text) as address_billing_city,
    cast(address_billing_state as text) as address_billing_state,
    cast(address_billing_country as text) as address_billing_country,
    cast(address_billing_postcode as text) as address_billing_postcode,
    cast(address_ship_country as text) as address_ship_country,
    cast(social_linkedin as text) as social_linkedin,
    cast(visible_to as text) as visible_to,
    cast(visible_team_id as bigint) as visible_team_id,
    cast(last_activity_date_utc as timestamptz) as last_activity_at,
    cast(next_activity_date_utc as timestamptz) as next_activity_at,
    cast(date_created_utc as timestamptz) as created_at,
    cast(date_updated_utc as timestamptz) as updated_at
from raw.organisations
where _deleted_at is null
