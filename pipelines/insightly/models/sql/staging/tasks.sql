-- Each record represents one task, deleted tasks excluded.
select
    cast(task_id as bigint) as task_id,
    cast(title as text) as title,
    cast(details as text) as details,
    cast(upper(status) as text) as status,
    cast(coalesce(completed, false) as boolean) as is_completed,
    cast(priority as bigint) as priority,
    cast(percent_complete as bigint) as percent_complete,
    cast(category_id as bigint) as category_id,
    cast(cast(nullif(start_date, '') as timestamp) as date) as start_date,
    cast(cast(nullif(due_date, '') as timestamp) as date) as due_date,
    cast(completed_date_utc as timestamptz) as completed_at,
    cast(reminder_date_utc as timestamptz) as reminder_at,
    cast(owner_user_id as bigint) as owner_user_id,
    cast(responsible_user_id as bigint) as responsible_user_id,
    cast(assigned_by_user_id as bigint) as assigned_by_user_id,
    cast(assigned_team_id as bigint) as assigned_team_id,
    cast(created_user_id as bigint) as created_user_id,
    cast(project_id as bigint) as project_id,
    cast(milestone_id as bigint) as milestone_id,
    cast(opportunity_id as bigint) as opportunity_id,
    cast(email_id as bigint) as email_id,
    cast(parent_task_id as bigint) as parent_task_id,
    cast(publicly_visible as boolean) as is_publicly_visible,
    cast(date_created_utc as timestamptz) as created_at,
    cast(date_updated_utc as timestamptz) as updated_at
from raw.tasks
where _deleted_at is null
