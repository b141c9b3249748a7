-- Each record represents one project milestone, deleted milestones excluded.
select
    cast(milestone_id as bigint) as milestone_id,
    cast(title as text) as title,
    cast(project_id as bigint) as project_id,
    cast(coalesce(completed, false) as boolean) as is_completed,
    cast(cast(nullif(due_date, '') as timestamp) as date) as due_date,
    cast(completed_date_utc as timestamptz) as completed_at,
    cast(owner_user_id as bigint) as owner_user_id,
    cast(responsible_user as bigint) as responsible_user_id,
    cast(date_created_utc as timestamptz) as created_at,
    cast(date_updated_utc as timestamptz) as updated_at
from raw.milestones
where _deleted_at is null
