-- Each record represents one relationship type that links between records can carry.
select
    cast(relationship_id as bigint) as relationship_id,
    cast(forward_title as text) as forward_title,
    cast(forward as text) as forward_phrase,
    cast(reverse_title as text) as reverse_title,
    cast(reverse as text) as reverse_phrase,
    cast(coalesce(for_contacts, false) as boolean) as is_for_contacts,
    cast(coalesce(for_organisations, false) as boolean) as is_for_organisations
from raw.relationships
where _deleted_at is null
