"""Delete detection: the id check's cadence, id reads, verdicts, counting and marks."""
