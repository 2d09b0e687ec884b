"""Twilio's calls to us: SMS replies and key presses take alarms; status callbacks update rows.

Every request must carry a valid X-Twilio-Signature (HMAC of the URL Twilio called and its
form fields under our auth token), else 403. The URL is rebuilt from api.public_url, the
address Twilio was given, since a proxy in front may change what the daemon itself sees.
Set the Twilio number's "A message comes in" webhook to {public_url}/api/twilio/sms.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import ValidationError
from twilio.twiml.messaging_response import MessagingResponse

from monitor.alarms.replies import notification_for_reply, take_alarm
from monitor.api.deps import MonitorDep
from monitor.notify.inbound import (
    InboundSms,
    StatusCallback,
    parse_key_press,
    verify_twilio_signature,
)
from monitor.notify.outbox import after_failure
from monitor.notify.twilio_voice import key_press_twiml
from monitor.privacy import mask_phone
from monitor.store.models import Notification
from monitor.timeutil import utcnow

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/twilio", tags=["twilio"])
XML = "application/xml"


def called_url(request: Request, public_url: str | None) -> str:
    """The URL Twilio signed: the public base plus the path and query it called."""
    if not public_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{public_url.rstrip('/')}{request.url.path}{query}"


async def verified_form(request: Request, monitor: MonitorDep) -> dict[str, str]:
    """The form fields of a request Twilio signed; 403 for anything else."""
    form = await request.form()
    params = {key: str(value) for key, value in form.items()}
    token = monitor.config.notify.twilio.auth_token or ""
    url = called_url(request, monitor.config.api.public_url)
    if not verify_twilio_signature(token, url, params, request.headers.get("X-Twilio-Signature")):
        logger.warning("refused a Twilio request with a bad signature for %s", request.url.path)
        raise HTTPException(status.HTTP_403_FORBIDDEN, "签名无效 (invalid Twilio signature)")
    return params


def _sms_answer(text: str | None) -> Response:
    reply = MessagingResponse()
    if text:
        reply.message(text)
    return Response(str(reply), media_type=XML)


@router.post("/sms")
async def inbound_sms(request: Request, monitor: MonitorDep) -> Response:
    """A reply to an alarm SMS: "1" or "收到" takes the newest alarm sent to that number."""
    try:
        sms = InboundSms.model_validate(await verified_form(request, monitor))
    except ValidationError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "not an SMS") from None
    if sms.reply != "ack" or not sms.from_:
        return _sms_answer(None)
    async with monitor.db.transaction() as session:
        notification = await notification_for_reply(session, sms.from_, utcnow())
        if notification is None:
            logger.info("SMS reply from %s matches no open alarm", mask_phone(sms.from_))
            return _sms_answer(None)
        alarm, taken = await take_alarm(session, notification, "sms_reply", "短信回复确认")
    if alarm is None:
        return _sms_answer(None)
    logger.info("alarm %s taken by SMS reply from %s", alarm.id, mask_phone(sms.from_))
    text = (f"已确认：告警{alarm.id}由您处理，谢谢。" if taken
            else f"告警{alarm.id}已有人处理，谢谢您的回复。")
    return _sms_answer(text)


@router.post("/voice/{notification_id}")
async def key_press(notification_id: int, request: Request, monitor: MonitorDep) -> Response:
    """The <Gather> action of an alarm call: key 1 takes the alarm."""
    params = await verified_form(request, monitor)
    if parse_key_press(params.get("Digits")) != "ack":
        return Response(key_press_twiml(False), media_type=XML)
    async with monitor.db.transaction() as session:
        notification = await session.get(Notification, notification_id)
        alarm = None
        if notification is not None:
            alarm, _ = await take_alarm(session, notification, "voice_key", "电话按键确认")
    if alarm is not None:
        logger.info("alarm %s taken by a key press on call %s", alarm.id, notification_id)
    return Response(key_press_twiml(alarm is not None), media_type=XML)


@router.post("/status/{notification_id}")
async def delivery_status(notification_id: int, request: Request, monitor: MonitorDep) -> Response:
    """Twilio's delivery report for one notification's message or call."""
    try:
        callback = StatusCallback.model_validate(await verified_form(request, monitor))
    except ValidationError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "no MessageSid/CallSid") from None
    now = utcnow()
    async with monitor.db.transaction() as session:
        row = await session.get(Notification, notification_id, with_for_update=True)
        if row is None or (row.provider_id and row.provider_id != callback.provider_id):
            return Response(status_code=status.HTTP_204_NO_CONTENT)
        row.provider_id = row.provider_id or callback.provider_id
        state = callback.state
        if state == "delivered" and row.state in ("sending", "sent", "unknown"):
            row.state = "delivered"
            row.delivered_at = now
        elif state == "failed" and row.state in ("sending", "sent", "unknown", "delivered"):
            error = callback.error()
            row.state = "failed"
            row.claimed_until = None
            row.error = f"{error.code}: {error}" if error else callback.provider_status
            await after_failure(session, row, error.code if error else None, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
