"""The entities as data: endpoints, keys, declared fields, warehouse table and column names."""
