"""HTTP to Insightly v3.1: connection, client, paging, pacing, write outcomes, time stamps.

httpx is imported here first, without its command line: when click, rich and pygments are
installed (dagster and our progress bars bring them), `import httpx` also imports them for
its `httpx` console script, about 0.1 s and rich on every sync. A None in sys.modules makes
that import fail the way httpx expects when they are missing; the entry is removed again,
so `httpx._main` stays importable for anyone who asks for it.
"""

from __future__ import annotations

import sys

if "httpx" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]
    try:
        import httpx  # noqa: F401
    finally:
        del sys.modules["httpx._main"]
