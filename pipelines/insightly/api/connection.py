"""Connection settings: where the key may go and whether it looks like a key at all.

The values come from `insightly.config` (every setting, read once). Validation happens
before any request so that a typo never sends the key to an unexpected host, and every
problem is reported as one line that says what to set.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from insightly.errors import ConfigurationError

POD_RE = re.compile(r"^[A-Za-z0-9]+$")
# Insightly keys are GUID-like; we only refuse what can't be a key (or would break Basic auth).
KEY_RE = re.compile(r"^[\x21-\x7e]{8,256}$")
API_VERSION_PATH = "/v3.1/"


@dataclass(frozen=True)
class Connection:
    """A validated API key and the base URL it may be sent to."""

    api_key: str
    base_url: str

    def __repr__(self) -> str:  # the key must never reach a log or a trace
        return f"Connection(base_url={self.base_url!r}, api_key='***')"

    __str__ = __repr__


def pod_url(pod: str) -> str:
    """The v3.1 base URL of a pod; the pod is checked so it can't redirect the key."""
    pod = pod.strip()
    if not POD_RE.match(pod):
        raise ConfigurationError(
            f"SOURCES__INSIGHTLY__POD must be letters and digits only (na1, eu1, au1, ...), "
            f"got {pod!r}: set it in the environment or [sources.insightly] pod in .dlt/config.toml"
        )
    return f"https://api.{pod.lower()}.insightly.com{API_VERSION_PATH}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def override_url(url: str) -> str:
    """Validate SOURCES__INSIGHTLY__BASE_URL: https anywhere, plain http only on loopback."""
    where = "set SOURCES__INSIGHTLY__BASE_URL (or [sources.insightly] base_url)"
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigurationError(f"{where} to a valid URL, got {url!r}") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigurationError(f"{where} to an http(s) URL with a host, got {url!r}")
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigurationError(
            f"{where} to an https URL: plain http is only allowed for loopback hosts, got {url!r}"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(f"{where} without credentials, query or fragment, got {url!r}")
    path = parts.path.rstrip("/")
    if not path:
        path = API_VERSION_PATH.rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}/"


def check_api_key(api_key: Any) -> str:
    """Refuse a missing or malformed key, without ever echoing it."""
    hint = (
        "set SOURCES__INSIGHTLY__API_KEY or api_key under [sources.insightly] in "
        ".dlt/secrets.toml (Insightly: User Settings > API Key)"
    )
    if api_key is None or (isinstance(api_key, str) and not api_key.strip()):
        raise ConfigurationError(f"The Insightly API key is missing: {hint}")
    if not isinstance(api_key, str):
        raise ConfigurationError(f"The Insightly API key must be text: {hint}")
    key = api_key.strip()
    if not KEY_RE.match(key) or ":" in key:
        raise ConfigurationError(
            f"The Insightly API key is malformed (expected 8-256 printable characters without "
            f"spaces or ':'): {hint}"
        )
    return key
