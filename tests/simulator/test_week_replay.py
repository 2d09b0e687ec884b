"""A simulated week of 50 households, replayed through ingest and the rules, in event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from devices.simulator import Timeline, demo_registry, parse_scenario
from monitor.config import Config
from monitor.ingest.directory import DeviceDirectory
from monitor.ingest.message import ReceivedMessage
from monitor.ingest.pipeline import Pipeline
from monitor.metrics import Metrics
from monitor.registry import load_registry, parse_registry
from monitor.store.db import Database
from monitor.store.models import Alarm

# Kinds an event raises at once (monitor/rules/instant.py); the others need the stateful rules.
INSTANT = {"sos", "sos_by_mistake", "fall", "smoke", "gas"}
SCENARIOS = ["sos@1d2h", "sos_by_mistake@1d5h", "fall@2d1h", "smoke@2d9h", "gas@3d3h",
             "incapacitated@3d8h", "tap_left_running@4d1h", "device_offline@4d6h+8h",
             "battery_low@5d", "away@5d2h+1d", "heatwave@5d+2d"]
BATCH = 1000


@pytest.mark.slow
async def test_a_week_raises_the_injected_alarms_and_few_others(tmp_path: Path) -> None:
    registry = demo_registry(50, seed=11)
    # A week that ended an hour ago: every ts is in the past, as in a replay.
    start = (datetime.now(UTC) - timedelta(days=7, hours=1)).replace(microsecond=0)
    timeline = Timeline(registry, start, timedelta(days=7), [parse_scenario(s) for s in SCENARIOS],
                        seed=11, faults=True)
    truth = timeline.incidents()
    config = Config.model_validate({"database": {"url": f"sqlite:///{tmp_path}/state.db"}})
    db = Database(config.database.url)
    await db.migrate()
    await load_registry(db, parse_registry(registry, "week"), "week")
    directory = DeviceDirectory(db)
    await directory.load()
    pipeline = Pipeline(config, db, directory, Metrics())
    batch: list[ReceivedMessage] = []
    sent = 0
    for _, topic, payload in timeline.messages_ms():
        batch.append(ReceivedMessage(topic, payload, qos=1))
        if len(batch) == BATCH:
            await pipeline.handle(batch)
            sent, batch = sent + len(batch), []
    await pipeline.handle(batch)
    sent += len(batch)
    async with db.sessions() as session:
        alarms = (await session.execute(select(Alarm).order_by(Alarm.opened_at))).scalars().all()
    await db.close()

    assert sent > 150_000  # a real week of 50 households, not a toy stream
    injected = [i for i in truth if i.source == "scenario" and i.kind in INSTANT]
    assert len(injected) == 5
    raised = {(a.kind, a.elder_id, a.device_id, _utc(a.opened_at)) for a in alarms}
    for incident in injected:
        kind = "sos" if incident.kind == "sos_by_mistake" else incident.kind
        assert (kind, incident.elder_id, incident.device_id, incident.at) in raised, incident
    # Few others: every alarm concerns an elder something happened to (no alarm out of a
    # quiet household), and no instant alarm without its event (monthly test presses raise none).
    eventful = {i.elder_id for i in truth}
    assert all(a.elder_id in eventful for a in alarms), [(a.kind, a.elder_id) for a in alarms]
    assert len([a for a in alarms if a.kind in INSTANT]) == len(injected)
    cancelled = [a for a in alarms if a.details.get("cancelled_by_elder")]
    assert len(cancelled) == 1 and cancelled[0].state == "open"  # a person still calls back


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
