"""Headless Chromium (Debian's `chromium`) driven over the Chrome DevTools Protocol.

A few protocol calls over the `websockets` client are all the report's test needs: open a
page, collect what it logs, evaluate a script, take a full-page screenshot. Playwright and
Selenium would bring (or download) their own browser or driver; the protocol is
Chromium's own and stable. Also run as a script to write a screenshot:

    python -m tests.cdp PAGE.html OUT.png
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser_path() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


class Page:
    """One tab, attached through the browser's connection (a flat session)."""

    def __init__(self, socket: ClientConnection, session: str) -> None:
        self.socket = socket
        self.session = session
        self.ids = itertools.count(1)
        self.events: list[dict] = []  # every event received, in order

    def send(self, method: str, timeout: float = 60, **params: Any) -> dict:
        """Call a method and wait for its answer; events meanwhile are kept."""
        call = next(self.ids)
        message = {"id": call, "method": method, "params": params, "sessionId": self.session}
        self.socket.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            answer = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if answer.get("id") == call:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                self.events.append(answer)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        """The first event `method` (received already or next)."""
        deadline = time.monotonic() + timeout
        while not any(e["method"] == method for e in self.events):
            message = json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if "method" in message:
                self.events.append(message)
        return next(e for e in self.events if e["method"] == method)

    def navigate(self, url: str) -> None:
        """Open `url` in this tab and wait for its load event; what the previous page logged
        and requested is forgotten (one browser for several pages: it starts slowly)."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str, timeout: float = 60) -> Any:
        """The value of a JavaScript expression, promises awaited."""
        result = self.send(
            "Runtime.evaluate",
            timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def console(self) -> list[str]:
        """Everything the page logged: console calls, uncaught errors, browser log entries
        (a refused load, a Content-Security-Policy violation)."""
        out = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                out.append(f"console.{params['type']}: {text}")
            elif event["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {params['exceptionDetails']}")
            elif event["method"] == "Log.entryAdded":
                entry = params["entry"]
                out.append(f"log {entry['level']} ({entry['source']}): {entry['text']}")
        return out

    def requests(self) -> list[str]:
        """URLs the page asked for (Network domain)."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e["method"] == "Network.requestWillBeSent"
        ]

    def screenshot(self, path: Path, width: int = 1400) -> None:
        """The whole page (not only the window) as a PNG."""
        for height in (900, None):  # the page's height at this width, then all of it
            height = height or int(self.evaluate("document.documentElement.scrollHeight"))
            self.send(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=height,
                deviceScaleFactor=1,
                mobile=False,
            )
        shot = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@contextmanager
def open_page(url: str, width: int = 1100, height: int = 900) -> Iterator[Page]:
    """Start headless Chromium, open `url` with console, log and network watched, wait for
    its load event; close the browser afterwards."""
    browser = browser_path()
    if browser is None:
        raise RuntimeError("no chromium: apt-get install chromium (.ci/run does)")
    with tempfile.TemporaryDirectory(prefix="cdp-") as profile:
        process = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            with connect(_devtools_url(Path(profile), process), max_size=None) as socket:
                page = _attach(socket)
                for domain in ("Runtime", "Log", "Network", "Page"):
                    page.send(f"{domain}.enable")
                page.navigate(url)
                yield page
        finally:
            process.terminate()
            process.wait(timeout=30)


def _devtools_url(profile: Path, process: subprocess.Popen, timeout: float = 60) -> str:
    """The browser's websocket address, from the DevToolsActivePort file it writes."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("chromium did not start its DevTools endpoint")
        time.sleep(0.05)
    port, path = port_file.read_text().splitlines()[:2]
    return f"ws://127.0.0.1:{port}{path}"


def _attach(socket: ClientConnection) -> Page:
    """A new tab, attached as a flat session (the browser target takes calls without one)."""
    socket.send(json.dumps({"id": 1, "method": "Target.createTarget", "params": {"url": ""}}))
    target = _answer(socket, 1)["targetId"]
    params = {"targetId": target, "flatten": True}
    socket.send(json.dumps({"id": 2, "method": "Target.attachToTarget", "params": params}))
    return Page(socket, _answer(socket, 2)["sessionId"])


def _answer(socket: ClientConnection, call: int) -> dict:
    while True:
        message = json.loads(socket.recv(timeout=60))
        if message.get("id") == call:
            if "error" in message:
                raise RuntimeError(str(message["error"]))
            return message["result"]


if __name__ == "__main__":
    page_file, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    with open_page(page_file.as_uri()) as opened:
        opened.evaluate("window.insightlyReady || true")
        opened.screenshot(out)
        print("\n".join(opened.console()) or "console: nothing logged")
    print(f"screenshot written to {out}")
