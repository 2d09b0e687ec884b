"""Inbound Twilio calls: signatures, SMS replies, key presses, status callbacks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from twilio.request_validator import RequestValidator

from monitor.notify.inbound import (
    InboundSms,
    StatusCallback,
    parse_key_press,
    parse_sms_reply,
    verify_twilio_signature,
)
from tests.fixtures.twilio import AUTH_TOKEN

URL = "https://tanfang.example.org/api/twilio/status/41"
PARAMS = {"MessageSid": "SM123", "MessageStatus": "delivered", "To": "+8613812345678"}


def test_correct_signature_is_accepted() -> None:
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, PARAMS)
    assert verify_twilio_signature(AUTH_TOKEN, URL, PARAMS, signature)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p, u, s: (p, u, "forged" + s[6:]),
        lambda p, u, s: ({**p, "MessageStatus": "failed"}, u, s),
        lambda p, u, s: (p, u.replace("/41", "/42"), s),
        lambda p, u, s: (p, u, None),
        lambda p, u, s: (p, u, ""),
    ],
)
def test_forged_or_altered_requests_are_rejected(tamper) -> None:  # type: ignore[no-untyped-def]
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, PARAMS)
    params, url, sig = tamper(PARAMS, URL, signature)
    assert not verify_twilio_signature(AUTH_TOKEN, url, params, sig)


def test_signature_of_another_token_is_rejected() -> None:
    signature = RequestValidator("someone-else").compute_signature(URL, PARAMS)
    assert not verify_twilio_signature(AUTH_TOKEN, URL, PARAMS, signature)


@pytest.mark.parametrize(
    "body", ["1", "１", " 1 ", "1。", "1!", "收到", "收到！", " 确认 ", "【确认】", "已处理", "1\n"]
)
def test_acknowledging_replies(body: str) -> None:
    assert parse_sms_reply(body) == "ack"


@pytest.mark.parametrize("body", ["", "2", "11", "不", "没收到", "1 2", "请问怎么回事", "0"])
def test_other_replies_are_not_acks(body: str) -> None:
    assert parse_sms_reply(body) is None


def test_inbound_sms_model() -> None:
    sms = InboundSms.model_validate(
        {"MessageSid": "SM9", "From": "+8613812345678", "To": "+8655100000000", "Body": "１"}
    )
    assert sms.reply == "ack" and sms.from_ == "+8613812345678"


def test_key_press() -> None:
    assert parse_key_press("1") == "ack"
    assert parse_key_press("2") is None
    assert parse_key_press(None) is None


@pytest.mark.parametrize(
    ("form", "state"),
    [
        ({"MessageSid": "SM1", "MessageStatus": "queued"}, "sent"),
        ({"MessageSid": "SM1", "MessageStatus": "sent"}, "sent"),
        ({"MessageSid": "SM1", "MessageStatus": "delivered"}, "delivered"),
        ({"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30006"}, "failed"),
        ({"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": ""}, "failed"),
        ({"CallSid": "CA1", "CallStatus": "ringing"}, "sent"),
        ({"CallSid": "CA1", "CallStatus": "completed"}, "delivered"),
        ({"CallSid": "CA1", "CallStatus": "no-answer"}, "failed"),
        ({"CallSid": "CA1", "CallStatus": "busy"}, "failed"),
        ({"CallSid": "CA1", "CallStatus": "something-new"}, None),
    ],
)
def test_status_callback_maps_to_our_states(form: dict[str, str], state: str | None) -> None:
    callback = StatusCallback.model_validate({**form, "AccountSid": "AC1", "Extra": "x"})
    assert callback.state == state
    assert callback.provider_id in {"SM1", "CA1"}


def test_failed_delivery_to_a_landline_is_a_permanent_error() -> None:
    callback = StatusCallback.model_validate(
        {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30006"}
    )
    error = callback.error()
    assert error is not None and error.permanent and error.code == "30006"


def test_unanswered_call_is_worth_another_try() -> None:
    callback = StatusCallback.model_validate({"CallSid": "CA1", "CallStatus": "no-answer"})
    error = callback.error()
    assert error is not None and not error.permanent and error.code == "no-answer"
    delivered = StatusCallback.model_validate({"CallSid": "CA1", "CallStatus": "completed"})
    assert delivered.error() is None


def test_status_callback_needs_a_sid() -> None:
    with pytest.raises(ValidationError):
        StatusCallback.model_validate({"MessageStatus": "sent"})
