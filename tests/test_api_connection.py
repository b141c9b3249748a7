"""Connection settings: the key only ever goes to a validated host, errors say what to set."""

import pytest

from insightly.api.connection import Connection, check_api_key, override_url, pod_url
from insightly.config import resolve_connection
from insightly.errors import ConfigurationError

KEY = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


@pytest.mark.parametrize("pod", ["na1", "eu1", "au1", "NA1", " ap1 "])
def test_pod_builds_the_insightly_url(pod):
    assert pod_url(pod) == f"https://api.{pod.strip().lower()}.insightly.com/v3.1/"


@pytest.mark.parametrize(
    "pod", ["", "na1.evil.com", "na1/..", "eu-1", "na1#", "na1@attacker", "nä1", "na1 x"]
)
def test_pod_that_could_redirect_the_key_is_refused(pod):
    with pytest.raises(ConfigurationError, match="SOURCES__INSIGHTLY__POD"):
        pod_url(pod)


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://proxy.example.com/v3.1", "https://proxy.example.com/v3.1/"),
        ("https://proxy.example.com", "https://proxy.example.com/v3.1/"),
        ("http://127.0.0.1:8765/v3.1/", "http://127.0.0.1:8765/v3.1/"),
        ("http://localhost:9/v3.1", "http://localhost:9/v3.1/"),
        ("http://[::1]:9/v3.1/", "http://[::1]:9/v3.1/"),
    ],
)
def test_base_url_override(url, expected):
    assert override_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/v3.1/",  # plain http off loopback would expose the key
        "ftp://127.0.0.1/",
        "https:///v3.1",
        "https://user:pw@example.com/",
        "https://example.com/v3.1?x=1",
        "not a url",
        "http://10.0.0.1/v3.1",
    ],
)
def test_bad_base_url_is_refused(url):
    with pytest.raises(ConfigurationError, match="SOURCES__INSIGHTLY__BASE_URL"):
        override_url(url)


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_key_says_what_to_set(key):
    with pytest.raises(ConfigurationError, match="missing: set SOURCES__INSIGHTLY__API_KEY"):
        check_api_key(key)


@pytest.mark.parametrize(
    "key", ["short", "has space inside key", "key:with:colon", "ключ-ключ-ключ"]
)
def test_malformed_key_is_refused_without_echoing_it(key):
    with pytest.raises(ConfigurationError) as info:
        check_api_key(key)
    assert key not in str(info.value)
    assert "SOURCES__INSIGHTLY__API_KEY" in str(info.value)


def test_key_is_stripped_and_never_in_repr():
    conn = resolve_connection(f"  {KEY}\n", "eu1", None)
    assert conn.api_key == KEY
    assert conn.base_url == "https://api.eu1.insightly.com/v3.1/"
    assert KEY not in repr(conn) and KEY not in str(conn)
    assert isinstance(conn, Connection)


def test_missing_pod_says_what_to_set(monkeypatch):
    monkeypatch.delenv("SOURCES__INSIGHTLY__POD", raising=False)
    monkeypatch.delenv("SOURCES__INSIGHTLY__BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="pod is missing: set SOURCES__INSIGHTLY__POD"):
        resolve_connection(KEY, None, None)


def test_environment_is_read_the_dlt_way(monkeypatch):
    monkeypatch.setenv("SOURCES__INSIGHTLY__API_KEY", KEY)
    monkeypatch.setenv("SOURCES__INSIGHTLY__POD", "au1")
    monkeypatch.delenv("SOURCES__INSIGHTLY__BASE_URL", raising=False)
    conn = resolve_connection()
    assert conn == Connection(KEY, "https://api.au1.insightly.com/v3.1/")
    monkeypatch.setenv("SOURCES__INSIGHTLY__BASE_URL", "http://127.0.0.1:1/v3.1/")
    assert resolve_connection().base_url == "http://127.0.0.1:1/v3.1/"
