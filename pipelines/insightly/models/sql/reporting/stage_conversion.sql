-- Each record represents one move between two stages of a pipeline, from the opportunities'
-- history: how many opportunities made it and its share of all the stays that left the
-- first stage (to another stage or out of the open state).
with moves as (
    select
        h.pipeline_id,
        h.stage_id as from_stage_id,
        h.left_at,
        lead(h.pipeline_id) over (
            partition by h.opportunity_id order by h.entered_at
        ) as to_pipeline_id,
        lead(h.stage_id) over (partition by h.opportunity_id order by h.entered_at) as to_stage_id
    from stg.opportunity_stage_history as h
),
exits as (
    select pipeline_id, from_stage_id, count(*) as exit_count
    from moves
    where left_at is not null
    group by pipeline_id, from_stage_id
)
select
    m.pipeline_id,
    m.from_stage_id,
    f.stage_name as from_stage_name,
    m.to_stage_id,
    t.stage_name as to_stage_name,
    count(*) as move_count,
    cast(count(*) * 1.0 / max(e.exit_count) as decimal(18, 3)) as share_of_exits
from moves as m
join exits as e on e.pipeline_id = m.pipeline_id and e.from_stage_id = m.from_stage_id
left join stg.pipeline_stages as f on f.pipeline_stage_id = m.from_stage_id
left join stg.pipeline_stages as t on t.pipeline_stage_id = m.to_stage_id
where m.to_pipeline_id = m.pipeline_id and m.left_at is not null
group by m.pipeline_id, m.from_stage_id, f.stage_name, m.to_stage_id, t.stage_name
