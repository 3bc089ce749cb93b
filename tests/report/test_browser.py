"""A real headless Chromium opens a generated report from a file, with the network off."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from conlab.report import html
from tests.report.conftest import HOSTILE

websockets_sync = pytest.importorskip(
    "websockets.sync.client", reason="websockets (dev group) speaks the DevTools protocol"
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (make test-deps installs it)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1100,1600",
    # The network off: every request that is not the file itself goes to a closed port.
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


@contextlib.contextmanager
def chromium(profile: str) -> Iterator[str]:
    """Start Chromium on a fresh profile; yield its DevTools HTTP address; stop it and its children."""
    assert CHROMIUM is not None
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.monotonic() + 30
        while _read(port_file).count("\n") < 1:
            assert proc.poll() is None, f"chromium exited with {proc.returncode}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.05)
        port = _read(port_file).split()[0]
        yield f"127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # The rest of its process group (renderers, zygotes) goes with it.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)


class Page:
    """One tab over the DevTools protocol: commands, and every event seen so far."""

    def __init__(self, ws: Any) -> None:
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=30))
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]
            self.events.append(message)

    def wait_for(self, method: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == method for e in self.events):
            self.events.append(
                json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            )

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"]["value"]

    def seen(self, method: str) -> list[dict[str, Any]]:
        return [e["params"] for e in self.events if e.get("method") == method]


def visit(path, tmp_path) -> dict[str, Any]:
    """Open ``path`` in a fresh Chromium and report what happened and what the page shows."""
    with chromium(str(tmp_path / "profile")) as address:
        targets = json.load(urllib.request.urlopen(f"http://{address}/json/list", timeout=10))
        page_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        with websockets_sync.connect(page_url, max_size=None) as ws:
            page = Page(ws)
            for domain in ("Page", "Runtime", "Log", "Network"):
                page.call(f"{domain}.enable")
            page.call("Page.navigate", url=path.as_uri())
            page.wait_for("Page.loadEventFired")
            # Unfold every task's output, as a reader would: the names and outputs are then text
            # whatever the timings (a bar too narrow for its name shows it cut short).
            page.evaluate("[...document.querySelectorAll('details')].map(d => (d.open = true))")
            seen = {
                "bars": page.evaluate(
                    "[...document.querySelectorAll('svg.timeline')]"
                    ".map(s => s.querySelectorAll('g.task rect').length)"
                ),
                "text": page.evaluate("document.body.innerText"),
                "scripts": page.evaluate("document.scripts.length"),
                "shot": base64.b64decode(page.call("Page.captureScreenshot", format="png")["data"]),
            }
    errors = [e for e in page.seen("Runtime.consoleAPICalled") if e["type"] == "error"]
    errors += page.seen("Runtime.exceptionThrown")
    errors += [e for e in page.seen("Log.entryAdded") if e["entry"]["level"] == "error"]
    seen["errors"] = errors
    seen["dialogs"] = page.seen("Page.javascriptDialogOpening")
    seen["failed"] = page.seen("Network.loadingFailed")
    seen["urls"] = [e["request"]["url"] for e in page.seen("Network.requestWillBeSent")]
    return seen


@pytest.mark.slow
def test_report_opens_offline_with_timelines_and_escaped_names(results, tmp_path):
    report = tmp_path / "report.html"
    html.write(results, str(report))
    seen = visit(report, tmp_path)
    # One timeline per run with records, one bar per task: 3 runs of 2 tasks, then 2 runs of 2.
    assert seen["bars"] == [2, 2, 2, 2, 2]
    assert HOSTILE in seen["text"]
    assert "<b>not bold</b> 1 & <img src=x onerror=alert(2)>" in seen["text"]
    assert seen["scripts"] == 0
    assert not seen["dialogs"]
    assert not seen["errors"], seen["errors"]
    assert not seen["failed"], seen["failed"]
    assert seen["urls"] == [report.as_uri()], seen["urls"]
    png = tmp_path / "report.png"
    png.write_bytes(seen["shot"])
    _assert_not_blank(png)


@pytest.mark.slow
def test_the_browser_check_sees_errors_and_requests(tmp_path):
    """The checks above can fail: a page with a script error and a remote image is caught."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p>bad</p><img src='http://example.invalid/x.png'>"
        "<script>console.error('boom')</script></body></html>"
    )
    seen = visit(page, tmp_path)
    assert seen["errors"]
    assert seen["failed"]
    assert len(seen["urls"]) == 2


def _assert_not_blank(path):
    image = pytest.importorskip("matplotlib.image", reason="matplotlib reads the screenshot")
    pixels = image.imread(str(path))
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    flat = pixels.reshape(-1, pixels.shape[-1])
    colours = {tuple(p) for p in flat[:: max(1, len(flat) // 20000)].tolist()}
    assert len(colours) > 10, "the screenshot is blank"
