-- Open opportunities per pipeline stage: how many, their value, probability-weighted.
select
    p.pipeline_name,
    s.stage_name,
    s.stage_order,
    count(*) as opportunity_count,
    cast(sum(o.opportunity_value) as decimal(18, 2)) as total_value,
    cast(sum(o.opportunity_value * o.probability / 100.0) as decimal(18, 2)) as weighted_value
from {{ source('insightly', 'opportunities') }} as o
join {{ source('insightly', 'pipeline_stages') }} as s on s.stage_id = o.stage_id
join {{ source('insightly', 'pipelines') }} as p on p.pipeline_id = o.pipeline_id
where upper(o.opportunity_state) = 'OPEN'
    and {{ insightly_not_deleted(source('insightly', 'opportunities'), 'o') }}
group by p.pipeline_name, s.stage_name, s.stage_order
