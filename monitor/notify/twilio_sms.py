"""SMS through Twilio Programmable Messaging."""

from __future__ import annotations

from typing import ClassVar

from monitor.notify.base import OutgoingMessage, SendResult
from monitor.notify.twilio_base import TwilioNotifier, callback_url


class TwilioSms(TwilioNotifier):
    """Sends the body as one SMS; delivery is reported later on the status callback."""

    channel: ClassVar[str] = "sms"

    async def _create(self, message: OutgoingMessage, callback_base: str | None) -> SendResult:
        created = await self.twilio.messages.create_async(
            to=message.address,
            from_=self.from_number,
            body=message.body,
            status_callback=callback_url(callback_base, "status", message.notification_id),
        )
        return SendResult(provider_id=created.sid, status="sent")
