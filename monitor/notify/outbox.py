"""The outbox worker: claims due notifications, sends them once, records what happened.

Never twice: a row is claimed (state `sending`, a lease in `claimed_until`) by a conditional
update before the provider is called, so two daemons cannot both send it. If a daemon dies
between the provider's answer and the commit of `sent`, nobody knows whether the message
left: Twilio has no idempotency key, and resending could ring a family member twice at
night. Such a row, found `sending` after its lease, is marked `unknown` and never resent;
the escalation goes on with its next steps, so a message that was in fact lost is made up
for by the next person (and the next round) being called.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.alarms.service import log_event
from monitor.config import EscalationConfig, NotifyConfig
from monitor.notify.base import Notifier, NotifyError, OutgoingMessage, SendResult, not_configured
from monitor.notify.templates import render_message
from monitor.privacy import mask_name, mask_phone
from monitor.store.db import Database
from monitor.store.models import Alarm, Community, Contact, Elder, Notification
from monitor.timeutil import utcnow

logger = logging.getLogger(__name__)

BATCH = 20
MAX_BATCHES = 25
DUE_STATES = ("pending", "retry")
# Provider codes that say "this number takes no SMS": the same person is called instead.
LANDLINE_CODES = frozenset({"21614", "30006"})
UNKNOWN_NOTE = "daemon stopped between sending and recording: not resent (no idempotency key)"


class Outbox:
    """Sends what the escalation decided; `run_once(now)` is the scheduler's job."""

    def __init__(self, db: Database, notifiers: dict[str, Notifier], notify: NotifyConfig,
                 escalation: EscalationConfig, callback_base: str | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.notifiers = notifiers
        self.notify = notify
        self.config = escalation
        self.callback_base = callback_base
        self.clock = clock
        self._sending: set[asyncio.Task[None]] = set()

    async def run_once(self, now: datetime | None = None) -> int:
        """Recover stale claims, claim due rows, send them; returns how many were sent."""
        now = now or self.clock()
        await self.recover(now)
        sent = 0
        for _ in range(MAX_BATCHES):  # a burst (a power cut) drains now, not a batch a tick
            claimed = await self.claim(now)
            if claimed:
                await self._deliver_all(claimed, now)
            sent += len(claimed)
            if len(claimed) < BATCH:
                break
        return sent

    async def claim(self, now: datetime) -> list[Notification]:
        """Take due rows of open alarms for this daemon: pending/retry -> sending, leased."""
        claimable = (
            Notification.state.in_(DUE_STATES),
            or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),
            or_(Notification.claimed_until.is_(None), Notification.claimed_until < now),
            or_(Notification.alarm_id.is_(None), Notification.alarm_id.in_(
                select(Alarm.id).where(Alarm.state == "open"))),
        )
        async with self.db.transaction() as session:
            # PostgreSQL: rows another daemon is claiming are skipped, not waited for.
            ids = list((await session.execute(
                select(Notification.id).where(*claimable).order_by(Notification.id)
                .limit(BATCH).with_for_update(skip_locked=True)
            )).scalars())
            if not ids:
                return []
            # Conditional as well, so the claim holds where FOR UPDATE is ignored (SQLite).
            taken = list((await session.execute(
                update(Notification).where(Notification.id.in_(ids), *claimable)
                .values(state="sending", claimed_until=now + timedelta(seconds=self.config.lease_s),
                        attempts=Notification.attempts + 1)
                .returning(Notification.id)
                .execution_options(synchronize_session=False)
            )).scalars())
            if not taken:
                return []
            rows = (await session.execute(
                select(Notification).where(Notification.id.in_(taken))
                .execution_options(populate_existing=True)
            )).scalars().all()
        return list(rows)

    def lease(self, rows: list[Notification], now: datetime) -> None:
        """Claim new rows, before they are written, for this daemon: those due now become
        `sending` under a lease in the same transaction, as `claim` would make them."""
        for row in rows:
            if row.state == "pending" and (row.next_attempt_at is None
                                           or row.next_attempt_at <= now):
                row.state = "sending"
                row.claimed_until = now + timedelta(seconds=self.config.lease_s)
                row.attempts = 1

    def send_leased(self, rows: list[Notification]) -> None:
        """Send rows `lease` claimed, once their transaction committed: at once, in a task."""
        leased = [row for row in rows if row.state == "sending"]
        if not leased:
            return
        task = asyncio.create_task(self._deliver_all(leased, self.clock()),
                                   name="first notifications")
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _deliver_all(self, rows: list[Notification], now: datetime) -> None:
        await asyncio.gather(*(self._deliver(row, now) for row in rows))

    async def close(self) -> None:
        """Wait for the messages being sent to be sent and recorded."""
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def recover(self, now: datetime) -> int:
        """Rows left `sending` past their lease by a daemon that died: `unknown`, not resent."""
        async with self.db.transaction() as session:
            stale = (await session.execute(
                select(Notification).where(Notification.state == "sending",
                                           Notification.claimed_until < now)
                .with_for_update(skip_locked=True)
            )).scalars().all()
            for row in stale:
                row.state = "unknown"
                row.claimed_until = None
                row.error = UNKNOWN_NOTE
                if row.alarm_id is not None:
                    alarm = await session.get(Alarm, row.alarm_id)
                    if alarm is not None:
                        log_event(session, alarm, "notification_unknown", notification=row.id,
                                  channel=row.channel, to=mask_phone(row.address))
                logger.warning("notification %s: outcome unknown after a crash; not resent",
                               row.id)
        return len(stale)

    async def _deliver(self, row: Notification, now: datetime) -> None:
        notifier = self.notifiers.get(row.channel)
        message = OutgoingMessage(
            notification_id=row.id, alarm_id=row.alarm_id, channel=row.channel,
            address=row.address, body=row.body, recipient_name=mask_name(row.recipient_name),
            callback_base=self.callback_base)
        try:
            if notifier is None:
                raise not_configured(row.channel)
            result = await notifier.send(message)
        except NotifyError as exc:
            await self._failed(row.id, exc, now)
            return
        except Exception as exc:  # a notifier bug must not stop the others: retry later
            logger.exception("notification %s: unexpected error", row.id)
            await self._failed(row.id, NotifyError(repr(exc), code="error"), now)
            return
        await self._sent(row.id, result, now)

    async def _sent(self, notification_id: int, result: SendResult, now: datetime) -> None:
        async with self.db.transaction() as session:
            row = await session.get(Notification, notification_id, with_for_update=True,
                                    populate_existing=True)
            if row is None:
                return
            row.provider_id = result.provider_id
            row.sent_at = row.sent_at or now
            row.claimed_until = None
            # A status callback may have been faster than this commit: keep what it said.
            if row.state in ("sending", "unknown"):
                row.state = result.status
                row.error = None
                if result.status == "delivered":
                    row.delivered_at = now
            await _audit(session, row, "notified")

    async def _failed(self, notification_id: int, error: NotifyError, now: datetime) -> None:
        async with self.db.transaction() as session:
            row = await session.get(Notification, notification_id, with_for_update=True,
                                    populate_existing=True)
            if row is None or row.state not in ("sending", "unknown"):
                return
            row.claimed_until = None
            row.error = str(error)[:1000]
            if not error.permanent and row.attempts < self.notify.max_attempts:
                delay = min(self.config.retry_initial_s * 2 ** max(row.attempts - 1, 0),
                            self.config.retry_max_s)
                row.state = "retry"
                row.next_attempt_at = now + timedelta(seconds=delay)
                logger.info("notification %s: attempt %s failed (%s); again in %.0f s",
                            row.id, row.attempts, error.code, delay)
                return
            row.state = "failed"
            logger.warning("notification %s failed for good: %s", row.id, error)
            await after_failure(session, row, error.code, now)


async def _audit(session: AsyncSession, row: Notification, kind: str) -> None:
    if row.alarm_id is None:
        return
    alarm = await session.get(Alarm, row.alarm_id)
    if alarm is not None:
        log_event(session, alarm, kind, notification=row.id, channel=row.channel,
                  who=row.recipient_kind, name=mask_name(row.recipient_name),
                  to=mask_phone(row.address), state=row.state, error=row.error)


async def after_failure(session: AsyncSession, row: Notification, code: str | None,
                        now: datetime) -> None:
    """A notification failed for good: call a landline instead, or move on to the next person."""
    await _audit(session, row, "notify_failed")
    if row.alarm_id is None:
        return
    alarm = await session.get(Alarm, row.alarm_id)
    if alarm is None or alarm.state != "open":
        return
    same_person = (await session.execute(
        select(Notification).where(Notification.alarm_id == row.alarm_id,
                                   Notification.step == row.step,
                                   Notification.address == row.address)
    )).scalars().all()
    if row.channel == "sms" and code in LANDLINE_CODES:
        if not any(n.channel == "voice" for n in same_person):
            session.add(await voice_fallback(session, alarm, row, now))
            log_event(session, alarm, "fallback_to_voice", notification=row.id,
                      to=mask_phone(row.address))
        return
    if all(n.state in ("failed", "cancelled", "suppressed") for n in same_person):
        # Nobody reached on any channel: the next step (the next person) comes now.
        if alarm.next_step_at is not None and alarm.next_step_at > now:
            alarm.next_step_at = now
            alarm.updated_at = utcnow()
        log_event(session, alarm, "unreachable", who=row.recipient_kind,
                  name=mask_name(row.recipient_name), to=mask_phone(row.address))


async def voice_fallback(session: AsyncSession, alarm: Alarm, row: Notification,
                         now: datetime) -> Notification:
    """A call to the number an SMS could not reach, worded for the ear."""
    elder = await session.get(Elder, alarm.elder_id) if alarm.elder_id else None
    community = await session.get(Community, alarm.community_id) if alarm.community_id else None
    relation = None
    if row.recipient_kind == "contact" and elder is not None:
        relation = (await session.execute(
            select(Contact.relation).where(Contact.elder_id == elder.id,
                                           Contact.phone == row.address).limit(1)
        )).scalar_one_or_none()
    body = render_message(alarm.kind, row.recipient_kind, elder_name=elder.name if elder else "",
                          community=community.name if community else "",
                          opened_at=alarm.opened_at, alarm_id=alarm.id, relation=relation,
                          channel="voice")
    return Notification(alarm_id=alarm.id, step=row.step, recipient_kind=row.recipient_kind,
                        recipient_name=row.recipient_name, address=row.address, channel="voice",
                        body=body, state="pending", attempts=0, next_attempt_at=now,
                        created_at=now)

