"""An escalation bench: a store, an elder with contacts and duty staff, the real twilio
library talking to the fake Twilio, the API in-process, and a clock the test moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from monitor.alarms.escalation import EscalationEngine
from monitor.alarms.service import AlarmDecision, raise_alarm
from monitor.api.app import create_app
from monitor.config import Config
from monitor.daemon import Monitor
from monitor.notify.outbox import Outbox
from monitor.store.db import Database
from monitor.store.models import Alarm, DutyShift, Notification
from tests.fixtures.factories import MakeElder
from tests.fixtures.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

PUBLIC_URL = "https://tanfang.example.org"
DUTY_PHONE = "+8613700000009"
CONTACTS = [("李明", "+8613800000001"), ("王芳", "+8613800000002")]
ELDER_PHONE = "+8613800000000"


def bench_config(url: str, fake: FakeTwilio, **escalation: Any) -> Config:
    """SMS and voice through the fake Twilio; policies as given, else the defaults."""
    return Config.model_validate({
        "database": {"url": url},
        "api": {"public_url": PUBLIC_URL},
        "notify": {"channels": ["sms", "voice"], "timeout_s": 2.0, "max_attempts": 3,
                   "twilio": {"account_sid": ACCOUNT_SID, "auth_token": AUTH_TOKEN,
                              "from_number": FROM_NUMBER, "api_base_url": fake.base_url}},
        "escalation": escalation,
    })


def signed(path: str, form: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    """The X-Twilio-Signature Twilio would send for this form posted to this path."""
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(
        PUBLIC_URL + path, form)}


@dataclass
class Bench:
    monitor: Monitor
    fake: FakeTwilio
    http: httpx.AsyncClient
    t0: datetime

    @property
    def db(self) -> Database:
        return self.monitor.db

    @property
    def engine(self) -> EscalationEngine:
        return self.monitor.escalation

    @property
    def outbox(self) -> Outbox:
        return self.monitor.outbox

    def at(self, minutes: float = 0, seconds: float = 0) -> datetime:
        return self.t0 + timedelta(minutes=minutes, seconds=seconds)

    async def raise_sos(self, elder_id: str = "E0001", kind: str = "sos",
                        severity: str = "critical") -> int:
        async with self.db.transaction() as session:
            alarm, _ = await raise_alarm(session, AlarmDecision(
                elder_id, "mgl-01", f"btn-{elder_id}", kind, severity, self.t0))
            # Due at the bench's clock, not the wall clock raise_alarm read.
            alarm.next_step_at = self.t0
            return alarm.id

    async def step(self, minutes: float = 0, seconds: float = 0) -> tuple[int, int]:
        """One scheduler round at that time: escalation tick, then the outbox."""
        now = self.at(minutes, seconds)
        return await self.engine.tick(now), await self.outbox.run_once(now)

    async def notifications(self, alarm_id: int | None = None) -> list[Notification]:
        async with self.db.sessions() as session:
            query = select(Notification).order_by(Notification.id)
            if alarm_id is not None:
                query = query.where(Notification.alarm_id == alarm_id)
            return list((await session.execute(query)).scalars())

    async def alarm(self, alarm_id: int) -> Alarm:
        async with self.db.sessions() as session:
            found = await session.get(Alarm, alarm_id)
            assert found is not None
            return found

    def sent_to(self, kind: str = "Messages") -> list[str]:
        return [r.field("To") or "" for r in self.fake.resources(kind)]


async def add_duty(db: Database, phone: str = DUTY_PHONE, **shift: Any) -> None:
    """A shift that covers every hour of every day unless told otherwise."""
    async with db.transaction() as session:
        for day in shift.pop("weekdays", range(7)):
            session.add(DutyShift(community_id=shift.get("community", "mgl-01"),
                                  name=shift.get("name", "赵值班"), phone=phone, weekday=day,
                                  starts=shift.get("starts", "00:00"),
                                  ends=shift.get("ends", "00:00")))


async def make_bench(url: str, fake: FakeTwilio, make_elder: MakeElder,
                     **escalation: Any) -> Bench:
    monitor = Monitor(bench_config(url, fake, **escalation))
    await monitor.db.migrate()
    await make_elder(monitor.db, "E0001", contacts=CONTACTS)
    await add_duty(monitor.db)
    transport = httpx.ASGITransport(app=create_app(monitor))
    http = httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL)
    # A whole minute, noon in Shanghai: outside quiet hours.
    t0 = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0)
    return Bench(monitor, fake, http, t0)


# SMS to one contact, then the next contact after five minutes.
CONTACTS_BY_SMS = {"policies": [{"name": "contacts", "steps": [
    {"notify": ["contact:1"], "channels": ["sms"]},
    {"wait_min": 5},
    {"notify": ["next_contact"], "channels": ["sms"]},
    {"wait_min": 5},
]}]}


@pytest.fixture
async def sms_bench(tmp_path: Path, fake_twilio: FakeTwilio,
                    make_elder: MakeElder) -> AsyncIterator[Bench]:
    made = await make_bench(f"sqlite:///{tmp_path}/state.db", fake_twilio, make_elder,
                            **CONTACTS_BY_SMS)
    yield made
    await close_bench(made)


@pytest.fixture
async def bench(tmp_path: Path, fake_twilio: FakeTwilio,
                make_elder: MakeElder) -> AsyncIterator[Bench]:
    """The default policies on SQLite."""
    made = await make_bench(f"sqlite:///{tmp_path}/state.db", fake_twilio, make_elder)
    yield made
    await close_bench(made)


async def close_bench(made: Bench) -> None:
    await made.http.aclose()
    for notifier in made.monitor.notifiers.values():
        await notifier.aclose()
    await made.monitor.db.close()
