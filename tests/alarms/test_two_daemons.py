"""Two daemons on one PostgreSQL store: each step runs once, each notification goes once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from monitor.alarms.service import AlarmDecision, raise_alarm
from monitor.daemon import Monitor
from monitor.store.models import Notification
from tests.alarms.conftest import CONTACTS, DUTY_PHONE, close_bench, make_bench
from tests.fixtures.factories import MakeElder
from tests.fixtures.twilio import FakeTwilio

ELDERS = 6


async def test_two_daemons_run_each_step_once(
    postgres_url: str, tmp_path: Path, fake_twilio: FakeTwilio, make_elder: MakeElder
) -> None:
    bench = await make_bench(postgres_url, fake_twilio, make_elder)
    other = Monitor(bench.monitor.config)  # its own engine, connection pool and notifiers
    try:
        for n in range(2, ELDERS + 1):
            await make_elder(bench.db, f"E{n:04d}", contacts=CONTACTS)
        async with bench.db.transaction() as session:
            for n in range(1, ELDERS + 1):
                alarm, _ = await raise_alarm(session, AlarmDecision(
                    f"E{n:04d}", "mgl-01", f"btn-E{n:04d}", "sos", "critical", bench.t0))
                alarm.next_step_at = bench.t0
        daemons = (bench.monitor, other)
        for minutes in (0, 3, 6):
            now = bench.at(minutes)
            ticks = await asyncio.gather(*(d.escalation.tick(now) for d in daemons))
            assert sum(ticks) == ELDERS  # every alarm's step, by one daemon or the other
            sends = await asyncio.gather(*(d.outbox.run_once(now) for d in daemons))
            sends += await asyncio.gather(*(d.outbox.run_once(now) for d in daemons))
            async with bench.db.sessions() as session:
                errors = list((await session.execute(select(Notification.error).where(
                    Notification.error.is_not(None)))).scalars())
            assert errors == []
            assert sum(sends) == (4 if minutes == 0 else 2) * ELDERS

        async with bench.db.sessions() as session:
            rows = list((await session.execute(select(Notification))).scalars())
        # Per alarm: duty + first contact by SMS and call, then the second, then the first.
        assert len(rows) == ELDERS * 8
        assert {r.state for r in rows} == {"sent"} and all(r.attempts == 1 for r in rows)
        per_alarm = Counter((r.alarm_id, r.step, r.address, r.channel) for r in rows)
        assert set(per_alarm.values()) == {1}
        sent = Counter(r.field("To") for r in fake_twilio.resources("Messages"))
        assert sent == {DUTY_PHONE: ELDERS, CONTACTS[0][1]: 2 * ELDERS,
                        CONTACTS[1][1]: ELDERS}
        assert len(fake_twilio.resources("Calls")) == 4 * ELDERS
    finally:
        for notifier in other.notifiers.values():
            await notifier.aclose()
        await other.db.close()
        await close_bench(bench)
