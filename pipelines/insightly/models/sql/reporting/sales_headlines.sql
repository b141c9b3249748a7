-- One record: the numbers a sales manager looks at first, as of today (current_date):
-- the open pipeline (count and value), the win rate of the last 90 days (won / (won +
-- lost) among the opportunities closed in the 90 days up to today; abandoned and suspended
-- ones left out; NULL when none closed), the leads created this calendar month, and the
-- open tasks, how many of them overdue (due before today).
with pipeline as (
    select
        count(case when is_open then 1 end) as open_opportunities,
        cast(coalesce(sum(case when is_open then opportunity_value end), 0) as decimal(18, 2))
            as open_pipeline_value,
        count(case when recent and opportunity_state = 'WON' then 1 end) as won_last_90_days,
        count(case when recent and opportunity_state = 'LOST' then 1 end) as lost_last_90_days
    from (
        select
            is_open,
            opportunity_value,
            opportunity_state,
            actual_close_date > current_date - interval 90 day
            and actual_close_date <= current_date as recent
        from stg.opportunities
    ) as c
),
new_leads as (
    select count(*) as new_leads_this_month
    from stg.leads
    where created_at >= date_trunc('month', current_date)
),
open_tasks as (
    select
        count(*) as open_tasks,
        count(case when due_date < current_date then 1 end) as overdue_tasks
    from stg.tasks
    where not is_completed
)
select
    current_date as as_of_date,
    o.open_opportunities,
    o.open_pipeline_value,
    o.won_last_90_days,
    o.lost_last_90_days,
    cast(
        o.won_last_90_days * 1.0 / nullif(o.won_last_90_days + o.lost_last_90_days, 0)
        as decimal(9, 4)
    ) as win_rate_last_90_days,
    l.new_leads_this_month,
    t.open_tasks,
    t.overdue_tasks
from pipeline as o
cross join new_leads as l
cross join open_tasks as t
