-- Each record represents the open opportunities of one owner in one stage of one pipeline:
-- how many, their value, their probability-weighted value and how long they have been in
-- the stage (from the opportunity's history; without history, days since it last changed).
select
    p.pipeline_id,
    coalesce(p.pipeline_name, '(no pipeline)') as pipeline_name,
    s.pipeline_stage_id,
    coalesce(s.stage_name, '(no stage)') as stage_name,
    s.stage_order,
    o.owner_user_id,
    u.full_name as owner_name,
    count(*) as opportunity_count,
    cast(coalesce(sum(o.opportunity_value), 0) as decimal(18, 2)) as total_value,
    cast(coalesce(sum(o.opportunity_value * o.probability / 100.0), 0) as decimal(18, 2))
        as weighted_value,
    cast(avg(coalesce(
        h.days_in_stage, extract(epoch from (current_timestamp - o.updated_at)) / 86400.0
    )) as decimal(18, 1)) as avg_days_in_stage
from stg.opportunities as o
left join stg.pipelines as p on p.pipeline_id = o.pipeline_id
left join stg.pipeline_stages as s on s.pipeline_stage_id = o.stage_id
left join stg.users as u on u.user_id = o.owner_user_id
left join stg.opportunity_stage_history as h
    on h.opportunity_id = o.opportunity_id and h.left_at is null
where o.is_open
group by
    p.pipeline_id, p.pipeline_name, s.pipeline_stage_id, s.stage_name, s.stage_order,
    o.owner_user_id, u.full_name
