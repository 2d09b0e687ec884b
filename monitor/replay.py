"""Replay: recorded device messages through ingest and the rules, on the history's own clock.

The file holds JSON lines `{"topic": ..., "payload": ...}` (what `tanfang simulate --record`
writes), in any order. They are sorted by event time (a backlog array by its newest
reading, when it could have been sent), fed in batches through the real Pipeline
(validation, deduplication, instant rules) and the reading rules into a throwaway SQLite
store, and every `step` of event time the sweeps run with `now` = that moment.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from monitor.config import Config
from monitor.errors import TanfangError
from monitor.ingest.directory import DeviceDirectory
from monitor.ingest.message import ReceivedMessage
from monitor.ingest.pipeline import Pipeline
from monitor.metrics import Metrics
from monitor.registry import RegistryFile, load_registry
from monitor.rules.engine import RuleEngine
from monitor.rules.source import RulesSource
from monitor.store.db import Database
from monitor.store.models import Absence, Alarm
from monitor.telemetry.reading import Reading
from monitor.telemetry.usage import record_usage
from monitor.timeutil import parse_ts

BATCH = 2000
STEP = timedelta(minutes=15)
MONTH_DAYS = 30.4375


@dataclass(frozen=True)
class Recorded:
    """One line of the file, with the event time it is replayed at."""

    at: datetime
    topic: str
    payload: bytes


@dataclass
class ReplayResult:
    alarms: list[dict[str, Any]] = field(default_factory=list)
    messages: int = 0
    elders: int = 0
    start: datetime | None = None
    end: datetime | None = None

    @property
    def elder_months(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return self.elders * max((self.end - self.start).total_seconds(), 1.0) / (
            MONTH_DAYS * 86400)

    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(a["kind"] for a in self.alarms).items()))

    def summary(self) -> list[str]:
        """Alarms per elder-month by rule, in lines for people."""
        months = self.elder_months
        lines = [f"{self.messages} messages, {self.elders} elders with devices, "
                 f"{months:.1f} elder-months ({_iso(self.start)} .. {_iso(self.end)})"]
        for kind, count in self.by_kind().items():
            rate = count / months if months else 0.0
            lines.append(f"  {kind:16} {count:6d} alarms  {rate:7.3f} per elder-month")
        lines.append(f"  {'total':16} {len(self.alarms):6d} alarms  "
                     f"{(len(self.alarms) / months if months else 0.0):7.3f} per elder-month")
        return lines


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "-"


def _event_time(payload: Any) -> datetime | None:
    items = payload if isinstance(payload, list) else [payload]
    stamps = []
    for item in items:
        if isinstance(item, dict) and "ts" in item:
            try:
                stamps.append(parse_ts(item["ts"]))
            except (ValueError, TypeError, OverflowError):
                continue
    return max(stamps) if stamps else None


def read_recording(path: Path) -> list[Recorded]:
    """Every line of a recording, sorted by event time; TanfangError names a bad line."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise TanfangError(f"file not found: {path}") from None
    except OSError as exc:
        raise TanfangError(f"cannot read {path}: {exc.strerror}") from None
    out: list[Recorded] = []
    undated: list[tuple[str, bytes]] = []
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TanfangError(f"{path} line {number}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict) or not isinstance(row.get("topic"), str) \
                        or "payload" not in row:
                    raise TanfangError(f"{path} line {number}: expected an object with "
                                       "\"topic\" and \"payload\"")
                raw = row["payload"]
                payload = raw.encode() if isinstance(raw, str) else json.dumps(
                    raw, ensure_ascii=False).encode()
                body = raw
                if isinstance(raw, str):
                    try:
                        body = json.loads(raw)
                    except json.JSONDecodeError:
                        body = None
                at = _event_time(body)
                if at is None:
                    undated.append((row["topic"], payload))  # ingest rejects them, visibly
                else:
                    out.append(Recorded(at, row["topic"], payload))
        except UnicodeDecodeError:
            raise TanfangError(f"{path}: not UTF-8 text") from None
    out.sort(key=lambda r: r.at)
    first = out[0].at if out else datetime.now(UTC)
    return [Recorded(first, t, p) for t, p in undated] + out


def default_registry(device_ids: Iterable[str]) -> dict[str, Any]:
    """The demo district `tanfang simulate` uses without --registry, big enough for the file."""
    from devices.simulator.district import demo_registry

    wanted = set(device_ids)
    households = 120
    while True:
        registry = demo_registry(households, 0)
        have = {d["id"] for e in registry["elders"] for d in e.get("devices") or ()}
        if wanted <= have or households >= 20_000:
            return registry
        households *= 2


async def replay(
    recording: list[Recorded], registry: RegistryFile, config: Config,
    rules: RulesSource | None = None, step: timedelta = STEP,
    progress: Callable[[int], None] | None = None, workdir: Path | None = None,
    keep: Path | None = None, absences: Sequence[tuple[str, datetime, datetime]] = (),
) -> ReplayResult:
    """Run a sorted recording through a fresh store; the alarms it raised, in event time.

    `keep`: a directory where the store stays afterwards (to look into it), else a temp one.
    """
    with tempfile.TemporaryDirectory(prefix="tanfang-replay-", dir=workdir) as temp:
        tmp = str(keep) if keep is not None else temp
        settings = config.model_copy(update={
            "database": config.database.model_copy(update={"url": f"sqlite:///{tmp}/state.db"}),
            # A recording may run ahead of the wall clock: nothing in it is "in the future".
            "ingest": config.ingest.model_copy(update={"max_future_s": 10 * 365 * 86400}),
        })
        db = Database(settings.database.url)
        try:
            await db.migrate()
            await load_registry(db, registry, "replay")
            if absences:
                async with db.transaction() as session:
                    session.add_all([Absence(elder_id=e, starts_at=s, ends_at=t, reason="replay")
                                     for e, s, t in absences])
            result = await _run(db, settings, recording, rules, step, progress)
        finally:
            await db.close()
    result.elders = sum(1 for elder in registry.elders if elder.devices)
    return result


async def _run(
    db: Database, config: Config, recording: list[Recorded], rules: RulesSource | None,
    step: timedelta, progress: Callable[[int], None] | None,
) -> ReplayResult:
    directory = DeviceDirectory(db)
    await directory.load()
    engine = RuleEngine(db, config, rules)

    async def readings_hook(readings: Sequence[Reading]) -> None:
        async with db.transaction() as session:
            grown = await record_usage(session, readings)
            await engine.on_readings(session, readings, grown)

    pipeline = Pipeline(config, db, directory, Metrics(), on_readings=readings_hook)
    result = ReplayResult(messages=len(recording))
    if recording:
        result.start, result.end = recording[0].at, recording[-1].at
    batch: list[ReceivedMessage] = []

    async def flush() -> None:
        if batch:
            await pipeline.handle(batch)
            if progress is not None:
                progress(len(batch))
            batch.clear()
        await pipeline.flush_activity()

    clock = _ceil(recording[0].at, step) if recording else None
    for item in recording:
        while clock is not None and item.at >= clock:
            await flush()
            await engine.sweep(clock)
            await engine.daily(clock)
            clock += step
        batch.append(ReceivedMessage(item.topic, item.payload, qos=1))
        if len(batch) >= BATCH:
            await flush()
    await flush()
    if clock is not None:
        await engine.sweep(clock)
    async with db.sessions() as session:
        rows = (await session.execute(select(Alarm).order_by(Alarm.opened_at, Alarm.id))
                ).scalars().all()
    result.alarms = [alarm_json(a) for a in rows]
    return result


def _ceil(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = -(-(moment - epoch) // step)
    return epoch + steps * step


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    """An alarm as the contract's JSON object (event-time opened_at)."""
    return {"elder_id": alarm.elder_id, "device_id": alarm.device_id, "kind": alarm.kind,
            "severity": alarm.severity, "opened_at": alarm.opened_at.isoformat(),
            "community_id": alarm.community_id, "state": alarm.state,
            "occurrences": alarm.details.get("occurrences", 1)}
