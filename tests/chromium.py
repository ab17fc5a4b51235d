"""Headless Chromium for tests, driven over the DevTools protocol: load a page with the network
cut off, collect console errors and every request that tried to leave, take screenshots.

Debian's ``chromium`` is started with the flags that keep it from reaching for the network (it
hangs on a closed one otherwise) and a fresh, empty profile. Requests are intercepted with the
``Fetch`` domain: those to an allowed origin (the page's own file, or the test server) go on;
every other one is failed and recorded, so "no network requests" is asserted, not assumed.
Tests skip with a clear reason only when no Chromium can be found.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from sybilgraph.report.render import CHROMIUM_FLAGS, find_chromium

__all__ = ["Browser", "PageReport", "chromium_or_skip", "screenshot_dir"]


def chromium_or_skip() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium; scripts/test.sh installs it as root)")
    return path


def screenshot_dir(tmp: Path) -> Path:
    """docs/img when SYBILGRAPH_SCREENSHOTS=docs (to refresh the README's pictures), else a temp dir."""
    if os.environ.get("SYBILGRAPH_SCREENSHOTS") == "docs":
        target = Path(__file__).resolve().parents[1] / "docs" / "img"
        target.mkdir(parents=True, exist_ok=True)
        return target
    return tmp


@dataclass
class PageReport:
    url: str
    console_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    allowed_requests: list[str] = field(default_factory=list)


class Browser:
    """One headless Chromium and one page; use as a context manager."""

    def __init__(self, executable: str, width: int = 1280, height: int = 900) -> None:
        self.executable = executable
        self.width, self.height = width, height
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []
        # The page loaded last and its request policy: requests it makes later (a query run from
        # GraphiQL) are allowed or failed, and recorded, as during the load.
        self.page: PageReport | None = None
        self._allowed: Callable[[str], bool] = lambda _url: False
        self._responses: dict[int, dict[str, Any]] = {}
        self._answering = False

    def __enter__(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="sybilgraph-chromium-")
        self._proc = subprocess.Popen(
            [self.executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
             f"--window-size={self.width},{self.height}", "--hide-scrollbars", "--mute-audio", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": self._profile},
        )
        self._stack = ExitStack()
        try:
            port = self._devtools_port()
            targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
            page = next(t for t in targets if t["type"] == "page")
            self._ws: ClientConnection = self._stack.enter_context(
                connect(page["webSocketDebuggerUrl"], max_size=256 * 1024 * 1024, open_timeout=20))
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable")
            self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height, deviceScaleFactor=1,
                      mobile=False)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._stack.close()
        finally:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            shutil.rmtree(self._profile, ignore_errors=True)

    def _devtools_port(self, timeout_s: float = 30.0) -> int:
        marker = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().splitlines()[0])
            if self._proc.poll() is not None:
                raise RuntimeError(f"Chromium exited with {self._proc.returncode} before opening DevTools")
            time.sleep(0.1)
        raise RuntimeError("Chromium did not open its DevTools port")

    # -- protocol ------------------------------------------------------------------------------
    def call(self, method: str, timeout_s: float = 60.0, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout_s
        while msg_id not in self._responses:
            self._receive(max(deadline - time.monotonic(), 0.01))
            self._answer_paused_requests()  # a navigation answers only once its request may go on
        message = self._responses.pop(msg_id)
        if "error" in message:
            raise RuntimeError(f"{method}: {message['error']}")
        return message.get("result", {})

    def _receive(self, timeout_s: float) -> None:
        message = json.loads(self._ws.recv(timeout=timeout_s))
        if "id" in message:
            self._responses[message["id"]] = message
        elif "method" in message:
            self._events.append(message)

    def _answer_paused_requests(self) -> None:
        """Requests wait until answered: allow or fail each at once, by the page's policy.
        Not re-entered from the calls it makes itself (their answers are collected by id)."""
        if self._answering or self.page is None:
            return
        self._answering = True
        try:
            while paused := [e for e in self._events if e["method"] == "Fetch.requestPaused"]:
                for event in paused:
                    self._events.remove(event)
                    self._handle(event, self.page, self._allowed)
        finally:
            self._answering = False

    def _drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._receive(max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                break
            self._answer_paused_requests()

    def settle(self, seconds: float = 1.0) -> PageReport:
        """Let the page run a while (answering its requests), then fold what happened into its report."""
        assert self.page is not None, "load a page first"
        self._drain(seconds)
        for event in self._take_events():
            self._handle(event, self.page, self._allowed)
        return self.page

    # -- pages ---------------------------------------------------------------------------------
    def load(self, url: str, allowed: Callable[[str], bool], settle: Callable[[Browser], bool] | None = None,
             timeout_s: float = 60.0) -> PageReport:
        """Open ``url`` with every request outside ``allowed`` failed and recorded; wait for load
        (and for ``settle`` to hold, when given), then report console errors and requests."""
        report = PageReport(url)
        self.page, self._allowed = report, allowed
        self._events.clear()
        self.call("Fetch.enable", patterns=[{"urlPattern": "*"}])
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout_s
        loaded = False
        while time.monotonic() < deadline:
            for event in self._take_events():
                self._handle(event, report, allowed)
                loaded = loaded or event["method"] == "Page.loadEventFired"
            if loaded and (settle is None or settle(self)):
                break
            self._drain(0.2)
        else:
            raise TimeoutError(f"{url} did not finish loading within {timeout_s:.0f} s")
        return self.settle(1.0)  # late requests and errors (scripts that run after load)

    def _take_events(self) -> list[dict[str, Any]]:
        events, self._events = self._events, []
        return events

    def _handle(self, event: dict[str, Any], report: PageReport, allowed: Callable[[str], bool]) -> None:
        method, params = event["method"], event.get("params", {})
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            if allowed(url):
                report.allowed_requests.append(url)
                self.call("Fetch.continueRequest", requestId=params["requestId"])
            else:
                report.blocked_requests.append(url)
                self.call("Fetch.failRequest", requestId=params["requestId"], errorReason="BlockedByClient")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            report.console_errors.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            report.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            report.console_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params |= {"captureBeyondViewport": True,
                       "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}}
        data = self.call("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def browser(width: int = 1280, height: int = 900) -> Iterator[Browser]:
    with Browser(chromium_or_skip(), width, height) as b:
        yield b
