-- Each record represents one sales or project pipeline.
select
    cast(pipeline_id as bigint) as pipeline_id,
    cast(pipeline_name as text) as pipeline_name,
    cast(coalesce(for_opportunities, false) as boolean) as is_for_opportunities,
    cast(coalesce(for_projects, false) as boolean) as is_for_projects,
    cast(owner_user_id as bigint) as owner_user_id
from raw.pipelines
where _deleted_at is null
