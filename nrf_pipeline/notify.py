"""E-mails through GOV.UK Notify (contracts.md §4): the applicant result and the support failure.

A send never raises into the caller: the assessment outcome does not depend on an e-mail (§4.4).
Each send returns an `EmailResult` whose `status` is what `assessment.applicant_email_status` or
`support_email_status` records. E-mail addresses are never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient

from nrf_pipeline.errors import AssessmentError
from nrf_pipeline.payload import ASSESSED
from nrf_pipeline.quote import HOUSING, OTHER_RESIDENTIAL, QuoteInput
from nrf_pipeline.retry import Transient, with_retries
from nrf_pipeline.settings import Settings

log = logging.getLogger(__name__)

SENT, FAILED, DISABLED, NOT_APPLICABLE = "sent", "failed", "disabled", "not_applicable"
MAX_ERROR_MESSAGE = 500
NOT_ASSESSED = "Not assessed"
MAX_RETRIES = 3  # as for the backend: 1 s, 2 s, 4 s (§4.4)
# English month names whatever the process locale is.
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")


@dataclass(frozen=True)
class EmailResult:
    status: str
    notification_id: str | None = None


def check_settings(settings: Settings) -> None:
    """Start-up check: an enabled e-mail without its settings is a configuration error (§4.1)."""
    required = []
    if settings.NOTIFY_APPLICANT_ENABLED:
        required += ["NOTIFY_API_KEY", "NOTIFY_TEMPLATE_ID_RESULT"]
    if settings.NOTIFY_SUPPORT_ENABLED:
        required += ["NOTIFY_API_KEY", "NOTIFY_TEMPLATE_ID_FAILURE", "NOTIFY_SUPPORT_EMAIL"]
    missing = sorted({name for name in required if not getattr(settings, name)})
    if missing:
        raise AssessmentError("config_invalid", f"missing settings for the enabled e-mails: {', '.join(missing)}")


class Notifier:
    def __init__(self, settings: Settings, sleep: Callable[[float], None] = time.sleep, timeout: float = 30.0,
                 max_retries: int = MAX_RETRIES):
        self.settings = settings
        self._sleep = sleep
        self._timeout = timeout
        self._max_retries = max_retries

    def send_applicant_result(self, quote: QuoteInput, payload: dict[str, Any], already_sent: bool) -> EmailResult:
        """The result e-mail of §4.2. Call it only after the PATCH succeeded; `already_sent` says
        whether an applicant e-mail went out for this reference and the same `edps_sha256`."""
        s = self.settings
        if not s.NOTIFY_APPLICANT_ENABLED:
            return EmailResult(DISABLED)
        if not quote.email or payload["outcome"] != ASSESSED or not payload["edps"] or already_sent:
            return EmailResult(NOT_APPLICABLE)
        personalisation = applicant_personalisation(quote, payload, s.NRF_SERVICE_URL)
        return self._send("applicant", quote.email, s.NOTIFY_TEMPLATE_ID_RESULT, personalisation, quote.reference)

    def send_support_failure(
        self, reference: str, run_id: str, assessment_type: str, error_code: str, summary: str,
        failed_at: datetime,
    ) -> EmailResult:
        """The failure e-mail of §4.3. `assessment_type` is the part that failed (`intake`,
        `nutrient`, `gcn` or `nutrient+gcn`); `summary` must be fixed text without personal data."""
        s = self.settings
        if not s.NOTIFY_SUPPORT_ENABLED:
            return EmailResult(DISABLED)
        personalisation = {
            "nrfQuoteReference": reference,
            "runId": run_id,
            "assessment_type": assessment_type,
            "error_message": f"{error_code}: {summary}"[:MAX_ERROR_MESSAGE],
            "environment": s.ENVIRONMENT,
            "failedAt": failed_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        notify_reference = f"{reference}-failure-{run_id[:8]}"
        return self._send("support", s.NOTIFY_SUPPORT_EMAIL, s.NOTIFY_TEMPLATE_ID_FAILURE, personalisation,
                          notify_reference)

    def _send(self, kind: str, address: str | None, template_id: str | None, personalisation: dict[str, str],
              reference: str) -> EmailResult:
        context = {"email_kind": kind, "notify_reference": reference}
        if not (address and template_id and self.settings.NOTIFY_API_KEY):
            log.error("email_not_configured", extra=context)
            return EmailResult(FAILED)

        def attempt(number: int) -> dict[str, Any] | None:
            try:
                return client.send_email_notification(address, template_id, personalisation, reference)
            except APIError as error:
                # The client reports connection errors and timeouts as status 503.
                details = context | {"attempt": number, "status": error.status_code,
                                     "notify_errors": _error_codes(error)}
                if error.status_code >= 500:
                    log.warning("email_send_failed", extra=details)
                    raise Transient(f"HTTP {error.status_code}") from None
                log.error("email_send_failed", extra=details)  # 4xx: retrying cannot help
                return None

        try:
            client = NotificationsAPIClient(self.settings.NOTIFY_API_KEY, base_url=self.settings.NOTIFY_BASE_URL,
                                            timeout=self._timeout)
            response = with_retries(attempt, self._max_retries, self._sleep)
        except Transient:
            log.error("email_send_gave_up", extra=context)
            return EmailResult(FAILED)
        except Exception as error:  # noqa: BLE001 - an e-mail must never fail the caller (§4.4)
            log.error("email_send_error", extra=context | {"error_type": type(error).__name__})
            return EmailResult(FAILED)
        if response is None:
            return EmailResult(FAILED)
        notification_id = response.get("id")
        log.info("email_sent", extra=context | {"notification_id": notification_id})
        return EmailResult(SENT, notification_id)


def _error_codes(error: APIError) -> list[str]:
    """Notify's error codes (e.g. `BadRequestError`), never its messages, which may quote input."""
    message = error.message
    if isinstance(message, list):
        return [str(item.get("error")) for item in message if isinstance(item, dict)]
    return []


def applicant_personalisation(quote: QuoteInput, payload: dict[str, Any], service_url: str | None) -> dict[str, str]:
    """The personalisation of §4.2; every value a string."""
    edps = payload["edps"]
    nutrient = [e for e in edps if e["edpType"] == "NUTRIENT"]
    gcn = [e for e in edps if e["edpType"] == "GCN"]
    names = dict.fromkeys(e["edpName"] if e["edpName"] is not None else "Wastewater only" for e in edps)
    works = (nutrient[0]["wastewater"]["wwtwName"] or "").strip() if nutrient else ""
    assessed_at = datetime.strptime(payload["provenance"]["assessedAt"], "%Y-%m-%dT%H:%M:%SZ")

    def total(field: str) -> str:
        # Every nutrient entry carries the site total (basis SITE_TOTAL): show it once.
        return f"{nutrient[0]['impact'][field]['amount']:.2f} kg/yr" if nutrient else NOT_ASSESSED

    return {
        "nrfQuoteReference": quote.reference,
        "edpNames": ", ".join(names),
        "housingUnits": str(quote.dwellings),
        "developmentDescription": development_description(quote),
        "wasteWaterTreatmentWorks": works or "Not yet confirmed",
        "nitrogenTotal": total("nitrogenTotal"),
        "phosphorusTotal": total("phosphorusTotal"),
        "gcnPondCount": str(sum(e["impact"]["ponds"]["total"] for e in gcn)) if gcn else NOT_ASSESSED,
        "assessmentDate": f"{assessed_at.day} {MONTHS[assessed_at.month - 1]} {assessed_at.year}",
        "nrfServiceUrl": service_url or "",
    }


def development_description(quote: QuoteInput) -> str:
    parts = []
    if HOUSING in quote.development_types:
        units = "unit" if quote.dwellings == 1 else "units"
        parts.append(f"Housing with a total of {quote.dwellings} residential {units}")
    if OTHER_RESIDENTIAL in quote.development_types:
        if quote.people:
            people = "person" if quote.people == 1 else "people"
            parts.append(f"Other residential development for {quote.people} {people}")
        else:  # housing and other-residential without a people count
            parts.append("Other residential development")
    return " and ".join(parts)
