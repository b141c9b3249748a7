"""Errors that stop a sync, each with the exit code the CLI returns and a message that says
what to do. Messages never contain the API key: they are built from paths and status codes
only."""

from __future__ import annotations

from typing import ClassVar


class InsightlyError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 1


class ConfigurationError(InsightlyError):
    """A missing or malformed setting."""

    exit_code = 2


class AuthenticationError(InsightlyError):
    """401: the key is wrong or belongs to another pod."""

    exit_code = 3


class ApiResponseError(InsightlyError):
    """The API answered something we can't load (not a JSON array, broken JSON, 4xx)."""

    exit_code = 4


class ApiUnreachable(InsightlyError):
    """No HTTP answer at all after the retries: connection refused, a host name that doesn't
    resolve, connect or read timeouts, resets. What was loaded stays; a later run continues
    where this one stopped, so a scheduler retries it (deploy/)."""

    exit_code = 69  # EX_UNAVAILABLE: the service is unavailable


class QuotaExhausted(InsightlyError):
    """429 with X-RateLimit-Remaining: 0 - the daily quota is spent."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class QuotaReserveReached(QuotaExhausted):
    """Sending more would eat into the share of the daily quota kept for other tools."""


class ModelsFailed(InsightlyError):
    """The data loaded, but the SQL models could not be built."""

    exit_code = 6


class QueryFailed(InsightlyError):
    """`insightly query`: no DuckDB file, or SQL the warehouse refused."""

    exit_code = 2


class SyncAlreadyRunning(InsightlyError):
    """Another sync of the same pipeline holds the lock."""

    exit_code = 7


class EntityUnavailable(InsightlyError):
    """403/404/405 on a whole entity: outside the customer's plan or permissions."""

    REASONS: ClassVar[dict[int, str]] = {
        403: "no access (403)",
        404: "not in this plan (404)",
        405: "not served (405)",
    }

    def __init__(self, path: str, status: int, reason: str | None = None) -> None:
        reason = reason or self.REASONS.get(status, f"unavailable ({status})")
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.status = status
        self.reason = reason


def find_user_error(exc: BaseException) -> InsightlyError | None:
    """Our own error inside dlt's wrappers (PipelineStepFailed, ResourceExtractionError)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, InsightlyError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
