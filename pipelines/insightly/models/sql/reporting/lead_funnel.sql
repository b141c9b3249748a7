-- Each record represents the leads of one source in one status: how many, how many were
-- converted, the conversion rate and the average days from creation to conversion.
select
    l.lead_source_id,
    coalesce(src.lead_source, '(none)') as lead_source,
    l.lead_status_id,
    coalesce(st.lead_status, '(none)') as lead_status,
    count(*) as lead_count,
    count(case when l.is_converted then 1 end) as converted_count,
    cast(count(case when l.is_converted then 1 end) * 1.0 / count(*) as decimal(9, 4))
        as conversion_rate,
    cast(
        avg(case when l.is_converted then extract(epoch from (l.converted_at - l.created_at)) end)
        / 86400.0 as decimal(18, 1)
    ) as avg_days_to_convert
from stg.leads as l
left join stg.lead_sources as src on src.lead_source_id = l.lead_source_id
left join stg.lead_statuses as st on st.lead_status_id = l.lead_status_id
group by l.lead_source_id, src.lead_source, l.lead_status_id, st.lead_status
