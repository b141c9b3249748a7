"""What one write request came to: applied (the decoded answer), refused (WriteRefused, the
server did not apply it), or unknown (WriteOutcomeUnknown, it may have been applied).

The line between the last two is the whole point of the write side: a POST is not
idempotent in Insightly (docs/api.md §10), so a request that may have reached the server
is never sent again here; the caller looks the record up instead.
Messages are built from the method, path, status and the server's reason text only, so
the API key can never be in them.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from insightly.api.client import InsightlyClient, RetryableResponse
from insightly.errors import (
    ApiUnreachable,
    AuthenticationError,
    InsightlyError,
)

REASON_CHARS = 300
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class WriteRefused(InsightlyError):
    """A 4xx answer: the server did NOT apply the write. `reason` is the server's text."""

    exit_code = 5

    def __init__(self, what: str, status: int, body: Any, reason: str) -> None:
        super().__init__(f"{what}: refused with HTTP {status}: {reason}")
        self.status = status
        self.body = body
        self.reason = reason


class WriteOutcomeUnknown(InsightlyError):
    """A timeout, a reset or a 5xx after the request was sent: it may have been applied.
    Resolve it (search by the match key, list the parent's notes or the record's links)
    before sending it again."""

    exit_code = 4

    def __init__(self, what: str, cause: str) -> None:
        super().__init__(f"{what}: outcome unknown ({cause}); it may have been applied")
        self.cause = cause


def send_write(
    client: InsightlyClient,
    method: str,
    path: str,
    *,
    table: str,
    body: Any = None,
    resend: bool = False,
) -> tuple[int, Any]:
    """(status, decoded body) of a 2xx answer; WriteRefused for a 4xx; WriteOutcomeUnknown
    when the request may have been applied; QuotaExhausted (exit 75) from the transport."""
    what = f"{method} {path}"
    try:
        response = client.send(method, path, table=table, body=body, resend=resend)
    except RetryableResponse as exc:
        if exc.status == 429:  # a burst 429 is refused before any processing
            raise WriteRefused(what, 429, None, "still rate-limited after retrying") from None
        raise WriteOutcomeUnknown(what, f"HTTP {exc.status}") from None
    except NOT_SENT as exc:  # an outage (exit 69): the next push sends it
        raise ApiUnreachable(
            f"{what}: the Insightly API could not be reached ({type(exc).__name__}); nothing "
            "was sent. Check the network and SOURCES__INSIGHTLY__POD"
        ) from None
    except httpx.TransportError as exc:  # the request went out; the answer did not come
        raise WriteOutcomeUnknown(what, type(exc).__name__) from None
    return _outcome(what, response)


def _outcome(what: str, response: httpx.Response) -> tuple[int, Any]:
    status = response.status_code
    decoded = _decode(response)
    if 200 <= status < 300:
        return status, decoded
    if status == 401:
        raise AuthenticationError(
            f"Insightly answered 401 for {what}: check the API key and pod "
            "(SOURCES__INSIGHTLY__API_KEY, SOURCES__INSIGHTLY__POD)"
        )
    if 400 <= status < 500:
        raise WriteRefused(what, status, decoded, reason_text(decoded))
    raise WriteOutcomeUnknown(what, f"HTTP {status}")


def _decode(response: httpx.Response) -> Any:
    """The answer as JSON when it is JSON, else its text (error bodies vary: docs/api.md §11)."""
    if not response.content:
        return None
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.text


def reason_text(body: Any) -> str:
    """A one-line reason from an error body of any shape: {"Message"}, {"Name","Message"},
    plain text or nothing (the shape is unknown, docs/api.md §11)."""
    if isinstance(body, dict):
        text = body.get("Message") or body.get("message") or orjson.dumps(body).decode()
    elif body is None:
        text = "no reason given"
    else:
        text = body if isinstance(body, str) else orjson.dumps(body).decode()
    text = " ".join(str(text).split())
    return text[:REASON_CHARS]
