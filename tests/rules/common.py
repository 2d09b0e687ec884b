"""A home for the rule tests: a store, the real Pipeline and the engine, on a test clock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from monitor.alarms.service import AlarmDecision
from monitor.config import Config
from monitor.ingest.directory import DeviceDirectory
from monitor.ingest.message import ReceivedMessage
from monitor.ingest.pipeline import Pipeline
from monitor.metrics import Metrics
from monitor.rules.engine import RuleEngine
from monitor.rules.source import RulesSource
from monitor.store.db import Database
from monitor.store.models import Alarm, AlarmEvent, Device
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import record_usage

# Tuesday 2026-12-01 08:00 in Yaohai: the morning, outside quiet hours.
T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class Home:
    """The real ingest path and rules engine over one store, fed JSON device messages."""

    def __init__(self, db: Database, rules: str | None = None, tmp: Path | None = None) -> None:
        self.db = db
        path = None
        if rules is not None:
            assert tmp is not None
            path = tmp / "rules.yaml"
            path.write_text(rules, encoding="utf-8")
        self.config = Config.model_validate({"ingest": {"max_future_s": 10**9},
                                             "rules": {"file": str(path) if path else None}})
        self.engine = RuleEngine(db, self.config, RulesSource(path))
        self.directory = DeviceDirectory(db)
        self.pipeline = Pipeline(self.config, db, self.directory, Metrics(),
                                 on_readings=self._readings)

    async def _readings(self, readings: Sequence[Reading]) -> None:
        async with self.db.transaction() as session:
            grown = await record_usage(session, readings)
            await self.engine.on_readings(session, readings, grown)

    async def start(self) -> Home:
        await self.directory.load()
        return self

    async def send(self, device_id: str, kind: str, payload: Any) -> None:
        """One message through validation, dedup, instant rules, usage and reading rules."""
        body = json.dumps(payload).encode()
        await self.pipeline.handle([ReceivedMessage(f"tanfang/v1/{device_id}/{kind}", body, 1)])
        await self.pipeline.flush_activity()

    async def status(self, device_id: str, at: datetime, battery: float | None = None) -> None:
        payload: dict[str, Any] = {"ts": ms(at), "online": True}
        if battery is not None:
            payload["battery_pct"] = battery
        await self.send(device_id, "status", payload)

    async def meter(self, device_id: str, start: datetime, end: datetime, litres_per_15: float,
                    register: float = 100.0, field: str = "total_m3", batch: bool = False
                    ) -> float:
        """Register readings every 15 minutes in [start, end]; returns the final register."""
        rows = []
        moment = start
        while moment <= end:
            rows.append({"ts": ms(moment), field: round(register, 3)})
            register += litres_per_15 / 1000
            moment += 15 * MIN
        if batch:
            await self.send(device_id, "telemetry", rows)
        else:
            for row in rows:
                await self.send(device_id, "telemetry", row)
        return register - litres_per_15 / 1000

    async def sweep(self, now: datetime) -> list[Alarm]:
        return [alarm for alarm, _ in await self.engine.sweep(now)]

    async def find(self, now: datetime) -> list[AlarmDecision]:
        async with self.db.sessions() as session:
            return (await self.engine.find_inactivity(session, now)
                    + await self.engine.find_offline(session, now))

    async def alarms(self, kind: str | None = None) -> list[Alarm]:
        async with self.db.sessions() as session:
            query = select(Alarm).order_by(Alarm.id)
            if kind is not None:
                query = query.where(Alarm.kind == kind)
            return list((await session.execute(query)).scalars())

    async def events(self, alarm_id: int) -> list[str]:
        async with self.db.sessions() as session:
            rows = await session.execute(select(AlarmEvent.kind).where(
                AlarmEvent.alarm_id == alarm_id).order_by(AlarmEvent.id))
            return list(rows.scalars())

    async def set_device(self, device_id: str, **values: Any) -> None:
        async with self.db.transaction() as session:
            device = await session.get(Device, device_id)
            assert device is not None
            for name, value in values.items():
                setattr(device, name, value)


def kinds(alarms: Sequence[Alarm]) -> list[str]:
    return sorted(a.kind for a in alarms)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)
