"""The dlt source: incremental and full reads, pages, Arrow rows, per-record reads."""
