-- Each record represents one organisation with its activity: last and next activity, and
-- the open tasks, events, notes and emails linked to it.
with linked as (
    select object_type, object_id, linked_object_type, linked_object_id from stg.record_links
    union all
    select linked_object_type, linked_object_id, object_type, object_id from stg.record_links
),
counts as (
    select
        k.object_id as organisation_id,
        count(case when k.linked_object_type = 'Task' and not t.is_completed then 1 end)
            as open_task_count,
        count(case when k.linked_object_type = 'Event' then 1 end) as event_count,
        count(case when k.linked_object_type = 'Note' then 1 end) as note_count,
        count(case when k.linked_object_type = 'Email' then 1 end) as email_count
    from linked as k
    left join stg.tasks as t on k.linked_object_type = 'Task' and t.task_id = k.linked_object_id
    where k.object_type = 'Organisation'
    group by k.object_id
)
select
    o.organisation_id,
    o.organisation_name,
    o.owner_user_id,
    o.last_activity_at,
    o.next_activity_at,
    coalesce(n.open_task_count, 0) as open_task_count,
    coalesce(n.event_count, 0) as event_count,
    coalesce(n.note_count, 0) as note_count,
    coalesce(n.email_count, 0) as email_count
from stg.organisations as o
left join counts as n on n.organisation_id = o.organisation_id
