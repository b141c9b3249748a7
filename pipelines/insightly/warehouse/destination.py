"""What our DuckDB destination (sync/pipeline.py) adds to dlt's, for speed: merges DuckDB
runs as hash joins (merge.py), and its configuration resolved once per dataset.

dlt resolves the destination's configuration (credentials, settings, from every config
provider) each time it makes a client: every `pipeline.sql_client()`, which a sync opens a
dozen times (the state, the history, the checks, the run log), each about 20 ms of CPU. The
first resolution for a dataset is kept and handed out again: the same object dlt's own load
step shares among its jobs, so they also share its DuckDB connection pool (held.py).
Resolutions dlt asks for with credentials of its own, or partially, are left to dlt.
"""

from __future__ import annotations

from typing import Any


def _key(initial: Any, accept_partial: bool) -> tuple | None:
    """What tells one client's configuration from another's: the dataset it is bound to;
    None when the request is not one to keep."""
    if accept_partial or initial is None or initial.is_resolved():
        return None
    if initial.get("credentials") is not None or initial.get("staging_config") is not None:
        return None
    return (type(initial), *sorted((k, repr(v)) for k, v in initial.items()))


class ResolvedOnce:
    """A mixin before dlt's DuckDB destination factory."""

    @property
    def client_class(self) -> type:
        from insightly.warehouse.merge import KeyedMergeDuckDbClient  # imports duckdb

        return KeyedMergeDuckDbClient

    def configuration(self, initial_config: Any, accept_partial: bool = False) -> Any:
        key = _key(initial_config, accept_partial)
        kept: dict[tuple, Any] = self.__dict__.setdefault("_resolved", {})
        if key is not None and key in kept:
            return kept[key]
        config = super().configuration(initial_config, accept_partial)  # type: ignore[misc]
        if key is not None:
            kept[key] = config
        return config
