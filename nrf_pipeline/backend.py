"""The nrf-backend client: fetch a quote (contracts.md §2) and send results (§3).

Both calls share the status handling of §3.2 and raise `BackendError` (an `AssessmentError`) with
one of the backend error codes. Logs carry the reference, status and attempt; never a body or key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.retry import Transient, with_retries
from nrf_pipeline.settings import Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0
# 408 and 429 mean "try again later", like a 5xx (§3.2).
RETRY_STATUSES = frozenset({408, 429})


class BackendError(AssessmentError):
    """A failed backend call; `status` is the last HTTP status received (None: no response)."""

    def __init__(self, code: str, summary: str, status: int | None):
        super().__init__(code, summary)
        self.status = status


class BackendClient:
    """One client per run (or per process): it keeps a connection pool, so close it after use."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        read_timeout: float = 30.0,
        max_retries: int = 3,
        proxy: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        tracing_header: str = "x-cdp-request-id",
    ):
        self.max_retries = max_retries
        self._sleep = sleep
        self._tracing_header = tracing_header
        headers = {"Accept": "application/json"}
        if api_key:
            headers["x-api-key"] = api_key
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT_SECONDS),
            follow_redirects=False,  # a redirect is an unexpected status (§3.2)
            # Proxy URLs as str, never a pydantic URL object (platform.md §4.5). Without one,
            # httpx reads HTTPS_PROXY and NO_PROXY from the environment.
            proxy=str(proxy) if proxy else None,
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> BackendClient:
        if not settings.BACKEND_URL:
            raise AssessmentError("config_invalid", "BACKEND_URL is not set")
        return cls(
            settings.BACKEND_URL,
            settings.BACKEND_API_KEY,
            read_timeout=settings.BACKEND_TIMEOUT_SECONDS,
            max_retries=settings.BACKEND_MAX_RETRIES,
            tracing_header=settings.TRACING_HEADER,
            **kwargs,
        )

    def __enter__(self) -> BackendClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get_quote(self, reference: str, trace_id: str | None) -> object:
        """The quote JSON, unvalidated (`quote.parse_quote` checks it)."""
        response = self._call("GET", reference, trace_id)
        try:
            return response.json()
        except ValueError:
            raise BackendError(
                "backend_unexpected_status", "the backend answered the quote request with a body that is not JSON",
                response.status_code,
            ) from None

    def patch_results(self, reference: str, body: dict, trace_id: str | None) -> int:
        """Send the results; returns the HTTP status (2xx)."""
        return self._call("PATCH", reference, trace_id, body).status_code

    def _call(self, method: str, reference: str, trace_id: str | None, body: dict | None = None) -> httpx.Response:
        path = f"/quotes/{reference}"
        headers = {self._tracing_header: trace_id} if trace_id else {}
        attempts = 0
        last_status: int | None = None

        def attempt(number: int) -> httpx.Response:
            nonlocal attempts, last_status
            attempts = number
            context = {"reference": reference, "http_method": method, "attempt": number}
            try:
                response = self._http.request(method, path, headers=headers, json=body)
            except httpx.TransportError as error:  # timeouts, connection and TLS errors
                log.warning("backend_request_failed", extra=context | {"error_type": type(error).__name__})
                raise Transient(type(error).__name__) from None
            last_status = status = response.status_code
            if status >= 500 or status in RETRY_STATUSES:
                log.warning("backend_request_failed", extra=context | {"status": status})
                raise Transient(f"HTTP {status}")
            log.info("backend_response", extra=context | {"status": status})
            return response

        try:
            response = with_retries(attempt, self.max_retries, self._sleep)
        except Transient as failure:
            raise BackendError(
                "backend_unavailable",
                f"{method} {path} failed after {attempts} attempts (last: {failure.reason})",
                last_status,
            ) from None
        return self._check(method, reference, response)

    @staticmethod
    def _check(method: str, reference: str, response: httpx.Response) -> httpx.Response:
        """The permanent outcomes of §3.2: success, or a `BackendError` without retry."""
        status, path = response.status_code, f"/quotes/{reference}"
        context = {"reference": reference, "status": status, "http_method": method}
        if 200 <= status < 300:
            if status not in (200, 204):
                log.warning("backend_unusual_success_status", extra=context)
            return response
        if status in (400, 422):
            code, summary = "backend_rejected", f"the backend rejected {method} {path} with HTTP {status}"
        elif status == 404:
            code, summary = "quote_not_found", f"the backend does not know {path} (HTTP 404)"
        elif status in (401, 403):
            code = "backend_auth_failed"
            summary = f"the backend refused the API key for {method} {path} (HTTP {status})"
            # A wrong key is an operator's problem, not the quote's: make it stand out.
            log.error("backend_auth_failed", extra=context | {"config_error": True})
        else:
            code, summary = "backend_unexpected_status", f"unexpected HTTP {status} for {method} {path}"
        raise BackendError(code, summary, status)
