"""Mutable state shared by the HTTP app and the Python API of one emulator.

Holds the config (whose switches change at runtime), the tenant, the limits and the
request log, and implements the config operations that must be atomic: applying a set of
switches, popping the next injected failure for an entity, numbering requests (which
makes rate faults and latency jitter reproducible) and counting pages for drift.
"""

from __future__ import annotations

import threading
from typing import Any

from .catalog import canonical
from .config import DATA_FIELDS, EmulatorConfig, coerce_switch, switch_names, validate
from .limits import Limits
from .rand import key, unit
from .requestlog import RequestLog
from .store import DriftEvent, Tenant
from .workers import RenderPool
from .writes import WriteBook

# Switches whose change restarts the request numbering (so a run is reproducible from
# the moment they are set, whatever came before).
NUMBERING_SWITCHES = frozenset({"fault_rate", "fault_mix", "latency_jitter_ms"})


class EmulatorState:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.tenant = Tenant(config)
        self.limits = Limits()
        self.log = RequestLog()
        self.writes = WriteBook(self.tenant, config)  # POST/PUT/DELETE (writes.py)
        self.stopping = threading.Event()  # set on shutdown: held requests end at once
        self._lock = threading.Lock()
        self._requests = 0  # API requests numbered so far
        self._pages = 0  # pages of the drift entity served since drift was switched on
        self._drift_steps = 0
        self._drift_log: list[DriftEvent] = []
        self.pool = RenderPool(config)
        self.tenant.pool = self.pool
        self.pool.resize(config.render_workers)

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
            if NUMBERING_SWITCHES & set(switches):
                self._requests = 0
            if "drift" in switches:
                self._pages = self._drift_steps = 0
        if "daily_limit" in switches:
            self.limits.reset()
        if "render_workers" in switches:
            self.pool.resize(self.config.render_workers)

    def close(self) -> None:
        """Stop the render workers (the emulator is shutting down)."""
        self.pool.close()

    def switch_for(self, table: dict[str, Any], entity: str) -> Any:
        """Value of a per-entity switch (keys matched case-insensitively)."""
        for name, value in table.items():
            if canonical(name) == entity:
                return value
        return None

    def pop_failure(self, entity: str) -> int | str | None:
        """Next injected failure for an entity from ``fail_next`` (a status or a fault
        name), or None."""
        with self._lock:
            for name, queue in list(self.config.fail_next.items()):
                if canonical(name) == entity and queue:
                    failure = queue.pop(0)
                    if not queue:
                        del self.config.fail_next[name]
                    return failure
        return None

    # ------------------------------------------------------------ numbered requests
    def next_request(self) -> int:
        with self._lock:
            self._requests += 1
            return self._requests

    def latency_s(self, number: int) -> float:
        """latency_ms ± latency_jitter_ms (uniform, from the seed and request number)."""
        cfg = self.config
        ms = cfg.latency_ms
        if cfg.latency_jitter_ms:
            u = unit(key(cfg.seed, "jitter", number))
            ms = max(0.0, ms + (2.0 * u - 1.0) * cfg.latency_jitter_ms)
        return ms / 1000.0

    def rate_fault(self, number: int) -> str | None:
        """The fault kind for request ``number`` under ``fault_rate``/``fault_mix``."""
        cfg = self.config
        if cfg.fault_rate <= 0 or unit(key(cfg.seed, "fault", number)) >= cfg.fault_rate:
            return None
        weights = [(k, w) for k, w in cfg.fault_mix.items() if w > 0]
        total = sum(w for _, w in weights)
        point = unit(key(cfg.seed, "fault-kind", number)) * total
        for kind, weight in weights:
            point -= weight
            if point < 0:
                return kind
        return weights[-1][0]

    # ------------------------------------------------------------ drift
    def after_page(self, entity: str) -> list[DriftEvent]:
        """Count a served page of ``entity``; every n-th one of the drift entity drifts."""
        drift = self.config.drift
        if not drift or canonical(drift["entity"]) != entity:
            return []
        with self._lock:
            self._pages += 1
            if self._pages % drift["every_n_pages"]:
                return []
            if drift["steps"] and self._drift_steps >= drift["steps"]:
                return []  # drifted as often as asked
            self._drift_steps += 1
            step = self._drift_steps
        events = self.tenant.drift(
            entity, step, drift["creates"], drift["updates"], drift["deletes"]
        )
        with self._lock:
            self._drift_log.extend(events)
        return events

    def drift_log(self) -> list[DriftEvent]:
        with self._lock:
            return list(self._drift_log)

    def clear_drift_log(self) -> None:
        with self._lock:
            self._drift_log.clear()
