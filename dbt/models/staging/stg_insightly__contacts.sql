-- One row per contact, contacts deleted in Insightly left out.
select
    contact_id,
    first_name,
    last_name,
    trim(concat_ws(' ', first_name, last_name)) as full_name,
    title,
    email_address,
    organisation_id,
    owner_user_id,
    date_created_utc as created_at,
    date_updated_utc as updated_at
from {{ source('insightly', 'contacts') }}
where {{ insightly_not_deleted(source('insightly', 'contacts')) }}
