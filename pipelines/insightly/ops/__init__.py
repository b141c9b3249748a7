"""Operations: the run log, status, the report page, query and change events."""
