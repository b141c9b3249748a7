-- One row per tag on a contact: the child table joined to its parent on the parent's key.
-- A contact marked deleted keeps its tags in the raw table; the parent's filter drops them.
select
    c.contact_id,
    t.tag_name
from {{ source('insightly', 'contacts__tags') }} as t
join {{ source('insightly', 'contacts') }} as c on t.contact_id = c.contact_id
where {{ insightly_not_deleted(source('insightly', 'contacts'), 'c') }}
