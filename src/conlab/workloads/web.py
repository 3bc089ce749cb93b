"""HTTP requests to a real server on 127.0.0.1 that answers each request after a set latency.

The server runs in a process of its own, started when the workload's setup is
entered and stopped when it is left, so that its threads neither compete with
the tasks for this interpreter's GIL nor count in the run's CPU time. Tasks
fetch with urllib; the async variant speaks HTTP/1.0 over asyncio streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conlab._process.children import CONLAB_SRC
from conlab.model import Task, Workload
from conlab.workloads.params import at_least

START_TIMEOUT_S = 30.0


def body(path: str, size_kb: int) -> bytes:
    """What the server answers for ``path``: distinct per path, ``size_kb`` KiB."""
    return hashlib.sha256(path.encode()).hexdigest().encode() * (16 * size_kb)


class Server:
    """The server's address while the workload's setup is entered (None otherwise)."""

    def __init__(self, latency_s: float, size_kb: int) -> None:
        self.latency_s, self.size_kb = latency_s, size_kb
        self.port: int | None = None

    def url(self, path: str) -> str:
        if self.port is None:
            raise RuntimeError(
                "the http workload's server is not running: run it with conlab.compare, "
                "which starts it around the runs"
            )
        return f"http://127.0.0.1:{self.port}{path}"

    @contextlib.contextmanager
    def running(self) -> Iterator[Server]:
        """Start the server in a child process; stop it, and wait for it, on the way out."""
        package_root = CONLAB_SRC
        code = (
            f"import sys; sys.path.insert(0, {package_root!r}); "
            "from conlab.workloads.web import serve; serve()"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(self.latency_s), str(self.size_kb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            self.port = _read_port(proc)
            yield self
        finally:
            self.port = None
            _stop(proc)


def _read_port(proc: subprocess.Popen[str]) -> int:
    assert proc.stdout is not None
    timer = threading.Timer(START_TIMEOUT_S, proc.kill)
    timer.start()
    try:
        line = proc.stdout.readline()
    finally:
        timer.cancel()
    if not line.strip().isdigit():
        raise RuntimeError(f"the http workload's server did not start (exit code {proc.poll()})")
    return int(line)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Closing its stdin tells the server to stop; it is killed if it does not."""
    for stream in (proc.stdin, proc.stdout):
        with contextlib.suppress(OSError):
            if stream is not None:
                stream.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class _Handler(BaseHTTPRequestHandler):
    server: _LatencyServer

    def do_GET(self) -> None:
        time.sleep(self.server.latency_s)
        data = body(self.path, self.server.size_kb)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _LatencyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    latency_s = 0.0
    size_kb = 1


def serve() -> None:
    """The server process: print the port, serve until stdin closes (the parent left or said stop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    server = _LatencyServer(("127.0.0.1", 0), _Handler)
    server.latency_s, server.size_kb = float(sys.argv[1]), int(sys.argv[2])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()
    server.server_close()


def _path(index: int, r: int) -> str:
    return f"/item/{index}/{r}"


def fetch(server: Server, index: int, requests: int) -> str:
    """``requests`` GETs, one after the other; a digest of the bodies received."""
    digest = hashlib.sha256()
    for r in range(requests):
        with urllib.request.urlopen(server.url(_path(index, r)), timeout=60) as response:
            digest.update(response.read())
    return digest.hexdigest()


async def fetch_async(server: Server, index: int, requests: int) -> str:
    digest = hashlib.sha256()
    for r in range(requests):
        digest.update(await _get(server, _path(index, r)))
    return digest.hexdigest()


async def _get(server: Server, path: str) -> bytes:
    """One HTTP/1.0 GET over asyncio streams: the body, or an error for any other status than 200."""
    server.url(path)  # fails clearly when the server is not running
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, data = response.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0]
    if b" 200 " not in status + b" ":
        raise RuntimeError(f"GET {path}: {status.decode(errors='replace')}")
    return data


def _expected(index: int, requests: int, size_kb: int) -> str:
    digest = hashlib.sha256()
    for r in range(requests):
        digest.update(body(_path(index, r), size_kb))
    return digest.hexdigest()


def workload(
    tasks: int = 8, requests: int = 4, latency_s: float = 0.05, size_kb: int = 16
) -> Workload:
    """``tasks`` tasks of ``requests`` GETs each, the server taking ``latency_s`` per answer."""
    owner = "the http workload"
    at_least(owner, "tasks", tasks, 1)
    at_least(owner, "requests", requests, 1)
    at_least(owner, "latency_s", latency_s, 0)
    at_least(owner, "size_kb", size_kb, 1)
    server = Server(latency_s, size_kb)
    args = [(server, k, requests) for k in range(tasks)]
    return Workload(
        name="http",
        kind="io",
        description="GETs with urllib to a local HTTP server answering after a set latency",
        params={"tasks": tasks, "requests": requests, "latency_s": latency_s, "size_kb": size_kb},
        tasks=[Task(fetch, a, name=f"http[{a[1]}]") for a in args],
        async_tasks=[Task(fetch_async, a, name=f"http[{a[1]}]") for a in args],
        task_durations_s=[latency_s * requests] * tasks,
        expected=[_expected(k, requests, size_kb) for k in range(tasks)],
        setup=server.running,
    )
