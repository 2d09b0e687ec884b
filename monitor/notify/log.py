"""The demo's notifier: writes the message to the log, with the address masked."""

from __future__ import annotations

import contextlib
import logging
from typing import ClassVar

from monitor.config import NotifyConfig
from monitor.notify.base import OutgoingMessage, SendResult
from monitor.privacy import mask_phone

logger = logging.getLogger(__name__)


class LogNotifier:
    """Always configured, never fails: the demo and tests see notifications in the log."""

    channel: ClassVar[str] = "log"

    def __init__(
        self, config: NotifyConfig | None = None, callback_base: str | None = None
    ) -> None:
        pass

    @property
    def is_noop(self) -> bool:
        return False

    async def send(self, message: OutgoingMessage) -> SendResult:
        """Log the notification; a logging failure must not fail the escalation."""
        with contextlib.suppress(Exception):
            logger.info(
                "notification %s (alarm %s) to %s: %s",
                message.notification_id,
                message.alarm_id,
                mask_phone(message.address),
                message.body,
            )
        return SendResult(provider_id=None, status="delivered")

    async def aclose(self) -> None:
        """Nothing to release."""
