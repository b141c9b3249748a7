"""One sync run: the pipeline and its lock, accounts, progress, summary, cost plan."""
