"""The warehouse side: introspection, migration of older layouts, integrity repairs."""
