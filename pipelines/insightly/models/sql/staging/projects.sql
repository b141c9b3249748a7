-- Each record represents one project, deleted projects excluded.
select
    cast(project_id as bigint) as project_id,
    cast(project_name as text) as project_name,
    cast(project_details as text) as project_details,
    cast(upper(status) as text) as status,
    cast(upper(status) = 'COMPLETED' as boolean) as is_completed,
    cast(opportunity_id as bigint) as opportunity_id,
    cast(category_id as bigint) as category_id,
    cast(pipeline_id as bigint) as pipeline_id,
    cast(stage_id as bigint) as stage_id,
    cast(owner_user_id as bigint) as owner_user_id,
    cast(responsible_user_id as bigint) as responsible_user_id,
    cast(created_user_id as bigint) as created_user_id,
    cast(cast(nullif(started_date, '') as timestamp) as date) as started_date,
    cast(cast(nullif(completed_date, '') as timestamp) as date) as completed_date,
    cast(last_activity_date_utc as timestamptz) as last_activity_at,
    cast(next_activity_date_utc as timestamptz) as next_activity_at,
    cast(date_created_utc as timestamptz) as created_at,
    cast(date_updated_utc as timestamptz) as updated_at
from raw.projects
where _deleted_at is null
