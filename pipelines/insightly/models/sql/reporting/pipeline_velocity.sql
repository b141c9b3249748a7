-- Each record represents one stage of one pipeline, measured from the opportunities'
-- history: how many stays began there, how many ended, the average days of a finished
-- stay, and how many moved on to a later stage of the same pipeline (the stage's forward
-- conversion). Stays that began before history are counted in approximated_count.
with stays as (
    select
        h.*,
        lead(h.pipeline_id) over (
            partition by h.opportunity_id order by h.entered_at
        ) as next_pipeline_id,
        lead(h.stage_id) over (partition by h.opportunity_id order by h.entered_at) as next_stage_id
    from stg.opportunity_stage_history as h
)
select
    st.pipeline_id,
    coalesce(p.pipeline_name, '(no pipeline)') as pipeline_name,
    st.stage_id as pipeline_stage_id,
    coalesce(s.stage_name, '(no stage)') as stage_name,
    s.stage_order,
    count(*) as entered_count,
    count(st.left_at) as left_count,
    cast(avg(case when st.left_at is not null then st.days_in_stage end) as decimal(18, 1))
        as avg_days_in_stage,
    count(case when st.next_pipeline_id = st.pipeline_id and n.stage_order > s.stage_order
        then 1 end) as moved_forward_count,
    cast(count(case when st.next_pipeline_id = st.pipeline_id and n.stage_order > s.stage_order
        then 1 end) * 1.0 / count(*) as decimal(18, 3)) as forward_conversion_rate,
    count(case when st.is_approximated then 1 end) as approximated_count
from stays as st
left join stg.pipelines as p on p.pipeline_id = st.pipeline_id
left join stg.pipeline_stages as s on s.pipeline_stage_id = st.stage_id
left join stg.pipeline_stages as n on n.pipeline_stage_id = st.next_stage_id
group by st.pipeline_id, p.pipeline_name, st.stage_id, s.stage_name, s.stage_order
