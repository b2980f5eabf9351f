"""The local nrf-backend stub and GOV.UK Notify fake, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

from nrf_pipeline.devstack.backend_stub import BackendStub
from nrf_pipeline.devstack.notify_fake import NotifyFake
from nrf_pipeline.devstack.processes import free_port, wait_until
from nrf_pipeline_tests.pipeline.test_payload import CONTRACT_EXAMPLE

REFERENCE = "NRL-123456"
QUOTE = {"reference": REFERENCE, "housingUnits": 1}
TEMPLATE = "0b6f3c52-5a1d-4e2b-9a63-7c0d8e1f2a31"


@pytest.fixture(scope="module")
def backend():
    with BackendStub(api_key="test-key") as stub:
        yield stub


@pytest.fixture
def stub(backend):
    control = backend.control()
    control.reset()
    control.put_quote(QUOTE)
    http = httpx.Client(base_url=backend.url, headers={"x-api-key": "test-key"})
    yield http, control
    http.close()
    control.close()


@pytest.fixture(scope="module")
def notify_fake():
    with NotifyFake() as fake:
        yield fake


@pytest.fixture
def notify(notify_fake):
    control = notify_fake.control()
    control.reset()
    yield NotificationsAPIClient(notify_fake.api_key, base_url=notify_fake.url), control
    control.close()


# -- backend stub ---------------------------------------------------------------------------


def test_get_quote_needs_the_api_key(stub, backend):
    http, control = stub
    assert http.get(f"/quotes/{REFERENCE}").json() == QUOTE
    assert httpx.get(f"{backend.url}/quotes/{REFERENCE}").status_code == 401
    assert httpx.get(f"{backend.url}/quotes/{REFERENCE}", headers={"x-api-key": "wrong"}).status_code == 401
    assert http.get("/quotes/NRL-000000").status_code == 404
    recorded = control.requests()
    assert [r["status"] for r in recorded] == [200, 401, 401, 404]
    # The key is never in the record.
    assert "test-key" not in json.dumps(recorded) and "wrong" not in json.dumps(recorded)


def test_patch_is_validated_and_an_identical_edps_is_a_no_op(stub):
    http, control = stub
    first = http.patch(f"/quotes/{REFERENCE}", json=CONTRACT_EXAMPLE)
    assert first.status_code == 200 and first.json()["changed"] is True
    again = json.loads(json.dumps(CONTRACT_EXAMPLE))
    again["provenance"]["pipelineRunId"] = "another-run"
    second = http.patch(f"/quotes/{REFERENCE}", json=again)
    assert second.status_code == 200 and second.json()["changed"] is False
    assert control.results(REFERENCE)["provenance"]["pipelineRunId"] == CONTRACT_EXAMPLE["provenance"]["pipelineRunId"]
    assert [(r["method"], r["status"], r["changed"]) for r in control.requests()] == [
        ("PATCH", 200, True), ("PATCH", 200, False),
    ]


def test_stub_rejects_an_invalid_patch_body_with_400(stub):
    http, control = stub
    invalid = json.loads(json.dumps(CONTRACT_EXAMPLE)) | {"levyGbp": 999}
    response = http.patch(f"/quotes/{REFERENCE}", json=invalid)
    assert response.status_code == 400
    assert "$.levyGbp: not allowed" in response.json()["errors"]
    not_json = http.patch(f"/quotes/{REFERENCE}", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    assert control.results(REFERENCE) is None


def test_failure_modes_are_used_in_order_and_by_method(stub):
    http, control = stub
    control.fail(status=503, count=2)
    control.fail(status=429, method="PATCH")
    statuses = [http.get(f"/quotes/{REFERENCE}").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert http.patch(f"/quotes/{REFERENCE}", json=CONTRACT_EXAMPLE).status_code == 429
    control.fail(status=500, count=None)
    assert [http.get(f"/quotes/{REFERENCE}").status_code for _ in range(3)] == [500, 500, 500]
    control.clear_failures()
    assert http.get(f"/quotes/{REFERENCE}").status_code == 200


def test_a_delay_makes_a_slow_response(stub):
    http, control = stub
    control.fail(delay=0.3)
    started = time.monotonic()
    assert http.get(f"/quotes/{REFERENCE}").status_code == 200
    assert time.monotonic() - started >= 0.3


def test_backend_stub_runs_as_a_process(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "nrf_pipeline.devstack.backend_stub", "--port", str(port), "--api-key", "k"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        from nrf_pipeline.devstack.backend_stub import BackendStubClient

        control = BackendStubClient(f"http://127.0.0.1:{port}")

        def answers() -> bool:
            try:
                control.reset()
                return True
            except httpx.TransportError:
                return False

        wait_until(answers, 20, "backend stub process")
        control.put_quote(QUOTE)
        response = httpx.get(f"http://127.0.0.1:{port}/quotes/{REFERENCE}", headers={"x-api-key": "k"})
        assert response.json() == QUOTE
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


# -- Notify fake ----------------------------------------------------------------------------


def test_notify_client_round_trip(notify, notify_fake):
    client, control = notify
    response = client.send_email_notification("someone@example.com", TEMPLATE, {"a": "1"}, "NRL-123456")
    uuid.UUID(response["id"])
    assert response["reference"] == "NRL-123456"
    assert set(response["content"]) >= {"subject", "body", "from_email"}
    assert set(response["template"]) == {"id", "version", "uri"} and response["template"]["id"] == TEMPLATE
    assert response["uri"].endswith(response["id"])
    (sent,) = control.notifications()
    assert sent["id"] == response["id"]
    assert (sent["email_address"], sent["template_id"], sent["personalisation"]) == (
        "someone@example.com", TEMPLATE, {"a": "1"})
    (request,) = control.requests()
    assert "authorization" not in request["headers"]


def _token(secret: str, claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part({'typ': 'JWT', 'alg': 'HS256'})}.{part(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    ("secret", "claims_change", "accepted"),
    [
        (None, {}, True),
        ("1f3b2a7c-1d4e-4f6a-8b0c-2e5d7a9c1b3f", {}, False),  # signed with another secret
        (None, {"iss": str(uuid.UUID(int=1))}, False),  # another service
        (None, {"iat": int(time.time()) - 120}, False),  # too old
        (None, {"iat": int(time.time()) + 120}, False),  # from the future
    ],
)
def test_notify_fake_verifies_the_jwt(notify_fake, notify, secret, claims_change, accepted):
    claims = {"iss": notify_fake.service_id, "iat": int(time.time())} | claims_change
    token = _token(secret or notify_fake.secret, claims)
    body = {"email_address": "someone@example.com", "template_id": TEMPLATE}
    response = httpx.post(f"{notify_fake.url}/v2/notifications/email", json=body,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == (201 if accepted else 403)
    if not accepted:
        assert response.json()["errors"][0]["error"] == "AuthError"


def test_notify_fake_rejects_a_missing_token_and_bad_bodies(notify, notify_fake):
    client, control = notify
    assert httpx.post(f"{notify_fake.url}/v2/notifications/email", json={}).status_code == 403
    with pytest.raises(HTTPError) as error:
        client.send_email_notification("someone@example.com", TEMPLATE, {"count": 7})  # not a string
    assert error.value.status_code == 400
    with pytest.raises(HTTPError) as error:
        client.send_email_notification("someone@example.com", "not-a-uuid")
    assert error.value.status_code == 400
    assert control.notifications() == []


def test_notify_fake_failure_modes(notify):
    client, control = notify
    control.fail(status=500)
    with pytest.raises(HTTPError) as error:
        client.send_email_notification("someone@example.com", TEMPLATE)
    assert error.value.status_code == 500
    client.send_email_notification("someone@example.com", TEMPLATE)
    assert [r["status"] for r in control.requests()] == [500, 201]
    assert len(control.notifications()) == 1


def test_local_stack_points_the_pipeline_at_the_fakes():
    """The environment LocalStack(backend=True, notify=True) gives; only the fakes are started here
    (PostgreSQL is not needed for this and takes seconds)."""
    from datetime import UTC, datetime

    from nrf_pipeline.backend import BackendClient
    from nrf_pipeline.devstack import LocalStack
    from nrf_pipeline.notify import Notifier, check_settings
    from nrf_pipeline.settings import Settings

    stack = LocalStack(sqs=False, backend=True, notify=True)
    assert "BACKEND_URL" not in stack.env()  # nothing started yet
    stack.backend.start()
    stack.notify.start()
    try:
        env = {k: v for k, v in stack.env().items() if k.startswith(("BACKEND_", "NOTIFY_"))}
        assert len(env) == 7
        settings = Settings(**env)
        check_settings(settings)
        stack.backend.control().put_quote(QUOTE)
        with BackendClient.from_settings(settings) as client:
            assert client.get_quote(REFERENCE, None) == QUOTE
        result = Notifier(settings).send_support_failure(
            REFERENCE, "0f6c2a8e-3b1d", "intake", "quote_not_found", "unknown quote", datetime.now(UTC))
        assert result.status == "sent"
        assert stack.notify.control().notifications()[0]["email_address"] == settings.NOTIFY_SUPPORT_EMAIL
    finally:
        stack.stop()
    assert not stack.backend.running and not stack.notify.running
