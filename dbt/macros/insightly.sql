{#- Rows of records a sync found deleted in Insightly carry `_deleted_at`. dlt creates that
    column only once a deletion has been seen, so look it up before filtering on it. -#}
{% macro insightly_not_deleted(relation, alias=none) -%}
    {%- set columns = adapter.get_columns_in_relation(relation) if execute else [] -%}
    {%- if '_deleted_at' in columns | map(attribute='name') | map('lower') | list -%}
        {{ alias ~ '.' if alias else '' }}_deleted_at is null
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}
