-- Each record represents the opportunities closed in one month with one outcome (won,
-- lost, abandoned, suspended) and one state reason: count, value, and share of the month.
-- The reason is the one given when the opportunity entered its current state (its latest
-- state history row of that state); NULL when the history has no reason.
with entered as (
    select
        h.opportunity_id,
        coalesce(h.state_reason, hr.state_reason) as state_reason,
        row_number() over (
            partition by h.opportunity_id order by h.changed_at desc
        ) as recency
    from stg.opportunity_state_history as h
    inner join stg.opportunities as c
        on c.opportunity_id = h.opportunity_id and c.opportunity_state = h.opportunity_state
    left join stg.opportunity_state_reasons as hr
        on hr.opportunity_state_reason_id = h.state_reason_id
)
select
    cast(date_trunc('month', o.actual_close_date) as date) as close_month,
    o.opportunity_state,
    coalesce(e.state_reason, r.state_reason) as state_reason,
    count(*) as opportunity_count,
    cast(coalesce(sum(o.opportunity_value), 0) as decimal(18, 2)) as total_value
from stg.opportunities as o
left join entered as e
    on e.opportunity_id = o.opportunity_id and e.recency = 1
left join stg.opportunity_state_reasons as r
    on r.opportunity_state_reason_id = o.state_reason_id
where not o.is_open and o.actual_close_date is not null
group by
    cast(date_trunc('month', o.actual_close_date) as date),
    o.opportunity_state,
    coalesce(e.state_reason, r.state_reason)
