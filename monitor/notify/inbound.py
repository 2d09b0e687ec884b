"""Calls Twilio makes to us: signature check, SMS replies, key presses, status callbacks.

Framework-free: the HTTP layer passes the public URL Twilio called, the form fields and
the X-Twilio-Signature header, and gets plain values back.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from twilio.request_validator import RequestValidator

from monitor.notify.base import NotifyError
from monitor.notify.twilio_base import PERMANENT_CODES

DeliveryState = Literal["sent", "delivered", "failed"]

# What counts as "I have it" in a reply, after full-width forms and punctuation are gone.
ACK_REPLIES = frozenset(
    {"1", "收到", "已收到", "收到了", "确认", "已确认", "确认收到", "已处理", "平安"}
)

MESSAGE_STATES: dict[str, DeliveryState] = {
    "accepted": "sent",
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "failed",
    "failed": "failed",
    "canceled": "failed",
}
CALL_STATES: dict[str, DeliveryState] = {
    "queued": "sent",
    "initiated": "sent",
    "ringing": "sent",
    "in-progress": "sent",
    "completed": "delivered",
    "busy": "failed",
    "no-answer": "failed",
    "failed": "failed",
    "canceled": "failed",
}
# Delivery error codes that mean the number cannot take SMS: 30006 is a landline or an
# unreachable carrier, so the escalation should call instead.
PERMANENT_DELIVERY_CODES = frozenset(PERMANENT_CODES) | {30004, 30005, 30006}


def verify_twilio_signature(
    auth_token: str, url: str, params: dict[str, str], signature: str | None
) -> bool:
    """Whether X-Twilio-Signature is Twilio's HMAC of this URL and these form fields."""
    if not auth_token or not signature:
        return False
    return bool(RequestValidator(auth_token).validate(url, params, signature))


def _normalize(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    kept = "".join(ch for ch in folded if not ch.isspace())
    start, end = 0, len(kept)
    while start < end and unicodedata.category(kept[start])[0] in "PS":
        start += 1
    while end > start and unicodedata.category(kept[end - 1])[0] in "PS":
        end -= 1
    return kept[start:end]


def parse_sms_reply(body: str) -> Literal["ack"] | None:
    """"1", "１", "收到", "确认" (spaces and punctuation around allowed) -> "ack"."""
    return "ack" if _normalize(body or "") in ACK_REPLIES else None


def parse_key_press(digits: str | None) -> Literal["ack"] | None:
    """The Digits of the voice <Gather>: 1 acknowledges."""
    return "ack" if (digits or "").strip() == "1" else None


class TwilioForm(BaseModel):
    """Common ground of Twilio's form posts: keep what we use, ignore the rest."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    account_sid: str | None = Field(None, alias="AccountSid")
    from_: str | None = Field(None, alias="From")
    to: str | None = Field(None, alias="To")


class InboundSms(TwilioForm):
    """An SMS sent to our number (a reply to a notification)."""

    message_sid: str = Field(alias="MessageSid")
    body: str = Field("", alias="Body")

    @property
    def reply(self) -> Literal["ack"] | None:
        """"ack" when the text acknowledges, else None."""
        return parse_sms_reply(self.body)


class StatusCallback(TwilioForm):
    """Twilio's status callback for a message or a call, mapped to our delivery states."""

    message_sid: str | None = Field(None, alias="MessageSid")
    message_status: str | None = Field(None, alias="MessageStatus")
    call_sid: str | None = Field(None, alias="CallSid")
    call_status: str | None = Field(None, alias="CallStatus")
    error_code: int | None = Field(None, alias="ErrorCode")
    error_message: str | None = Field(None, alias="ErrorMessage")

    @field_validator("error_code", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _has_a_sid(self) -> StatusCallback:
        if not (self.message_sid or self.call_sid):
            raise ValueError("neither MessageSid nor CallSid")
        return self

    @property
    def provider_id(self) -> str:
        """The SID we stored as the notification's provider_id."""
        return self.message_sid or self.call_sid or ""

    @property
    def provider_status(self) -> str:
        """Twilio's own word for the state (queued, delivered, no-answer...)."""
        if self.message_sid:
            return (self.message_status or "").lower()
        return (self.call_status or "").lower()

    @property
    def state(self) -> DeliveryState | None:
        """sent, delivered or failed; None for a status we do not know."""
        table = MESSAGE_STATES if self.message_sid else CALL_STATES
        return table.get(self.provider_status)

    def error(self) -> NotifyError | None:
        """For a failed delivery, the error the outbox would have got from the send."""
        if self.state != "failed":
            return None
        code = self.error_code
        permanent = code in PERMANENT_DELIVERY_CODES
        label = str(code) if code is not None else self.provider_status
        reason = self.error_message or self.provider_status
        return NotifyError(f"{self.provider_id}: {reason}", permanent=permanent, code=label)
