"""Twilio SMS and voice against the fake API: errors, callbacks, credentials, base URL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from monitor.config import NotifyConfig
from monitor.notify import Notifier, NotifyError, OutgoingMessage
from monitor.notify.twilio_base import rebase_url
from tests.fixtures.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio
from tests.notify.conftest import CALLBACK_BASE


@pytest.mark.parametrize("channel", ["sms", "voice"])
@pytest.mark.parametrize("code", [21211, 21408, 21610, 21614])
async def test_address_errors_are_permanent_with_their_code(
    channel: str,
    code: int,
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    fake_twilio.twilio_error_next(code)
    with pytest.raises(NotifyError) as caught:
        await make_notifier(channel).send(make_message(channel=channel))
    assert caught.value.permanent is True
    assert caught.value.code == str(code)


async def test_landline_on_sms_is_permanent_so_the_lead_can_call(
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    fake_twilio.twilio_error_next(21614)
    with pytest.raises(NotifyError) as caught:
        await make_notifier("sms").send(make_message(address="+865512345678"))
    assert (caught.value.permanent, caught.value.code) == (True, "21614")
    # The same number by voice goes through.
    result = await make_notifier("voice").send(make_message(channel="voice"))
    assert result.provider_id


@pytest.mark.parametrize(("status", "code"), [(429, 20429), (503, 20503), (400, 21212)])
async def test_other_errors_are_transient(
    status: int,
    code: int,
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    fake_twilio.twilio_error_next(code, status=status)
    with pytest.raises(NotifyError) as caught:
        await make_notifier("sms").send(make_message())
    assert caught.value.permanent is False
    assert caught.value.code == str(code)


async def test_transient_failure_then_success(
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    notifier = make_notifier("sms")
    fake_twilio.fail_next(1, status=502)
    with pytest.raises(NotifyError):
        await notifier.send(make_message())
    assert (await notifier.send(make_message())).provider_id


async def test_sms_request_carries_credentials_sender_and_status_callback(
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    await make_notifier("sms").send(make_message(notification_id=99))
    created = fake_twilio.resources("Messages")[-1]
    assert created.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert created.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert created.field("From") == FROM_NUMBER
    assert created.field("StatusCallback") == f"{CALLBACK_BASE}/api/twilio/status/99"


async def test_voice_call_carries_twiml_with_gather_and_status_callback(
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    await make_notifier("voice").send(make_message(channel="voice", notification_id=12))
    created = fake_twilio.resources("Calls")[-1]
    twiml = created.field("Twiml") or ""
    assert f'action="{CALLBACK_BASE}/api/twilio/voice/12"' in twiml
    assert 'language="cmn-CN"' in twiml
    assert created.field("StatusCallback") == f"{CALLBACK_BASE}/api/twilio/status/12"


async def test_without_public_url_no_callback_is_asked(
    fake_twilio: FakeTwilio,
    make_notifier: Callable[..., Notifier],
    make_message: Callable[..., OutgoingMessage],
) -> None:
    await make_notifier("voice").send(make_message(channel="voice", callback_base=None))
    created = fake_twilio.resources("Calls")[-1]
    assert created.field("StatusCallback") is None
    assert "<Gather" not in (created.field("Twiml") or "")


def test_rebase_keeps_path_and_query_and_adds_a_prefix() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=5"
    assert rebase_url(url, "http://127.0.0.1:9000") == (
        "http://127.0.0.1:9000/2010-04-01/Accounts/AC1/Messages.json?PageSize=5"
    )
    assert rebase_url(url, "https://edge.example.cn/twilio/").startswith(
        "https://edge.example.cn/twilio/2010-04-01/"
    )


async def test_callback_base_given_at_construction_is_the_default(
    fake_twilio: FakeTwilio,
    notify_config: NotifyConfig,
    make_message: Callable[..., OutgoingMessage],
) -> None:
    from monitor.notify import make_notifiers

    notifiers = make_notifiers(notify_config, "https://daemon.example")
    try:
        await notifiers["sms"].send(make_message(notification_id=5, callback_base=None))
    finally:
        for notifier in notifiers.values():
            await notifier.aclose()
    created = fake_twilio.resources("Messages")[-1]
    assert created.field("StatusCallback") == "https://daemon.example/api/twilio/status/5"
