"""What every notifier promises, checked on each of them against real sockets."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from monitor.config import NotifyConfig
from monitor.notify import TRANSPORTS, Notifier, NotifyError, OutgoingMessage
from tests.fixtures.twilio import FakeTwilio
from tests.notify.conftest import ELDER_PHONE

CHANNELS = ["sms", "voice", "webhook", "log"]
HTTP_CHANNELS = ["sms", "voice", "webhook"]


def delivered_text(fake: FakeTwilio, channel: str) -> tuple[str, str]:
    """(address, text) of what the fake received for this channel."""
    if channel == "webhook":
        posted = [r for r in fake.requests if r.path == "/hook"][-1].json()
        return posted["address"], posted["body"]
    kind = "Messages" if channel == "sms" else "Calls"
    created = fake.resources(kind)[-1]
    text = created.field("Body") if channel == "sms" else created.field("Twiml")
    return created.field("To") or "", text or ""


def test_registry_holds_every_channel() -> None:
    assert set(TRANSPORTS) == set(CHANNELS)
    for name, transport in TRANSPORTS.items():
        assert transport.channel == name


@pytest.mark.parametrize("channel", CHANNELS)
async def test_sends_the_body_to_the_address(
    channel: str,
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifier = make_notifier(channel)
    message = make_message(channel=channel)
    assert not notifier.is_noop
    with caplog.at_level(logging.INFO, logger="monitor.notify"):
        result = await notifier.send(message)
    assert result.status in {"sent", "delivered"}
    if channel == "log":
        assert message.body in caplog.text
        assert "+86138****5678" in caplog.text
        assert ELDER_PHONE not in caplog.text
        return
    address, text = delivered_text(fake_twilio, channel)
    assert address == ELDER_PHONE
    assert message.body in text
    if channel in {"sms", "voice"}:
        assert result.provider_id and result.provider_id.startswith(
            "SM" if channel == "sms" else "CA"
        )


@pytest.mark.parametrize("channel", HTTP_CHANNELS)
async def test_server_error_is_transient(
    channel: str,
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    fake_twilio.fail_next(1, status=500)
    with pytest.raises(NotifyError) as caught:
        await make_notifier(channel).send(make_message(channel=channel))
    assert caught.value.permanent is False
    assert caught.value.code == "http_500"


@pytest.mark.parametrize("channel", HTTP_CHANNELS)
async def test_timeout_is_transient(
    channel: str,
    fake_twilio: FakeTwilio,
    notify_config: NotifyConfig,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    fake_twilio.delay_next(1.0)
    config = notify_config.model_copy(update={"timeout_s": 0.2})
    with pytest.raises(NotifyError) as caught:
        await make_notifier(channel, config).send(make_message(channel=channel))
    assert caught.value.permanent is False
    assert caught.value.code == "timeout"


@pytest.mark.parametrize("channel", HTTP_CHANNELS)
async def test_refused_connection_is_transient(
    channel: str,
    notify_config: NotifyConfig,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    from tests.fixtures.services import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    config = notify_config.model_copy(deep=True)
    config.twilio.api_base_url = dead
    config.webhook.url = f"{dead}/hook"
    with pytest.raises(NotifyError) as caught:
        await make_notifier(channel, config).send(make_message(channel=channel))
    assert caught.value.permanent is False
    assert caught.value.code == "connection"


@pytest.mark.parametrize("channel", ["sms", "voice", "webhook"])
async def test_unconfigured_channel_is_noop_and_fails_permanently(
    channel: str,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    notifier = make_notifier(channel, NotifyConfig.model_validate({}))
    assert notifier.is_noop
    with pytest.raises(NotifyError) as caught:
        await notifier.send(make_message(channel=channel))
    assert caught.value.permanent is True
    assert caught.value.code == "not_configured"
