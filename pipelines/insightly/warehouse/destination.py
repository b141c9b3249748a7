"""What our DuckDB destination (sync/pipeline.py) adds to dlt's, for speed: merges DuckDB
runs as hash joins (merge.py), its configuration resolved once per dataset, and a file path
taken as a file path.

dlt resolves the destination's configuration (credentials, settings, from every config
provider) each time it makes a client: every `pipeline.sql_client()`, which a sync opens a
dozen times (the state, the history, the checks, the run log), each about 20 ms of CPU. The
first resolution for a dataset is kept and handed out again: the same object dlt's own load
step shares among its jobs, so they also share its DuckDB connection pool (held.py).
Resolutions dlt asks for with credentials of its own, or partially, are left to dlt.

dlt parses DuckDB credentials given as text (DESTINATION__DUCKDB__CREDENTIALS, a path) as
an SQLAlchemy URL first, and prints them through one after every load: importing SQLAlchemy
for that took 0.2 to 0.5 s of each sync. A path is taken as the database file directly
(anything with `://`, or not a valid path, still goes to dlt's parser), and printed through
dlt's own URL class, to the same text.
"""

from __future__ import annotations

from typing import Any

from dlt.common.configuration import configspec
from dlt.destinations.impl.duckdb.configuration import (
    DuckDbClientConfiguration,
    DuckDbCredentials,
)
from pathvalidate import is_valid_filepath


@configspec(init=False)
class FilePathCredentials(DuckDbCredentials):
    """dlt's DuckDB credentials, without SQLAlchemy for a file path."""

    def parse_native_representation(self, native_value: Any) -> None:
        if (
            isinstance(native_value, str)
            and "://" not in native_value
            and (native_value == ":pipeline:" or is_valid_filepath(native_value, platform="auto"))
        ):
            self.database = native_value
            return
        super().parse_native_representation(native_value)

    def __str__(self) -> str:
        from dlt.common.libs.sql_alchemy_shims import URL

        return URL.create(self.drivername, database=self.database).render_as_string()


@configspec(init=False)
class FilePathConfiguration(DuckDbClientConfiguration):
    credentials: FilePathCredentials = None  # type: ignore[assignment]


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

    spec = FilePathConfiguration

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
