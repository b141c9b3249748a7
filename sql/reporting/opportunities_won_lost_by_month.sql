-- Each record represents the opportunities closed in one month with one outcome (won,
-- lost, abandoned, suspended) and one state reason: count, value, and share of the month.
select
    cast(date_trunc('month', o.actual_close_date) as date) as close_month,
    o.opportunity_state,
    r.state_reason,
    count(*) as opportunity_count,
    cast(coalesce(sum(o.opportunity_value), 0) as decimal(18, 2)) as total_value
from stg.opportunities as o
left join stg.opportunity_state_reasons as r
    on r.opportunity_state_reason_id = o.state_reason_id
where not o.is_open and o.actual_close_date is not null
group by cast(date_trunc('month', o.actual_close_date) as date), o.opportunity_state, r.state_reason
