"""A person answers a notification (SMS reply, key press): find the alarm, take it, say who."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.alarms.service import acknowledge
from monitor.privacy import mask_name, mask_phone
from monitor.store.models import Alarm, Notification

# A reply older than this is not taken as an answer to an earlier alarm's message.
REPLY_WINDOW = timedelta(hours=24)
WHO = {"elder": "老人", "contact": "联系人", "duty": "值班员"}


def actor_of(notification: Notification) -> str:
    """联系人 李* +86138****0001: who answered, masked, as the alarm records it."""
    who = WHO.get(notification.recipient_kind, notification.recipient_kind)
    name = mask_name(notification.recipient_name)
    return " ".join(p for p in (who, name, mask_phone(notification.address)) if p)[:64]


async def notification_for_reply(session: AsyncSession, phone: str,
                                 now: datetime) -> Notification | None:
    """The newest notification sent to this number for an alarm not yet resolved."""
    return (await session.execute(
        select(Notification).join(Alarm, Alarm.id == Notification.alarm_id)
        .where(Notification.address == phone, Alarm.state != "resolved",
               Notification.state.notin_(("pending", "retry", "cancelled", "suppressed")),
               Notification.created_at >= now - REPLY_WINDOW)
        .order_by(Notification.id.desc()).limit(1)
    )).scalar_one_or_none()


async def take_alarm(session: AsyncSession, notification: Notification, method: str,
                     note: str | None = None) -> tuple[Alarm | None, bool]:
    """The recipient takes the notification's alarm; False when someone already had."""
    if notification.alarm_id is None:
        return None, False
    alarm = await session.get(Alarm, notification.alarm_id, with_for_update=True,
                              populate_existing=True)
    if alarm is None:
        return None, False
    taken = await acknowledge(session, alarm, actor_of(notification), method, note)
    return alarm, taken
