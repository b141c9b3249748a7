"""Mutable state shared by the HTTP app and the Python API of one emulator.

Holds the config (whose switches change at runtime), the tenant, the limits and the
request log, and implements the two config operations that must be atomic: applying a
set of switches and popping the next injected failure for an entity.
"""

from __future__ import annotations

import threading
from typing import Any

from .catalog import canonical
from .config import DATA_FIELDS, EmulatorConfig, coerce_switch, switch_names, validate
from .limits import Limits
from .requestlog import RequestLog
from .store import Tenant


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.tenant = Tenant(config)
        self.limits = Limits()
        self.log = RequestLog()
        self._lock = threading.Lock()

    def configure(self, **switches: Any) -> None:
        """Apply switches atomically; unknown names or bad values raise ValueError.

        Changing ``daily_limit`` starts a new quota day (used count back to 0), so a test
        can say ``configure(daily_limit=3)`` and get exactly three requests.
        """
        allowed = set(switch_names())
        for name in switches:
            if name in DATA_FIELDS:
                raise ValueError(f"{name} shapes the generated data; start a new Emulator")
            if name not in allowed:
                raise ValueError(f"unknown switch {name!r}; known: {sorted(allowed)}")
        with self._lock:
            values = {name: coerce_switch(name, value) for name, value in switches.items()}
            old = {name: getattr(self.config, name) for name in values}
            for name, value in values.items():
                setattr(self.config, name, value)
            try:
                validate(self.config)
            except ValueError:
                for name, value in old.items():
                    setattr(self.config, name, value)
                raise
        if "daily_limit" in switches:
            self.limits.reset()

    def switch_for(self, table: dict[str, Any], entity: str) -> Any:
        """Value of a per-entity switch (keys matched case-insensitively)."""
        for name, value in table.items():
            if canonical(name) == entity:
                return value
        return None

    def pop_failure(self, entity: str) -> int | None:
        """Next injected status for an entity from ``fail_next``, or None."""
        with self._lock:
            for name, queue in list(self.config.fail_next.items()):
                if canonical(name) == entity and queue:
                    status = queue.pop(0)
                    if not queue:
                        del self.config.fail_next[name]
                    return status
        return None
