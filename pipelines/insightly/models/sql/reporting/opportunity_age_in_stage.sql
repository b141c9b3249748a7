-- Each record represents one open opportunity in its current stage: when it entered the
-- stage and how many days ago, measured from its history. is_approximated: it was in the
-- stage before history began, so entered_at is the last change the first sync saw.
select
    o.opportunity_id,
    o.opportunity_name,
    o.owner_user_id,
    h.pipeline_id,
    h.stage_id as pipeline_stage_id,
    s.stage_name,
    h.entered_at,
    cast(h.days_in_stage as decimal(18, 1)) as days_in_stage,
    h.is_approximated
from stg.opportunity_stage_history as h
join stg.opportunities as o on o.opportunity_id = h.opportunity_id
left join stg.pipeline_stages as s on s.pipeline_stage_id = h.stage_id
where h.left_at is null and o.is_open
