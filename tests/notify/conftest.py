"""Notifier fixtures: a configuration pointed at the fake Twilio, messages, notifiers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from monitor.config import NotifyConfig
from monitor.notify import TRANSPORTS, Notifier, OutgoingMessage
from tests.fixtures.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

WEBHOOK_SECRET = "webhook-secret"
CALLBACK_BASE = "https://tanfang.example.org"
ELDER_PHONE = "+8613812345678"


@pytest.fixture
def notify_config(fake_twilio: FakeTwilio) -> NotifyConfig:
    """Every channel enabled; Twilio and the webhook both reach the fake server."""
    return NotifyConfig.model_validate({
        "channels": ["sms", "voice", "webhook", "log"],
        "timeout_s": 2.0,
        "twilio": {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "from_number": FROM_NUMBER,
            "api_base_url": fake_twilio.base_url,
        },
        "webhook": {"url": f"{fake_twilio.base_url}/hook", "secret": WEBHOOK_SECRET},
    })


@pytest.fixture
def make_message() -> Callable[..., OutgoingMessage]:
    """Factory of outgoing messages; keyword arguments override the defaults."""

    def make(**overrides: Any) -> OutgoingMessage:
        fields: dict[str, Any] = {
            "notification_id": 41,
            "alarm_id": 7,
            "channel": "sms",
            "address": ELDER_PHONE,
            "body": "【探访关爱】您的家人张*兰（东庄社区）12月3日14:05按下一键呼叫。",
            "recipient_name": "李明",
            "callback_base": CALLBACK_BASE,
        }
        fields.update(overrides)
        return OutgoingMessage(**fields)

    return make


@pytest.fixture
async def make_notifier(
    notify_config: NotifyConfig,
) -> AsyncIterator[Callable[..., Notifier]]:
    """Factory of notifiers by channel, closed after the test."""
    made: list[Notifier] = []

    def make(channel: str, config: NotifyConfig | None = None) -> Notifier:
        notifier = TRANSPORTS[channel](config or notify_config, None)
        made.append(notifier)
        return notifier

    yield make
    for notifier in made:
        await notifier.aclose()
