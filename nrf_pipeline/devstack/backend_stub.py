"""A local nrf-backend: `GET` and `PATCH /quotes/{reference}` (contracts.md §2, §3).

* Both need the `x-api-key` header (401 without or with a wrong key); an unknown quote is 404.
* A PATCH body is checked against §3.4 (`nrf_pipeline.contract`); an invalid one is 400 with the
  reasons. A PATCH whose `edps` equal the stored ones is a no-op (§3.5), answered 200 with
  `changed: false` and recorded like any other request.
* Control API under `/_stub` (see `http_fake`), plus `POST /_stub/quotes` (create or replace a
  quote, the body is the quote JSON) and `GET /_stub/results/{reference}` (the stored PATCH body).

Run alone: `python -m nrf_pipeline.devstack.backend_stub --port 8086 [--api-key KEY]`.
"""

from __future__ import annotations

import copy
import os
import re
from typing import Any

from nrf_pipeline.contract import validate_patch_body
from nrf_pipeline.devstack.http_fake import ControlClient, FakeServer, Request, Response, serve_main

DEFAULT_API_KEY = "local-backend-api-key"
QUOTE_PATH = re.compile(r"^/quotes/([^/]+)$")


class BackendStub(FakeServer):
    control_prefix = "/_stub"
    secret_headers = frozenset({"x-api-key"})

    def __init__(self, api_key: str = DEFAULT_API_KEY, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.api_key = api_key
        self._quotes: dict[str, dict[str, Any]] = {}
        self._results: dict[str, dict[str, Any]] = {}

    def control(self) -> BackendStubClient:
        return BackendStubClient(self.url)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._quotes.clear()
            self._results.clear()

    def handle_control(self, request: Request, action: str) -> Response | None:
        if (request.method, action) == ("POST", "quotes"):
            quote = request.json()
            if not isinstance(quote, dict) or not isinstance(quote.get("reference"), str):
                return Response(400, {"error": "a quote is an object with a string reference"})
            with self._lock:
                self._quotes[quote["reference"]] = quote
                self._results.pop(quote["reference"], None)
            return Response(201, {"reference": quote["reference"]})
        if request.method == "GET" and action.startswith("results/"):
            with self._lock:
                result = self._results.get(action[len("results/"):])
            return Response(200, result) if result is not None else Response(404, {"error": "no results"})
        return super().handle_control(request, action)

    def handle(self, request: Request) -> Response:
        match = QUOTE_PATH.match(request.path)
        if not match or request.method not in ("GET", "PATCH"):
            return Response(404, {"error": "not found"})
        if request.headers.get("x-api-key") != self.api_key:
            return Response(401, {"error": "missing or wrong x-api-key"})
        reference = match.group(1)
        with self._lock:
            quote = self._quotes.get(reference)
        if quote is None:
            return Response(404, {"error": "quote not found"})
        if request.method == "GET":
            return Response(200, quote)
        return self._patch(reference, request)

    def _patch(self, reference: str, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return Response(400, {"errors": ["the body is not JSON"]})
        errors = validate_patch_body(body)
        if errors:
            return Response(400, {"errors": errors}, note={"errors": errors})
        with self._lock:
            previous = self._results.get(reference)
            # provenance is ignored when deciding whether anything changed (§3.5).
            changed = previous is None or previous["edps"] != body["edps"]
            if changed:
                self._results[reference] = copy.deepcopy(body)
        return Response(200, {"reference": reference, "changed": changed}, note={"changed": changed})


class BackendStubClient(ControlClient):
    def __init__(self, base_url: str):
        super().__init__(base_url, BackendStub.control_prefix)

    def put_quote(self, quote: dict[str, Any]) -> None:
        self._call("POST", "quotes", quote)

    def results(self, reference: str) -> dict[str, Any] | None:
        response = self._http.get(f"/results/{reference}")
        return response.json() if response.status_code == 200 else None


def main(argv: list[str] | None = None) -> None:
    serve_main(
        "nrf-backend stub",
        lambda args: BackendStub(api_key=args.api_key, host=args.host, port=args.port),
        lambda parser: parser.add_argument(
            "--api-key", default=os.environ.get("BACKEND_API_KEY", DEFAULT_API_KEY),
            help="the x-api-key to accept (default: $BACKEND_API_KEY or a fixed local key)",
        ),
        argv,
    )


if __name__ == "__main__":
    main()
