"""Voice calls through Twilio: the message is read out in Mandarin, key 1 acknowledges."""

from __future__ import annotations

from typing import ClassVar

from twilio.twiml.voice_response import VoiceResponse

from monitor.notify.base import OutgoingMessage, SendResult
from monitor.notify.twilio_base import TwilioNotifier, callback_url

LANGUAGE = "cmn-CN"
PRESS_TO_ACK = "确认收到请按1。"
REPEAT = 2


def build_twiml(body: str, action_url: str | None) -> str:
    """TwiML that reads `body` twice; with an action URL, inside a one-digit <Gather>."""
    response = VoiceResponse()
    if action_url:
        gather = response.gather(num_digits=1, action=action_url, method="POST", timeout=8)
        gather.say(f"{body} {PRESS_TO_ACK}", language=LANGUAGE, loop=REPEAT)
    else:
        # Nowhere to send a key press: just read the message.
        response.say(body, language=LANGUAGE, loop=REPEAT)
    return str(response)


def key_press_twiml(acknowledged: bool) -> str:
    """The answer to the <Gather> action: thank the person, or say the key was not taken."""
    response = VoiceResponse()
    text = "已确认收到，谢谢您。" if acknowledged else "未能确认，我们会再联系您。"
    response.say(text, language=LANGUAGE)
    response.hangup()
    return str(response)


class TwilioVoice(TwilioNotifier):
    """Places a call that reads the message; reaches landlines too."""

    channel: ClassVar[str] = "voice"

    async def _create(self, message: OutgoingMessage, callback_base: str | None) -> SendResult:
        action = callback_url(callback_base, "voice", message.notification_id)
        created = await self.twilio.calls.create_async(
            to=message.address,
            from_=self.from_number,
            twiml=build_twiml(message.body, action),
            status_callback=callback_url(callback_base, "status", message.notification_id),
        )
        return SendResult(provider_id=created.sid, status="sent")
