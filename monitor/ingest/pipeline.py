"""From a batch of MQTT messages to committed alarms, stored readings and dead letters."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, select, update

from monitor.alarms.service import AlarmDecision, log_event, raise_alarm
from monitor.config import Config
from monitor.ingest.directory import DeviceDirectory, DeviceInfo
from monitor.ingest.message import ReceivedMessage
from monitor.ingest.payloads import (
    EventPayload,
    Rejected,
    StatusPayload,
    Telemetry,
    telemetry_from_json,
    validate_event,
    validate_status,
    validate_telemetry,
)
from monitor.ingest.topics import TopicParser
from monitor.metrics import Metrics
from monitor.privacy import mask_name
from monitor.rules.instant import decide_event, decide_unreadable
from monitor.store.db import Database, Preempted
from monitor.store.locks import lock_devices
from monitor.store.models import AcceptedMessage, Alarm, DeadLetter, Device
from monitor.store.upsert import insert_ignore
from monitor.telemetry.reading import Reading
from monitor.timeutil import utcnow

logger = logging.getLogger(__name__)

AlarmListener = Callable[[Alarm, bool], None]
# Runs right after the alarms of an event batch are opened: their first escalation step.
FirstSteps = Callable[[list[Alarm]], Awaitable[None]]
TelemetryHook = Callable[[Sequence[Reading]], Awaitable[None]]
# Telemetry messages validated between two chances for other tasks (an SOS) to run.
YIELD_EVERY = 50


@dataclass
class Activity:
    """What the newest messages of one device said, waiting to be written to its row."""

    last_seen_at: datetime
    online: bool | None = None
    battery_pct: float | None = None
    signal_dbm: float | None = None
    last_reading: dict[str, Any] | None = None
    reading_ts: datetime | None = None


@dataclass
class Sorted:
    """One batch, validated and sorted by what must happen to each message."""

    events: list[tuple[ReceivedMessage, DeviceInfo, EventPayload]] = field(default_factory=list)
    unreadable: list[tuple[ReceivedMessage, DeviceInfo, str]] = field(default_factory=list)
    readings: list[Reading] = field(default_factory=list)
    statuses: list[tuple[DeviceInfo, StatusPayload]] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    opened: list[Alarm] = field(default_factory=list)  # alarms the events newly opened
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


class Pipeline:
    """Validates, deduplicates and stores each batch; events commit before they are acked."""

    def __init__(
        self,
        config: Config,
        db: Database,
        directory: DeviceDirectory,
        metrics: Metrics,
        on_readings: TelemetryHook | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.directory = directory
        self.metrics = metrics
        self.topics = TopicParser(config.mqtt.topic_prefix)
        self.on_readings = on_readings
        self.alarm_listeners: list[AlarmListener] = []
        self.first_steps: FirstSteps | None = None
        self._activity: dict[str, Activity] = {}
        self._seen_telemetry: OrderedDict[tuple[str, str], None] = OrderedDict()

    # -- the door ---------------------------------------------------------------------------

    async def handle(self, batch: Sequence[ReceivedMessage]) -> None:
        """Handle a batch; returns once everything in it is durably decided.

        A store that is down is retried with back-off until it answers: the messages stay
        unacknowledged meanwhile, so the broker keeps them.
        """
        with self.metrics.batch_seconds.time():
            work = Sorted()
            # Events first: an SOS is committed before the batch's telemetry is even decoded,
            # and while it is, bulk work elsewhere in the daemon steps aside.
            events = [m for m in batch if m.topic.endswith("/event")]
            rest = [m for m in batch if not m.topic.endswith("/event")] if events else batch
            if events:
                async with self.db.urgency.first():
                    for message in events:
                        await self._sort(message, work)
                    await self._retry(self._commit_events, work)
                    if work.opened and self.first_steps is not None:
                        await self.first_steps(work.opened)
            for index, message in enumerate(rest):
                if index and not index % YIELD_EVERY:
                    await self.db.urgency.step_aside()  # an SOS arriving meanwhile goes first
                await self._sort(message, work)
            if work.readings and self.on_readings is not None:
                await self._retry(self.on_readings, work.readings)
            await self._retry(self._commit_dead_letters, work.dead)
        self.metrics.ingest_messages.labels("accepted").inc(work.accepted)
        self.metrics.ingest_messages.labels("duplicate").inc(work.duplicates)
        self.metrics.ingest_messages.labels("rejected").inc(work.rejected)

    async def _retry(self, step: Callable[[Any], Awaitable[None]], arg: Any) -> None:
        delay = 0.2
        while True:
            try:
                await step(arg)
                return
            except (OSError, ConnectionError) as exc:
                logger.warning("store unavailable (%s); retrying in %.1fs", exc, delay)
            except Exception as exc:
                if not is_operational(exc):
                    raise
                logger.warning("store unavailable (%s); retrying in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    # -- validation -------------------------------------------------------------------------

    def _reject(self, work: Sorted, message: ReceivedMessage, device_id: str | None,
                reason: str, error: str) -> None:
        self.metrics.ingest_rejected.labels(reason).inc()
        work.rejected += 1
        logger.debug("rejected %s (%s): %s", message.topic, reason, error)
        work.dead.append(DeadLetter(received_at=utcnow(), topic=message.topic[:200],
                                    device_id=device_id, reason=reason, error=error[:2000],
                                    payload=_printable(message.payload)))

    async def _sort(self, message: ReceivedMessage, work: Sorted) -> None:
        parsed = self.topics.parse(message.topic)
        if parsed is None:
            self._reject(work, message, None, "bad_topic", f"topic {message.topic!r} is not "
                         f"{self.topics.prefix}/DEVICE_ID/event|telemetry|status")
            return
        device_id, kind = parsed
        device = await self.directory.get(device_id)
        if device is None:
            self._reject(work, message, device_id, "unknown_device",
                         f"device {device_id} is not registered")
            return
        if len(message.payload) > self.config.ingest.max_payload_bytes:
            self._reject(work, message, device_id, "oversized",
                         f"{len(message.payload)} bytes; at most "
                         f"{self.config.ingest.max_payload_bytes}")
            self._unreadable_event(work, message, device, kind, "oversized")
            return
        if kind == "telemetry":
            single = telemetry_from_json(device.type, message.payload)
            if single is not None:
                try:
                    self._sort_telemetry(message, device, None, work, [single])
                except Rejected as exc:
                    self._reject(work, message, device_id, exc.reason, exc.error)
                return
        try:
            data = json.loads(message.payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._reject(work, message, device_id, "bad_json", f"not UTF-8 JSON: {exc}")
            self._unreadable_event(work, message, device, kind, "bad_json")
            return
        try:
            if kind == "event":
                event = validate_event(data)
                self._check_future(event.ts)
                work.events.append((message, device, event))
            elif kind == "status":
                status = validate_status(data)
                self._check_future(status.ts)
                work.statuses.append((device, status))
                self._note_activity(device.id, status.ts, status=status)
                work.accepted += 1
            else:
                self._sort_telemetry(message, device, data, work)
        except Rejected as exc:
            self._reject(work, message, device_id, exc.reason, exc.error)
            if kind == "event":
                self._unreadable_event(work, message, device, kind, exc.error)

    def _check_future(self, ts: datetime) -> None:
        if ts > utcnow() + timedelta(seconds=self.config.ingest.max_future_s):
            raise Rejected("future_ts", f"ts {ts.isoformat()} is in the future")

    def _sort_telemetry(
        self, message: ReceivedMessage, device: DeviceInfo, data: Any, work: Sorted,
        valid: list[Telemetry] | None = None,
    ) -> None:
        readings, errors = (valid, []) if valid is not None else validate_telemetry(
            device.type, data)
        limit = utcnow() + timedelta(seconds=self.config.ingest.max_future_s)
        fresh = 0
        for reading in readings:
            if reading.ts > limit:
                errors.append(f"ts {reading.ts.isoformat()} is in the future")
                continue
            if reading.msg_id is not None:
                key = (device.id, reading.msg_id)
                if key in self._seen_telemetry:
                    work.duplicates += 1
                    continue
                self._seen_telemetry[key] = None
                if len(self._seen_telemetry) > 200_000:
                    self._seen_telemetry.popitem(last=False)
            values = reading.fields()
            work.readings.append(Reading(device.id, device.type, device.elder_id, reading.ts,
                                         values))
            self._note_activity(device.id, reading.ts, reading=values)
            fresh += 1
        if fresh:
            work.accepted += 1
        if errors and fresh:  # the good readings are kept; the bad ones are dead-lettered
            self.metrics.ingest_rejected.labels("invalid_reading").inc(len(errors))
            work.dead.append(DeadLetter(received_at=utcnow(), topic=message.topic[:200],
                                        device_id=device.id, reason="invalid_reading",
                                        error="; ".join(errors)[:2000],
                                        payload=_printable(message.payload)))
        elif errors:
            raise Rejected("future_ts", "; ".join(errors)[:2000])

    def _unreadable_event(
        self, work: Sorted, message: ReceivedMessage, device: DeviceInfo, kind: str, error: str
    ) -> None:
        if kind == "event":
            work.unreadable.append((message, device, error))

    def _note_activity(
        self, device_id: str, ts: datetime, *, status: StatusPayload | None = None,
        reading: dict[str, Any] | None = None,
    ) -> None:
        act = self._activity.get(device_id)
        if act is None:
            act = self._activity[device_id] = Activity(last_seen_at=ts)
        elif ts > act.last_seen_at:
            act.last_seen_at = ts
        if status is not None:
            act.online = status.online
            if status.battery_pct is not None:
                act.battery_pct = status.battery_pct
            if status.signal_dbm is not None:
                act.signal_dbm = status.signal_dbm
        if reading is not None and (act.reading_ts is None or ts >= act.reading_ts):
            act.last_reading = {**reading, "ts": ts.isoformat()}
            act.reading_ts = ts

    # -- commits ----------------------------------------------------------------------------

    async def _commit_events(self, work: Sorted) -> None:
        if not work.events and not work.unreadable:
            return
        opened: list[tuple[Alarm, bool]] = []
        accepted = duplicates = 0
        severity = self.config.alarms.severity
        async with self.db.transaction() as session:
            for _message, device, event in work.events:
                row = {"device_id": device.id, "msg_id": event.msg_id, "accepted_at": utcnow()}
                if not await insert_ignore(session, AcceptedMessage, row):
                    duplicates += 1
                    continue
                accepted += 1
                await self._apply_event(session, device, event, severity, opened)
            for _message, device, error in work.unreadable:
                decision = decide_unreadable(device, error, None)
                if decision is not None:
                    opened.append(await raise_alarm(session, decision))
        work.opened = [alarm for alarm, created in opened if created]
        work.accepted += accepted
        work.duplicates += duplicates
        for alarm, created in opened:
            if created:
                self.metrics.alarms_raised.labels(alarm.kind).inc()
            for listener in self.alarm_listeners:
                listener(alarm, created)

    async def _apply_event(self, session: Any, device: DeviceInfo, event: EventPayload,
                           severity: dict[str, str], opened: list[tuple[Alarm, bool]]) -> None:
        self._note_activity(device.id, event.ts)
        if event.type == "test":
            await session.execute(
                update(Device).where(Device.id == device.id)
                .where((Device.last_test_at.is_(None)) | (Device.last_test_at < event.ts))
                .values(last_test_at=event.ts)
            )
            return
        if event.type == "cancel":
            alarm = (await session.execute(
                select(Alarm).where(Alarm.elder_id == device.elder_id, Alarm.kind == "sos",
                                    Alarm.state != "resolved")
            )).scalar_one_or_none()
            if alarm is not None:
                alarm.details = {**alarm.details, "cancelled_by_elder": event.ts.isoformat()}
                alarm.updated_at = utcnow()
                log_event(session, alarm, "cancel_pressed", device_id=device.id,
                          at=event.ts.isoformat())
            return
        decision: AlarmDecision | None = decide_event(event, device, severity)
        if decision is not None:
            opened.append(await raise_alarm(session, decision))
            logger.info("%s from %s (elder %s)", event.type, device.id,
                        mask_name(device.elder_id))

    async def _commit_dead_letters(self, dead: list[DeadLetter]) -> None:
        if not dead:
            return
        async with self.db.transaction() as session:
            session.add_all(
                [DeadLetter(received_at=d.received_at, topic=d.topic, device_id=d.device_id,
                            reason=d.reason, error=d.error, payload=d.payload) for d in dead]
            )

    async def flush_activity(self) -> None:
        """Write what devices said lately (last seen, battery, last reading) to their rows,
        a part of the devices per transaction (SQLite's writer is not held for long)."""
        pending, self._activity = self._activity, {}
        items = list(pending.items())
        i = 0
        while i < len(items):
            part = items[i : i + ACTIVITY_PER_TRANSACTION]
            try:
                await self._write_activity(part)
            except Preempted:
                continue  # rolled back for an alarm: the same part again, once it is in
            except Exception:
                for device_id, act in items[i:]:  # keep them for the next try
                    self._activity.setdefault(device_id, act)
                raise
            i += len(part)

    async def _write_activity(self, part: list[tuple[str, Activity]]) -> None:
        # One executemany per set of columns (the statement is compiled once per set), each
        # row moving `last_seen_at` forward too: one update per device.
        changes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for device_id, act in part:
            values = {name: getattr(act, name) for name in ACTIVITY_COLUMNS
                      if getattr(act, name) is not None}
            changes.setdefault(tuple(values), []).append(
                {"d_id": device_id, "d_ts": act.last_seen_at,
                 **{f"d_{k}": v for k, v in values.items()}})
        async with self.db.transaction(preemptible=True) as session:
            await lock_devices(session, (device_id for device_id, _ in part))
            connection = await session.connection()
            for names, rows in changes.items():
                await connection.execute(_activity(names), rows)


ACTIVITY_PER_TRANSACTION = 500
ACTIVITY_COLUMNS = ("online", "battery_pct", "signal_dbm", "last_reading")
_DEVICES = cast(Table, Device.__table__)


@lru_cache(maxsize=32)
def _activity(names: tuple[str, ...]) -> Any:
    """A device's row after its messages: `last_seen_at` only forward, and these columns."""
    c = _DEVICES.c
    seen = bindparam("d_ts", type_=c.last_seen_at.type)
    newer = c.last_seen_at.is_(None) | (c.last_seen_at < seen)
    statement = update(_DEVICES).where(c.id == bindparam("d_id"))
    if not names:
        return statement.where(newer).values(last_seen_at=seen)
    return statement.values({"last_seen_at": case((newer, seen), else_=c.last_seen_at),
                             **{name: bindparam(f"d_{name}", type_=c[name].type)
                                for name in names}})


# PostgreSQL's deadlock and serialization failure: the transaction lost, trying again is right.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


def is_operational(exc: Exception) -> bool:
    """Whether a store error means trying again (the store is unavailable, or the
    transaction lost a deadlock), not a bug."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and (
        bool(exc.connection_invalidated)
        or getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES)


def _printable(payload: bytes) -> str:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(payload[:16384]).decode()
    return text[:16384]
