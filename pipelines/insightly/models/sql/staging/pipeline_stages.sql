-- Each record represents one stage of a pipeline.
select
    cast(stage_id as bigint) as pipeline_stage_id,
    cast(pipeline_id as bigint) as pipeline_id,
    cast(stage_name as text) as stage_name,
    cast(stage_order as bigint) as stage_order,
    cast(activityset_id as bigint) as activity_set_id,
    cast(owner_user_id as bigint) as owner_user_id
from raw.pipeline_stages
where _deleted_at is null
