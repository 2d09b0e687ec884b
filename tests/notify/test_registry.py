"""make_notifiers: the enabled channels, and nothing else."""

from __future__ import annotations

import pytest

from monitor.config import NotifyConfig
from monitor.errors import ConfigError
from monitor.notify import close_notifiers, make_notifiers
from monitor.notify.log import LogNotifier
from monitor.notify.twilio_sms import TwilioSms


async def test_default_is_the_log_channel_only() -> None:
    notifiers = make_notifiers(NotifyConfig.model_validate({}), None)
    assert list(notifiers) == ["log"]
    assert isinstance(notifiers["log"], LogNotifier)
    await close_notifiers(notifiers)


async def test_enabled_channels_are_made_even_when_unconfigured(
    caplog: pytest.LogCaptureFixture,
) -> None:
    notifiers = make_notifiers(NotifyConfig.model_validate({"channels": ["sms", "log"]}), "https://x.example")
    assert isinstance(notifiers["sms"], TwilioSms)
    assert notifiers["sms"].is_noop
    assert "sms is enabled but not configured" in caplog.text
    await close_notifiers(notifiers)


def test_unknown_channel_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown channel 'pager'"):
        make_notifiers(NotifyConfig.model_validate({"channels": ["log", "pager"]}), None)
