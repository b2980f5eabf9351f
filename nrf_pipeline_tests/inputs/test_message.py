"""SQS message parsing (contracts.md §1)."""

import json

import pytest

from nrf_pipeline.message import MAX_BODY_BYTES, InvalidMessage, TriggerMessage, parse_message


def sns(message: object, **envelope) -> str:
    return json.dumps({"Type": "Notification", "MessageId": "m-1", "Message": message, **envelope})


def reason(body) -> str:
    with pytest.raises(InvalidMessage) as caught:
        parse_message(body)
    return caught.value.reason_code


def test_raw_message_with_trace_id():
    body = json.dumps({"reference": "NRL-123456", "traceId": "6c1f0d5e9a7b4c2e", "housingUnits": 5})
    assert parse_message(body) == TriggerMessage("NRL-123456", "6c1f0d5e9a7b4c2e", False)


def test_bytes_body_and_nrf_prefix():
    assert parse_message(b'{"reference": "NRF-000001"}') == TriggerMessage("NRF-000001", None, False)


def test_sns_envelope_is_unwrapped_once():
    inner = json.dumps({"reference": "NRF-654321", "traceId": "abc"})
    assert parse_message(sns(inner, TopicArn="arn:x")) == TriggerMessage("NRF-654321", "abc", False)


def test_inner_type_member_is_ignored_after_one_unwrap():
    inner = json.dumps({"Type": "Notification", "reference": "NRL-111111"})
    assert parse_message(sns(inner)).reference == "NRL-111111"


def test_size_limit_counts_utf8_bytes():
    padding = "x" * (MAX_BODY_BYTES - len('{"reference": "NRL-123456", "p": ""}'))
    at_limit = '{"reference": "NRL-123456", "p": "' + padding + '"}'
    assert len(at_limit.encode()) == MAX_BODY_BYTES
    assert parse_message(at_limit).reference == "NRL-123456"
    assert reason(at_limit + " ") == "body_too_large"
    # 131,073 characters but 262,146 bytes: the limit is on bytes.
    assert reason("é" * 131_073) == "body_too_large"


@pytest.mark.parametrize(
    "body, code",
    [
        (b'{"reference": "NRL-123456", "x": "\xff"}', "not_utf8"),
        ('{"reference": "NRL-123456", "x": "\ud800"}', "not_utf8"),
        ("not json", "not_json"),
        ("", "not_json"),
        ("[" * 100_000 + "]" * 100_000, "not_json"),
        ('["NRL-123456"]', "not_an_object"),
        ('"NRL-123456"', "not_an_object"),
        ("null", "not_an_object"),
        (json.dumps({"Type": "SubscriptionConfirmation", "Message": "{}"}), "bad_sns_envelope"),
        (json.dumps({"Type": "Notification"}), "bad_sns_envelope"),
        (json.dumps({"Type": "Notification", "Message": {"reference": "NRL-123456"}}), "bad_sns_envelope"),
        (sns("not json"), "not_json"),
        (sns("[1, 2]"), "not_an_object"),
        ("{}", "missing_reference"),
        ('{"reference": 123456}', "missing_reference"),
        ('{"reference": null}', "missing_reference"),
        (sns("{}"), "missing_reference"),
        ('{"reference": "NRX-123456"}', "invalid_reference"),
        ('{"reference": "NRL-12345"}', "invalid_reference"),
        ('{"reference": "NRL-1234567"}', "invalid_reference"),
        ('{"reference": "nrl-123456"}', "invalid_reference"),
        ('{"reference": "NRL-123456\\n"}', "invalid_reference"),
        ('{"reference": " NRL-123456"}', "invalid_reference"),
        # Arabic-Indic digits are \\d in Python but not in the contract.
        ('{"reference": "NRL-\u0661\u0662\u0663\u0664\u0665\u0666"}', "invalid_reference"),
        (sns('{"reference": "NRL-1"}'), "invalid_reference"),
    ],
)
def test_invalid_messages(body, code):
    assert reason(body) == code


def test_invalid_message_text_never_contains_the_body():
    with pytest.raises(InvalidMessage) as caught:
        parse_message('{"reference": "secret@example.com"}')
    assert str(caught.value) == "invalid_reference"


@pytest.mark.parametrize("trace_id", ["a", "x" * 128, " !~", "abc DEF-123_:/"])
def test_valid_trace_ids(trace_id):
    message = parse_message(json.dumps({"reference": "NRL-123456", "traceId": trace_id}))
    assert (message.trace_id, message.trace_id_ignored) == (trace_id, False)


@pytest.mark.parametrize("trace_id", ["", "x" * 129, "tab\there", "caf\u00e9", "line\n", 42, ["a"], True])
def test_bad_trace_id_is_ignored_with_a_warning_flag(trace_id):
    message = parse_message(json.dumps({"reference": "NRL-123456", "traceId": trace_id}))
    assert message == TriggerMessage("NRL-123456", None, True)


def test_absent_or_null_trace_id_is_not_a_warning():
    assert parse_message('{"reference": "NRL-123456"}').trace_id_ignored is False
    assert parse_message('{"reference": "NRL-123456", "traceId": null}') == TriggerMessage("NRL-123456", None, False)
