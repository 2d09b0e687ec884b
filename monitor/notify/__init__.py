"""Notifiers: one per channel, looked up in TRANSPORTS, all behind `Notifier`."""

from __future__ import annotations

import logging

from monitor.config import NotifyConfig
from monitor.errors import ConfigError
from monitor.notify.base import Notifier, NotifyError, OutgoingMessage, SendResult
from monitor.notify.log import LogNotifier
from monitor.notify.twilio_sms import TwilioSms
from monitor.notify.twilio_voice import TwilioVoice
from monitor.notify.webhook import Webhook

logger = logging.getLogger(__name__)

TRANSPORTS: dict[str, type[Notifier]] = {
    "sms": TwilioSms,
    "voice": TwilioVoice,
    "webhook": Webhook,
    "log": LogNotifier,
}


def make_notifiers(config: NotifyConfig, callback_base: str | None) -> dict[str, Notifier]:
    """One notifier per enabled channel (notify.channels); an unknown name is a ConfigError."""
    notifiers: dict[str, Notifier] = {}
    for name in config.channels:
        transport = TRANSPORTS.get(name)
        if transport is None:
            known = ", ".join(TRANSPORTS)
            raise ConfigError(f"notify.channels: unknown channel '{name}' (known: {known})")
        notifier = transport(config, callback_base)
        if notifier.is_noop:
            logger.warning("channel %s is enabled but not configured: its sends will fail", name)
        notifiers[name] = notifier
    return notifiers


async def close_notifiers(notifiers: dict[str, Notifier]) -> None:
    """Close every notifier's connections (at shutdown)."""
    for notifier in notifiers.values():
        await notifier.aclose()


__all__ = [
    "TRANSPORTS",
    "Notifier",
    "NotifyError",
    "OutgoingMessage",
    "SendResult",
    "close_notifiers",
    "make_notifiers",
]
