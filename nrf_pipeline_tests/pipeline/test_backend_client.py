"""BackendClient against the real stub server: the status handling of contracts.md §3.2."""

from __future__ import annotations

import json
import logging

import pytest

from nrf_pipeline.backend import BackendClient, BackendError
from nrf_pipeline.devstack.backend_stub import BackendStub
from nrf_pipeline.devstack.processes import free_port
from nrf_pipeline.settings import Settings
from nrf_pipeline_tests.pipeline.test_payload import CONTRACT_EXAMPLE

API_KEY = "test-backend-key"
REFERENCE = "NRL-123456"
QUOTE = {"reference": REFERENCE, "housingUnits": 1, "email": "applicant@example.com"}


@pytest.fixture(scope="module")
def backend():
    with BackendStub(api_key=API_KEY) as stub:
        yield stub


@pytest.fixture
def control(backend):
    control = backend.control()
    control.reset()
    control.put_quote(QUOTE)
    yield control
    control.close()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(backend, sleeps):
    settings = Settings(BACKEND_URL=backend.url + "/", BACKEND_API_KEY=API_KEY, BACKEND_TIMEOUT_SECONDS=0.5)
    with BackendClient.from_settings(settings, sleep=sleeps.append) as client:
        yield client


def test_get_and_patch_send_the_headers(client, control):
    assert client.get_quote(REFERENCE, "trace-1") == QUOTE
    assert client.patch_results(REFERENCE, CONTRACT_EXAMPLE, "trace-1") == 200
    get, patch = control.requests()
    assert (get["method"], get["path"], patch["method"]) == ("GET", f"/quotes/{REFERENCE}", "PATCH")
    for request in (get, patch):
        assert request["headers"]["x-cdp-request-id"] == "trace-1"
        assert request["headers"]["accept"] == "application/json"
    assert patch["headers"]["content-type"] == "application/json"
    assert patch["body"] == CONTRACT_EXAMPLE


def test_transient_failures_are_retried_with_backoff(client, control, sleeps):
    control.fail(status=503)
    control.fail(status=408)
    control.fail(status=429)
    assert client.patch_results(REFERENCE, CONTRACT_EXAMPLE, None) == 200
    assert sleeps == [1.0, 2.0, 4.0]
    assert [r["status"] for r in control.requests()] == [503, 408, 429, 200]


def test_retries_run_out(client, control, sleeps):
    control.fail(status=502, count=None)
    with pytest.raises(BackendError) as error:
        client.get_quote(REFERENCE, None)
    assert (error.value.code, error.value.status, error.value.transient) == ("backend_unavailable", 502, True)
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(control.requests()) == 4  # the first attempt and 3 retries


def test_a_slow_response_times_out_and_is_retried(client, control, sleeps):
    control.fail(delay=2.0)  # longer than the 0.5 s read timeout
    assert client.get_quote(REFERENCE, None) == QUOTE
    assert sleeps == [1.0]


def test_connection_refused_is_transient(sleeps):
    with BackendClient(f"http://127.0.0.1:{free_port()}", API_KEY, max_retries=2, sleep=sleeps.append) as client:
        with pytest.raises(BackendError) as error:
            client.get_quote(REFERENCE, None)
    assert (error.value.code, error.value.status) == ("backend_unavailable", None)
    assert sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "backend_rejected"),
        (422, "backend_rejected"),
        (404, "quote_not_found"),
        (401, "backend_auth_failed"),
        (403, "backend_auth_failed"),
        (302, "backend_unexpected_status"),  # redirects are not followed
        (409, "backend_unexpected_status"),
    ],
)
def test_permanent_statuses_are_not_retried(client, control, sleeps, status, code):
    control.fail(status=status, count=None)
    with pytest.raises(BackendError) as error:
        client.patch_results(REFERENCE, CONTRACT_EXAMPLE, None)
    assert (error.value.code, error.value.status, error.value.transient) == (code, status, False)
    assert sleeps == []
    assert len(control.requests()) == 1


def test_real_rejections_from_the_stub(client, control):
    with pytest.raises(BackendError) as error:
        client.get_quote("NRL-000000", None)
    assert error.value.code == "quote_not_found"
    with pytest.raises(BackendError) as error:
        client.patch_results(REFERENCE, CONTRACT_EXAMPLE | {"band": "high"}, None)
    assert error.value.code == "backend_rejected"


def test_a_wrong_key_is_a_configuration_error_logged_without_the_key(backend, control, sleeps, caplog):
    with BackendClient(backend.url, "wrong-key", sleep=sleeps.append) as client:
        with caplog.at_level(logging.INFO, logger="nrf_pipeline.backend"):
            with pytest.raises(BackendError) as error:
                client.patch_results(REFERENCE, CONTRACT_EXAMPLE, None)
    assert error.value.code == "backend_auth_failed" and sleeps == []
    (auth,) = [r for r in caplog.records if r.getMessage() == "backend_auth_failed"]
    assert auth.levelno == logging.ERROR and auth.config_error is True and auth.reference == REFERENCE
    logged = json.dumps([r.__dict__ for r in caplog.records], default=str)
    assert "wrong-key" not in logged and "River Wensum" not in logged and "applicant@" not in logged


def test_a_body_that_is_not_json(client, backend, control):
    control.put_quote({"reference": "NRL-000001"})
    # A 204 without a body stands in for a quote answer that is not JSON.
    control.fail(status=204, method="GET")
    with pytest.raises(BackendError) as error:
        client.get_quote("NRL-000001", None)
    assert error.value.code == "backend_unexpected_status"
