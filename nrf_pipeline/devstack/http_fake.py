"""What the local stand-ins for nrf-backend and GOV.UK Notify share: a real HTTP server on loopback
in a thread, a record of every request, injectable failures, and a control API with its client.

Control API (under the server's `control_prefix`, e.g. `/_stub`):

* `POST {prefix}/fail` adds a failure mode `{"status": 503, "delay": 0, "count": 1, "method": null}`:
  the next `count` service requests (every one while `count` is null) of `method` (any when null)
  wait `delay` seconds and then answer `status`, or are served normally when `status` is null
  (a slow response). Modes are used in the order they were added.
* `DELETE {prefix}/fail` clears the failure modes.
* `GET {prefix}/requests` lists the recorded service requests; secret headers are left out.
* `POST {prefix}/reset` clears everything.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    raw_body: bytes

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON (NaN and Infinity included)."""
        return json.loads(self.raw_body or b"null", parse_constant=_reject_constant)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # Extra facts for the request record (e.g. whether a PATCH changed anything).
    note: dict[str, Any] = field(default_factory=dict)


@dataclass
class FailureMode:
    status: int | None = None
    delay: float = 0.0
    count: int | None = 1
    method: str | None = None


class FakeServer:
    """Subclasses implement `handle` (the service API) and may extend `handle_control`."""

    control_prefix = "/_fake"
    secret_headers: frozenset[str] = frozenset()

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host, self.port = host, port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[dict[str, Any]] = []
        self._failures: list[FailureMode] = []

    # -- life cycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        # Port 0 lets the kernel pick a free port at bind time: no race with other processes.
        self._server = ThreadingHTTPServer((self.host, self.port), _handler_for(self))
        self._server.daemon_threads = True  # a slow response must not hold up stop()
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() quick.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=type(self).__name__,
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if not self.running:
            return
        self._stopping.set()  # wakes delayed responses
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests --------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def handle_control(self, request: Request, action: str) -> Response | None:
        """The shared control actions; None for an unknown one."""
        if (request.method, action) == ("POST", "fail"):
            spec = request.json() or {}
            mode = FailureMode(**{k: spec[k] for k in ("status", "delay", "count", "method") if k in spec})
            with self._lock:
                self._failures.append(mode)
            return Response(201, {"failures": len(self._failures)})
        if (request.method, action) == ("DELETE", "fail"):
            with self._lock:
                self._failures.clear()
            return Response(204)
        if (request.method, action) == ("GET", "requests"):
            with self._lock:
                return Response(200, list(self._requests))
        if (request.method, action) == ("POST", "reset"):
            self.reset()
            return Response(204)
        return None

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._failures.clear()

    def dispatch(self, request: Request) -> Response:
        prefix = self.control_prefix + "/"
        if request.path.startswith(prefix):
            try:
                response = self.handle_control(request, request.path[len(prefix):])
            except (ValueError, TypeError) as error:
                return Response(400, {"error": str(error)})
            return response or Response(404, {"error": "unknown control action"})
        failure = self._take_failure(request.method)
        if failure and failure.delay:
            self._stopping.wait(failure.delay)
        if failure and failure.status:
            response = Response(failure.status, {"error": "injected failure"})
            if 300 <= failure.status < 400:
                response.headers["Location"] = "/moved"
        else:
            response = self.handle(request)
        self._record(request, response)
        return response

    def _take_failure(self, method: str) -> FailureMode | None:
        with self._lock:
            for mode in self._failures:
                if mode.method in (None, method):
                    if mode.count is not None:
                        mode.count -= 1
                        if mode.count <= 0:
                            self._failures.remove(mode)
                    return mode
        return None

    def _record(self, request: Request, response: Response) -> None:
        try:
            body = request.json()
        except ValueError:
            body = request.raw_body.decode("utf-8", "replace")
        entry = {
            "method": request.method,
            "path": request.path,
            "headers": {k: v for k, v in request.headers.items() if k not in self.secret_headers},
            "body": body,
            "status": response.status,
            **response.note,
        }
        with self._lock:
            self._requests.append(entry)


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=self.path.split("?", 1)[0],
                headers={k.lower(): v for k, v in self.headers.items()},
                raw_body=self.rfile.read(length) if length else b"",
            )
            response = fake.dispatch(request)
            payload = b"" if response.body is None else json.dumps(response.body).encode()
            try:
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test): nothing to answer

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests and the demo read the request record, not access logs

    return Handler


class ControlClient:
    """The control API of a running fake, over HTTP, so it works for a separate process too."""

    def __init__(self, base_url: str, prefix: str):
        self._http = httpx.Client(base_url=f"{base_url.rstrip('/')}{prefix}", timeout=10, trust_env=False)

    def _call(self, method: str, action: str, body: Any = None) -> Any:
        response = self._http.request(method, f"/{action}", json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def fail(self, status: int | None = None, delay: float = 0.0, count: int | None = 1,
             method: str | None = None) -> None:
        """Make the next `count` requests (all, when None) wait `delay` s and answer `status`."""
        self._call("POST", "fail", {"status": status, "delay": delay, "count": count, "method": method})

    def clear_failures(self) -> None:
        self._call("DELETE", "fail")

    def requests(self) -> list[dict[str, Any]]:
        return self._call("GET", "requests")

    def reset(self) -> None:
        self._call("POST", "reset")

    def close(self) -> None:
        self._http.close()


def serve_main(description: str, make_server, add_arguments=None, argv: list[str] | None = None) -> None:
    """`python -m ...` entry point: serve until SIGTERM or SIGINT (for compose and the demo)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    server = make_server(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print(f"{description} listening on {server.url}", flush=True)
    stop.wait()
    server.stop()
