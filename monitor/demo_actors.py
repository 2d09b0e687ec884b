"""The people of the demo: family members who reply, a duty officer who calls back, remote checks.

They play the human side of an alarm so that a visitor sees every stage in the first minutes:
the duty officer works through the HTTP API exactly as the console does; a family member's
SMS reply ("1") and the officer's remote checks are written through the same service code the
inbound-SMS webhook and the visit form use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from monitor.alarms.replies import take_alarm
from monitor.alarms.service import acknowledge
from monitor.privacy import mask_name
from monitor.store.db import Database
from monitor.store.models import Alarm, Device, Elder, Notification, Visit
from monitor.timeutil import utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Response:
    """How the people answer one kind of alarm: who takes it, when, and how it ends."""

    ack_after_s: float
    by: str  # "family" (an SMS reply) or "duty" (the console)
    resolve_after_s: float | None = None  # None: left acknowledged, someone is on the way
    outcome: str = "elder_fine"
    contact_method: str = "phone"
    note: str = ""


# Keyed by alarm kind; "sos_cancelled" is an SOS the elder cancelled (pressed by mistake).
PLAYBOOK: dict[str, Response] = {
    "sos": Response(60, "duty", 150, "assisted_by_family", "phone",
                    "回拨老人电话：起床时头晕，已坐下休息；已通知女儿前往陪同"),
    "sos_cancelled": Response(30, "family", 75, "false_alarm", "phone",
                              "老人误按呼叫器，家属电话确认平安"),
    "smoke": Response(40, "family", 120, "false_alarm", "home_visit",
                      "炒菜油烟触发报警，邻居上门查看无异常"),
    "fall": Response(45, "duty", None, note="已联系社区网格员上门查看"),
}
DEFAULT = Response(90, "duty", None, note="值班员已接警，稍后回访")


@dataclass
class DemoPeople:
    """Plays the family and the duty officer against the running demo."""

    db: Database
    api_url: str
    username: str
    password: str
    poll_s: float = 3.0
    remote_check_every_s: float = 300.0
    first_remote_check_s: float = 100.0

    def __post_init__(self) -> None:
        self._seen: dict[int, float] = {}
        self._done: set[tuple[int, str]] = set()
        self._token: str | None = None

    async def run(self) -> None:
        """Answer alarms and make remote checks until cancelled."""
        started = time.monotonic()
        next_check = started + self.first_remote_check_s
        async with httpx.AsyncClient(base_url=self.api_url, timeout=10) as http:
            while True:
                await asyncio.sleep(self.poll_s)
                try:
                    await self._answer_alarms(http)
                    if time.monotonic() >= next_check:
                        next_check += self.remote_check_every_s
                        await self.remote_check()
                except (httpx.HTTPError, OSError) as exc:
                    logger.info("demo people: the API is not answering yet (%s)", exc)

    async def _login(self, http: httpx.AsyncClient) -> str:
        if self._token is None:
            response = await http.post("/api/auth/token",
                                       data={"username": self.username, "password": self.password})
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token

    async def _answer_alarms(self, http: httpx.AsyncClient) -> None:
        headers = {"Authorization": f"Bearer {await self._login(http)}"}
        response = await http.get("/api/alarms", headers=headers)
        response.raise_for_status()
        now = time.monotonic()
        for alarm in response.json():
            if alarm["state"] == "resolved":
                continue
            seen = self._seen.setdefault(alarm["id"], now)
            plan = response_for(alarm)
            age = now - seen
            if alarm["state"] == "open" and age >= plan.ack_after_s:
                await self._acknowledge(http, headers, alarm, plan)
            elif (alarm["state"] == "acknowledged" and plan.resolve_after_s is not None
                  and age >= plan.resolve_after_s and (alarm["id"], "resolve") not in self._done):
                self._done.add((alarm["id"], "resolve"))
                body = {"outcome": plan.outcome, "contact_method": plan.contact_method,
                        "note": plan.note}
                result = await http.post(f"/api/alarms/{alarm['id']}/resolve", json=body,
                                         headers=headers)
                logger.info("demo: duty officer resolved alarm %s (%s): %s", alarm["id"],
                            plan.outcome, result.status_code)

    async def _acknowledge(self, http: httpx.AsyncClient, headers: dict[str, str],
                           alarm: dict[str, Any], plan: Response) -> None:
        if (alarm["id"], "ack") in self._done:
            return
        self._done.add((alarm["id"], "ack"))
        if plan.by == "family":
            await self.family_replies(alarm["id"])
            return
        result = await http.post(f"/api/alarms/{alarm['id']}/ack", headers=headers,
                                 json={"note": plan.note or "值班员已接警，正在回拨"})
        logger.info("demo: duty officer took alarm %s: %s", alarm["id"], result.status_code)

    async def family_replies(self, alarm_id: int) -> bool:
        """The first contact answers the alarm SMS with "1" and so takes the alarm."""
        async with self.db.transaction() as session:
            alarm = await session.get(Alarm, alarm_id)
            if alarm is None:
                return False
            contact = None
            if alarm.elder_id is not None:
                elder = await session.get(Elder, alarm.elder_id)
                contacts = (elder.contacts if elder is not None else None) or []
                contact = contacts[0] if contacts else None
            notified = None
            if contact is not None:
                notified = (await session.execute(
                    select(Notification).where(Notification.alarm_id == alarm_id,
                                               Notification.address == contact.phone)
                    .order_by(Notification.id.desc()).limit(1)
                )).scalar_one_or_none()
            if notified is not None:  # the reply to the escalation's own message
                _, taken = await take_alarm(session, notified, "sms_reply", "短信回复1：我来处理")
            else:
                who = (f"家属 {mask_name(contact.name)}（{contact.relation}）"
                       if contact is not None else "家属")
                taken = await acknowledge(session, alarm, who, "sms_reply", "短信回复1：我来处理")
        logger.info("demo: family took alarm %s by SMS reply", alarm_id)
        return taken

    async def remote_check(self) -> Visit | None:
        """Look at one elder's devices from the office and record a remote-monitoring visit."""
        async with self.db.transaction() as session:
            checked = set((await session.execute(
                select(Visit.elder_id).where(Visit.source == "remote_check")
            )).scalars())
            rows = (await session.execute(
                select(Device).where(Device.elder_id.is_not(None),
                                     Device.last_seen_at.is_not(None))
                .order_by(Device.last_seen_at.desc())
            )).scalars().all()
            elder_id = next((d.elder_id for d in rows if d.elder_id not in checked), None)
            if elder_id is None:
                return None
            devices = [d for d in rows if d.elder_id == elder_id]
            now = utcnow()
            recent = [d for d in devices
                      if d.last_seen_at is not None and now - _aware(d.last_seen_at)
                      < timedelta(minutes=30)]
            summary = (f"远程查看{len(devices)}台设备，{len(recent)}台近30分钟在线，"
                       "用水用电与作息相符，未见异常")
            visit = Visit(elder_id=elder_id, method="remote_monitoring", at=now, by="区值班员",
                          source="remote_check", source_ref=f"demo:{elder_id}:{now:%Y%m%d%H%M}",
                          findings={"summary": summary, "safety": "正常"},
                          evidence={"devices": {d.id: d.last_reading for d in devices}},
                          note="演示：远程监测探访", created_at=now)
            session.add(visit)
        logger.info("demo: remote check of elder %s recorded", mask_name(elder_id))
        return visit


def response_for(alarm: dict[str, Any]) -> Response:
    """The playbook entry for an alarm as the API lists it."""
    kind = str(alarm.get("kind"))
    if kind == "sos" and (alarm.get("details") or {}).get("cancelled_by_elder"):
        return PLAYBOOK["sos_cancelled"]
    return PLAYBOOK.get(kind, DEFAULT)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def stop(task: asyncio.Task[None]) -> None:
    """Cancel the people's task and wait for it."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
