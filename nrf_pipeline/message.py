"""The SQS trigger message (contracts.md §1): raw or wrapped once in an SNS envelope."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MAX_BODY_BYTES = 262_144
# [0-9], not \d: \d also matches non-ASCII digits.
_REFERENCE = re.compile(r"(?:NRF|NRL)-[0-9]{6}")
_TRACE_ID = re.compile(r"[\x20-\x7e]{1,128}")


class InvalidMessage(Exception):
    """A message that starts no run; `reason_code` is one of contracts.md §1.3 (never a run error code).

    The text is the reason code only: never the body, which may contain personal data.
    """

    def __init__(self, reason_code: str):
        super().__init__(reason_code)
        self.reason_code = reason_code


@dataclass(frozen=True)
class TriggerMessage:
    reference: str
    trace_id: str | None
    # True when a traceId was present but broke the rule; the sensor logs a warning.
    trace_id_ignored: bool = False


def parse_message(body: bytes | str) -> TriggerMessage:
    """Validate an SQS body; raises `InvalidMessage` with the reason code."""
    # A str body is measured as its UTF-8 bytes; surrogatepass lets a lone surrogate be measured
    # and then fail the strict decode as not_utf8.
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidMessage("body_too_large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMessage("not_utf8") from None
    message = _json_object(text)
    if "Type" in message:
        if message["Type"] != "Notification" or not isinstance(message.get("Message"), str):
            raise InvalidMessage("bad_sns_envelope")
        message = _json_object(message["Message"])

    reference = message.get("reference")
    if not isinstance(reference, str):
        raise InvalidMessage("missing_reference")
    if not _REFERENCE.fullmatch(reference):
        raise InvalidMessage("invalid_reference")

    trace_id = message.get("traceId")
    if trace_id is not None and not (isinstance(trace_id, str) and _TRACE_ID.fullmatch(trace_id)):
        return TriggerMessage(reference, None, trace_id_ignored=True)
    return TriggerMessage(reference, trace_id)


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nesting too deep for the parser
        raise InvalidMessage("not_json") from None
    if not isinstance(value, dict):
        raise InvalidMessage("not_an_object")
    return value
