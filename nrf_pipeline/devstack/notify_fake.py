"""A local GOV.UK Notify: `POST /v2/notifications/email` (contracts.md §4.5, environment.md §7).

The request must carry `Authorization: Bearer <JWT>`, HS256-signed with the secret part of the API
key, `iss` = the service id and `iat` within 30 s of now, as Notify checks it; otherwise 403 with
Notify's error shape. A sent e-mail answers 201 with the fields Notify returns and is recorded
(`GET /_fake/notifications`). Failure modes and the request record as in `http_fake`.

Stricter than Notify on purpose: every personalisation value must be a string (contracts.md §4.1).

Run alone: `python -m nrf_pipeline.devstack.notify_fake --port 8087`; it accepts $NOTIFY_API_KEY when
that is set, else a fixed local key, and prints the key to use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from nrf_pipeline.devstack.http_fake import ControlClient, FakeServer, Request, Response, serve_main

SERVICE_ID = "5c1e3a10-6f1b-4c55-8d0a-6b9a3f1e2d40"
SECRET = "9f3b2a7c-1d4e-4f6a-8b0c-2e5d7a9c1b3f"
KEY_NAME = "nrf-local"
# Notify accepts tokens issued up to 30 s before or after its own clock.
IAT_LEEWAY_SECONDS = 30
FROM_EMAIL = "nrf.local@notifications.service.gov.uk"


class NotifyFake(FakeServer):
    control_prefix = "/_fake"
    secret_headers = frozenset({"authorization"})

    def __init__(self, service_id: str = SERVICE_ID, secret: str = SECRET, host: str = "127.0.0.1", port: int = 0):
        super().__init__(host, port)
        self.service_id = service_id
        self.secret = secret
        self._notifications: list[dict[str, Any]] = []

    @property
    def api_key(self) -> str:
        """A key in Notify's test-key form `<key name>-<service id>-<secret>`."""
        return f"{KEY_NAME}-{self.service_id}-{self.secret}"

    def control(self) -> NotifyFakeClient:
        return NotifyFakeClient(self.url)

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._notifications.clear()

    def handle_control(self, request: Request, action: str) -> Response | None:
        if (request.method, action) == ("GET", "notifications"):
            with self._lock:
                return Response(200, list(self._notifications))
        return super().handle_control(request, action)

    def handle(self, request: Request) -> Response:
        if (request.method, request.path) != ("POST", "/v2/notifications/email"):
            return _error(404, "NotFoundError", "Not found")
        problem = self._token_problem(request.headers.get("authorization", ""))
        if problem:
            return _error(403, "AuthError", problem)
        try:
            body = request.json()
        except ValueError:
            return _error(400, "ValidationError", "body is not JSON")
        problem = _body_problem(body)
        if problem:
            return _error(400, "ValidationError", problem)
        return self._send(body)

    def _token_problem(self, authorization: str) -> str | None:
        """Why the bearer token is not acceptable; None when it is (HS256 checked by hand)."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token.count(".") != 2:
            return "Unauthorized: authentication token must be provided"
        header_b64, claims_b64, signature_b64 = token.split(".")
        try:
            header, claims = json.loads(_b64decode(header_b64)), json.loads(_b64decode(claims_b64))
            signature = _b64decode(signature_b64)
        except ValueError:
            return "Invalid token: signature, api token is not valid"
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            return "Invalid token: algorithm used is not HS256"
        expected = hmac.new(self.secret.encode(), f"{header_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            return "Invalid token: signature, api token not found"
        if not isinstance(claims, dict) or claims.get("iss") != self.service_id:
            return "Invalid token: service id is not the right data type"
        iat = claims.get("iat")
        if not isinstance(iat, (int, float)) or abs(time.time() - iat) > IAT_LEEWAY_SECONDS:
            return "Error: Your system clock must be accurate to within 30 seconds"
        return None

    def _send(self, body: dict[str, Any]) -> Response:
        notification_id = str(uuid.uuid4())
        template_id = body["template_id"]
        personalisation = body.get("personalisation") or {}
        record = {
            "id": notification_id,
            "email_address": body["email_address"],
            "template_id": template_id,
            "personalisation": personalisation,
            "reference": body.get("reference"),
            "created_at": datetime.now(UTC).isoformat(),
        }
        with self._lock:
            self._notifications.append(record)
        return Response(201, {
            "id": notification_id,
            "reference": body.get("reference"),
            "content": {
                "subject": f"Template {template_id}",
                # A readable stand-in for the rendered template.
                "body": "\n".join(f"{key}: {value}" for key, value in sorted(personalisation.items())),
                "from_email": FROM_EMAIL,
                "one_click_unsubscribe_url": None,
            },
            "uri": f"{self.url}/v2/notifications/{notification_id}",
            "template": {
                "id": template_id,
                "version": 1,
                "uri": f"{self.url}/services/{self.service_id}/templates/{template_id}",
            },
            "scheduled_for": None,
        }, note={"notification_id": notification_id})


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError("not base64url") from error


def _body_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be an object"
    if not isinstance(body.get("email_address"), str) or "@" not in body["email_address"]:
        return "email_address Not a valid email address"
    try:
        uuid.UUID(str(body.get("template_id")))
    except ValueError:
        return "template_id is not a valid UUID"
    personalisation = body.get("personalisation", {})
    if not isinstance(personalisation, dict) or not all(isinstance(v, str) for v in personalisation.values()):
        return "personalisation values must be strings"
    if body.get("reference") is not None and not isinstance(body["reference"], str):
        return "reference must be a string"
    return None


def _error(status: int, error: str, message: str) -> Response:
    """Notify's error body: the client reports `errors` as the failure reason."""
    return Response(status, {"status_code": status, "errors": [{"error": error, "message": message}]})


class NotifyFakeClient(ControlClient):
    def __init__(self, base_url: str):
        super().__init__(base_url, NotifyFake.control_prefix)

    def notifications(self) -> list[dict[str, Any]]:
        return self._call("GET", "notifications")


def main(argv: list[str] | None = None) -> None:
    def add_arguments(parser) -> None:
        # Defaults from $NOTIFY_API_KEY when set, so the fake accepts the key the service is given
        # (the client reads the service id and secret from the same positions).
        key = os.environ.get("NOTIFY_API_KEY")
        parser.add_argument("--service-id", default=key[-73:-37] if key else SERVICE_ID)
        parser.add_argument("--secret", default=key[-36:] if key else SECRET)

    def make(args) -> NotifyFake:
        fake = NotifyFake(service_id=args.service_id, secret=args.secret, host=args.host, port=args.port)
        print(f"NOTIFY_API_KEY={fake.api_key}", flush=True)  # a local test key, not a secret
        return fake

    serve_main("GOV.UK Notify fake", make, add_arguments, argv)


if __name__ == "__main__":
    main()
