"""Notify e-mails (contracts.md §4) against the real fake server, which verifies the JWT."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from nrf_pipeline.devstack.notify_fake import NotifyFake
from nrf_pipeline.devstack.processes import free_port
from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.notify import Notifier, check_settings
from nrf_pipeline.payload import build_payload
from nrf_pipeline.quote import parse_quote
from nrf_pipeline.settings import Settings
from nrf_pipeline_tests.pipeline.results import (
    GCN_VERSION,
    NUTRIENT_VERSION,
    RELEASE,
    assess,
    bnw_small,
    gcn_entry,
    run_info,
)

REFERENCE = "NRL-123456"
APPLICANT = "applicant@example.com"
SUPPORT = "support@example.gov.uk"
RESULT_TEMPLATE = "0b6f3c52-5a1d-4e2b-9a63-7c0d8e1f2a31"
FAILURE_TEMPLATE = "6e2d9b14-3c7a-4f85-b0e6-1a9d4c7b5e82"
RUN_ID = "0f6c2a8e-3b1d-4a5e-9c7f-2d4b6a8c0e1f"


def quote(**fields):
    ring = [[592500.0, 294500.0], [592510.0, 294500.0], [592510.0, 294525.9392], [592500.0, 294500.0]]
    body = {"reference": REFERENCE, "boundaryGeojson": {"boundaryGeometryOriginal": {"type": "Polygon",
            "coordinates": [ring]}}, "housingUnits": 1, "email": APPLICANT} | fields
    return parse_quote(REFERENCE, {k: v for k, v in body.items() if v is not None})


def payload(nutrient, gcn):
    return build_payload(nutrient, gcn, NUTRIENT_VERSION, GCN_VERSION, RELEASE, run_info())


@pytest.fixture(scope="module")
def fake():
    with NotifyFake() as server:
        yield server


@pytest.fixture
def control(fake):
    control = fake.control()
    control.reset()
    yield control
    control.close()


@pytest.fixture
def sleeps():
    return []


def notifier(fake, sleeps, **settings) -> Notifier:
    values = {
        "NOTIFY_API_KEY": fake.api_key, "NOTIFY_BASE_URL": fake.url, "NOTIFY_APPLICANT_ENABLED": True,
        "NOTIFY_TEMPLATE_ID_RESULT": RESULT_TEMPLATE, "NOTIFY_TEMPLATE_ID_FAILURE": FAILURE_TEMPLATE,
        "NOTIFY_SUPPORT_EMAIL": SUPPORT, "NRF_SERVICE_URL": "https://nrf.example.gov.uk", "ENVIRONMENT": "test",
    } | settings
    return Notifier(Settings(**values), sleep=sleeps.append, timeout=0.5)


def test_applicant_e_mail_personalisation(fake, control, sleeps):
    result = notifier(fake, sleeps).send_applicant_result(
        quote(), payload(bnw_small(), [gcn_entry("AreaA", 7), gcn_entry(None, 3)]), already_sent=False)
    assert result.status == "sent"
    (sent,) = control.notifications()
    assert result.notification_id == sent["id"]
    assert (sent["email_address"], sent["template_id"], sent["reference"]) == (APPLICANT, RESULT_TEMPLATE, REFERENCE)
    assert sent["personalisation"] == {
        "nrfQuoteReference": REFERENCE,
        "edpNames": "River Wensum SAC, AreaA, Wastewater only",
        "housingUnits": "1",
        "developmentDescription": "Housing with a total of 1 residential unit",
        "wasteWaterTreatmentWorks": "Sculthorpe",
        "nitrogenTotal": "3.07 kg/yr",
        "phosphorusTotal": "0.11 kg/yr",
        "gcnPondCount": "10",
        "assessmentDate": "30 November 2026",
        "nrfServiceUrl": "https://nrf.example.gov.uk",
    }


def test_applicant_e_mail_without_nutrient_or_gcn_entries(fake, control, sleeps):
    mixed = quote(housingUnits=5, peopleCount=40, developmentTypes=["housing", "other-residential"])
    notifier(fake, sleeps).send_applicant_result(mixed, payload(None, [gcn_entry("AreaA")]), already_sent=False)
    wastewater_only = payload(assess([]), None)
    notifier(fake, sleeps).send_applicant_result(quote(), wastewater_only, already_sent=False)
    gcn_only, nutrient_only = (n["personalisation"] for n in control.notifications())
    assert gcn_only["developmentDescription"] == (
        "Housing with a total of 5 residential units and Other residential development for 40 people")
    assert (gcn_only["nitrogenTotal"], gcn_only["phosphorusTotal"], gcn_only["gcnPondCount"]) == (
        "Not assessed", "Not assessed", "7")
    assert gcn_only["wasteWaterTreatmentWorks"] == "Not yet confirmed"
    assert (nutrient_only["edpNames"], nutrient_only["gcnPondCount"]) == ("Wastewater only", "Not assessed")


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("disabled", "disabled"),
        ("no e-mail address", "not_applicable"),
        ("out of scope", "not_applicable"),
        ("already sent", "not_applicable"),
    ],
)
def test_applicant_e_mail_conditions(fake, control, sleeps, case, status):
    settings = {"NOTIFY_APPLICANT_ENABLED": case != "disabled"}
    body = payload(None, None) if case == "out of scope" else payload(bnw_small(), None)
    the_quote = quote(email=None) if case == "no e-mail address" else quote()
    result = notifier(fake, sleeps, **settings).send_applicant_result(the_quote, body, already_sent=case == "already sent")
    assert (result.status, result.notification_id) == (status, None)
    assert control.requests() == []


def test_support_failure_e_mail(fake, control, sleeps):
    failed_at = datetime(2026, 11, 30, 12, 34, 56, tzinfo=UTC)
    result = notifier(fake, sleeps).send_support_failure(
        REFERENCE, RUN_ID, "nutrient", "reference_data_empty", "x" * 600, failed_at)
    assert result.status == "sent"
    (sent,) = control.notifications()
    assert (sent["email_address"], sent["template_id"]) == (SUPPORT, FAILURE_TEMPLATE)
    assert sent["reference"] == "NRL-123456-failure-0f6c2a8e"
    personalisation = sent["personalisation"]
    assert len(personalisation.pop("error_message")) == 500
    assert personalisation == {
        "nrfQuoteReference": REFERENCE, "runId": RUN_ID, "assessment_type": "nutrient",
        "environment": "test", "failedAt": "2026-11-30T12:34:56Z",
    }


def test_support_e_mail_disabled(fake, control, sleeps):
    result = notifier(fake, sleeps, NOTIFY_SUPPORT_ENABLED=False).send_support_failure(
        REFERENCE, RUN_ID, "intake", "quote_not_found", "unknown quote", datetime.now(UTC))
    assert result.status == "disabled" and control.requests() == []


def test_server_errors_are_retried_with_backoff(fake, control, sleeps):
    control.fail(status=500, count=2)
    result = notifier(fake, sleeps).send_applicant_result(quote(), payload(bnw_small(), None), already_sent=False)
    assert result.status == "sent" and sleeps == [1.0, 2.0]
    assert [r["status"] for r in control.requests()] == [500, 500, 201]


def test_retries_run_out_and_nothing_is_raised(fake, control, sleeps, caplog):
    control.fail(status=503, count=None)
    with caplog.at_level(logging.INFO, logger="nrf_pipeline.notify"):
        result = notifier(fake, sleeps).send_applicant_result(quote(), payload(bnw_small(), None), already_sent=False)
    assert (result.status, result.notification_id) == ("failed", None)
    assert sleeps == [1.0, 2.0, 4.0] and len(control.requests()) == 4
    assert APPLICANT not in json.dumps([r.__dict__ for r in caplog.records], default=str)


def test_a_slow_response_times_out_and_is_retried(fake, control, sleeps):
    control.fail(delay=2.0)  # longer than the 0.5 s timeout
    result = notifier(fake, sleeps).send_support_failure(
        REFERENCE, RUN_ID, "gcn", "assessment_error", "internal error", datetime.now(UTC))
    assert result.status == "sent" and sleeps == [1.0]


@pytest.mark.parametrize("status", [400, 403])
def test_client_errors_are_not_retried(fake, control, sleeps, caplog, status):
    control.fail(status=status)
    with caplog.at_level(logging.ERROR, logger="nrf_pipeline.notify"):
        result = notifier(fake, sleeps).send_applicant_result(quote(), payload(bnw_small(), None), already_sent=False)
    assert result.status == "failed" and sleeps == [] and len(control.requests()) == 1
    assert any(r.getMessage() == "email_send_failed" and r.status == status for r in caplog.records)


def test_a_wrong_key_fails_the_jwt_check_without_retry(fake, control, sleeps, caplog):
    wrong = fake.api_key[:-36] + "00000000-0000-4000-8000-000000000000"
    with caplog.at_level(logging.ERROR, logger="nrf_pipeline.notify"):
        result = notifier(fake, sleeps, NOTIFY_API_KEY=wrong).send_support_failure(
            REFERENCE, RUN_ID, "intake", "quote_not_found", "unknown quote", datetime.now(UTC))
    assert result.status == "failed" and sleeps == []
    (failure,) = [r for r in caplog.records if r.getMessage() == "email_send_failed"]
    assert failure.notify_errors == ["AuthError"]
    assert [r["status"] for r in control.requests()] == [403]


def test_connection_refused_is_retried_and_reported_as_failed(fake, sleeps):
    result = notifier(fake, sleeps, NOTIFY_BASE_URL=f"http://127.0.0.1:{free_port()}").send_support_failure(
        REFERENCE, RUN_ID, "intake", "quote_not_found", "unknown quote", datetime.now(UTC))
    assert result.status == "failed" and sleeps == [1.0, 2.0, 4.0]


def test_check_settings():
    check_settings(Settings(NOTIFY_SUPPORT_ENABLED=False))
    with pytest.raises(AssessmentError) as error:
        check_settings(Settings(NOTIFY_APPLICANT_ENABLED=True, NOTIFY_SUPPORT_ENABLED=True,
                                NOTIFY_TEMPLATE_ID_FAILURE=FAILURE_TEMPLATE))
    assert error.value.code == "config_invalid"
    assert "NOTIFY_API_KEY, NOTIFY_SUPPORT_EMAIL, NOTIFY_TEMPLATE_ID_RESULT" in error.value.summary
