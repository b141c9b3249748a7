-- Each record represents one user's overdue tasks (not completed, due before today):
-- how many, the oldest due date and the average days overdue.
select
    t.owner_user_id,
    u.full_name as owner_name,
    count(*) as overdue_task_count,
    min(t.due_date) as oldest_due_date,
    cast(avg(current_date - t.due_date) as decimal(18, 1)) as avg_days_overdue
from stg.tasks as t
left join stg.users as u on u.user_id = t.owner_user_id
where not t.is_completed and t.due_date < current_date
group by t.owner_user_id, u.full_name
