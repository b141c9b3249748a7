-- Each record represents the projects in one status: how many, how many have started and
-- completed, and the average days from start to completion.
select
    coalesce(status, '(none)') as status,
    count(*) as project_count,
    count(started_date) as started_count,
    count(completed_date) as completed_count,
    cast(avg(completed_date - started_date) as decimal(18, 1)) as avg_days_to_complete
from stg.projects
group by coalesce(status, '(none)')
