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


# --- the pictures and tables as the browser lays them out ----------------------------------

GEOMETRY = """(() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const svgs = [...document.querySelectorAll('svg')].map(svg => ({
    cls: svg.getAttribute('class'),
    texts: [...svg.querySelectorAll('text')].filter(t => t.textContent.trim()).map(t => ({
      text: t.textContent, box: box(t), cls: t.getAttribute('class') || '',
      task: t.closest('g.task') ? Number(t.closest('g.task').dataset.index) : null})),
    bars: [...svg.querySelectorAll('g.task')].map(g => ({
      index: Number(g.dataset.index), status: g.dataset.status, box: box(g.querySelector('rect'))})),
    one: [...svg.querySelectorAll('line.one')].map(box),
  }));
  const lesson = [...document.querySelectorAll('table.lesson tr')].map(
    tr => [...tr.cells].map(c => c.innerText.trim()));
  return {svgs, lesson, takeaways: [...document.querySelectorAll('.takeaway')].length};
})()"""


def layout(path, tmp_path) -> dict[str, Any]:
    """Open ``path`` in a fresh Chromium at its default size and read the page's own geometry."""
    with chromium(str(tmp_path / "profile")) as address:
        targets = json.load(urllib.request.urlopen(f"http://{address}/json/list", timeout=10))
        page_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        with websockets_sync.connect(page_url, max_size=None) as ws:
            page = Page(ws)
            page.call("Page.enable")
            page.call("Runtime.enable")
            page.call("Page.navigate", url=path.as_uri())
            page.wait_for("Page.loadEventFired")
            return page.evaluate(GEOMETRY)


def _overlap(a: list[float], b: list[float], tolerance_px: float = 0.5) -> bool:
    return (
        min(a[2], b[2]) - max(a[0], b[0]) > tolerance_px
        and min(a[3], b[3]) - max(a[1], b[1]) > tolerance_px
    )


def _seconds_to_px(svg: dict[str, Any]) -> tuple[float, float]:
    """Where 0 s is and how many pixels a second takes, from the axis's own tick labels."""
    ticks = [
        (float(t["text"].removesuffix(" s")), t["box"])
        for t in svg["texts"]
        if t["text"].endswith(" s")
    ]
    (s0, b0), (s1, b1) = ticks[0], ticks[-1]
    x0, x1 = (b0[0] + b0[2]) / 2, (b1[0] + b1[2]) / 2
    return x0, (x1 - x0) / (s1 - s0)


@pytest.mark.slow
def test_the_lessons_table_is_a_table_with_the_terminals_cells(tmp_path):
    from tests.report.pictures import EXTRA, ROWS, lesson_results

    report = tmp_path / "lesson.html"
    html.write(lesson_results(), str(report))
    seen = layout(report, tmp_path)
    # The header, then one row per question with the cells the terminal's table has.
    assert seen["lesson"][0] == ["", "Threading", "Multiprocessing"]
    assert seen["lesson"][1:] == [[r.question, r.threads, r.processes] for r in ROWS + EXTRA]
    assert seen["takeaways"] == 1


@pytest.mark.slow
def test_no_label_overlaps_another_at_the_default_size(tmp_path):
    from tests.report.pictures import short_tasks_results

    report = tmp_path / "short.html"
    html.write(short_tasks_results(), str(report))
    seen = layout(report, tmp_path)
    timelines = [s for s in seen["svgs"] if s["cls"] == "timeline"]
    assert timelines and all(s["bars"] for s in timelines)
    named = 0
    for svg in seen["svgs"]:
        texts = svg["texts"]
        for k, a in enumerate(texts):
            for b in texts[k + 1 :]:
                assert not _overlap(a["box"], b["box"]), (svg["cls"], a, b)
        for label in (t for t in texts if t["cls"] == "bar-label"):
            named += 1
            # On its own bar or in the free space after it: never over another task's bar.
            for bar in svg["bars"]:
                if bar["index"] != label["task"]:
                    assert not _overlap(label["box"], bar["box"]), (label, bar)
        # A speed-up's value never sits on the 1x line.
        for value in (t for t in texts if t["cls"] == "value"):
            for one in svg["one"]:
                assert not value["box"][0] - 1 <= one[0] <= value["box"][2] + 1, (value, one)
    assert named > 0


@pytest.mark.slow
def test_a_crashed_runs_bars_are_no_longer_than_its_measured_time(tmp_path):
    from tests.report.pictures import crashed_results

    results = crashed_results()
    crashed = next(r for r in results.comparisons[0].runs if r.status != "ok")
    # The timeline shows the median timed repeat (the lower of two): its wall time is the most
    # its bars may take. (The warm-up, slower or faster at random, is not what the table shows.)
    shown_s = sorted(crashed.wall_s)[(len(crashed.wall_s) - 1) // 2]
    report = tmp_path / "crash.html"
    html.write(results, str(report))
    seen = layout(report, tmp_path)
    drawn = [s for s in seen["svgs"] if any(b["status"] == "crashed" for b in s["bars"])]
    assert len(drawn) == 1, "the crashed run has one timeline"
    zero_px, px_per_s = _seconds_to_px(drawn[0])
    for bar in drawn[0]["bars"]:
        assert bar["status"] == "crashed"
        assert bar["box"][2] <= zero_px + shown_s * px_per_s + 1.5, (bar, crashed.wall_s)
