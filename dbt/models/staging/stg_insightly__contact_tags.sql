-- One row per tag on a contact: the child table joined to its parent on dlt's row ids.
select
    c.contact_id,
    t.tag_name
from {{ source('insightly', 'contacts__tags') }} as t
join {{ source('insightly', 'contacts') }} as c on t._dlt_parent_id = c._dlt_id
where {{ insightly_not_deleted(source('insightly', 'contacts'), 'c') }}
