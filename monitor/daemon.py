"""The daemon: MQTT ingest, rules, alarms, notifiers, scheduler and HTTP in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

import uvicorn
from sqlalchemy import text

from monitor.alarms.escalation import EscalationEngine
from monitor.calendar import CareCalendar
from monitor.config import Config
from monitor.ingest.directory import DeviceDirectory
from monitor.ingest.mqtt import MqttSource
from monitor.ingest.pipeline import Pipeline
from monitor.metrics import Metrics
from monitor.notify import close_notifiers, make_notifiers
from monitor.notify.outbox import Outbox
from monitor.rules.engine import RuleEngine
from monitor.store.db import Database
from monitor.store.models import Alarm
from monitor.telemetry.reading import Reading
from monitor.telemetry.store import make_telemetry_store
from monitor.telemetry.usage_writer import UsageWriter
from monitor.throttle import LoginThrottle
from monitor.visits.remote_check import RemoteCheck

logger = logging.getLogger(__name__)

# paho's network threads and SQLite's driver thread hand their results to the event loop;
# with Python's default 5 ms turns at the GIL each of an SOS's dozen statements could wait
# up to 5 ms for the loop's thread to let go.
SWITCH_INTERVAL_S = 0.001
# Allocations between two collections of the youngest objects (Python's default: 700). A full
# collection comes every 100 of these; each took 10-70 ms under load.
GC_YOUNGEST = 10_000


class Monitor:
    """One daemon's parts, started and stopped together."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.metrics = Metrics()
        self.db = Database(config.database.url, background_checkpoints=True)
        self.directory = DeviceDirectory(self.db)
        self.pipeline = Pipeline(config, self.db, self.directory, self.metrics,
                                 on_readings=self._store_readings)
        self.telemetry = make_telemetry_store(config.telemetry, self.metrics, self._dead_letter)
        self.source = MqttSource(config.mqtt, config.ingest.batch_max, ("telemetry", "status"))
        self.alarm_source = MqttSource(config.mqtt, config.ingest.batch_max, ("event",),
                                       client_id=config.mqtt.client_id + "-events")
        self.login_throttle = LoginThrottle()
        self.rules = RuleEngine(self.db, config, metrics=self.metrics)
        self.rules.listeners = self.pipeline.alarm_listeners  # the same ears for rule alarms
        self.usage = UsageWriter(self.db, self.rules)
        self.remote_check = RemoteCheck(self.db, config.coverage.remote_check)
        self.notifiers = make_notifiers(config.notify, config.api.public_url)
        self.escalation = EscalationEngine(self.db, config.escalation, set(self.notifiers))
        self.outbox = Outbox(self.db, self.notifiers, config.notify, config.escalation,
                             config.api.public_url)
        # An alarm from an event takes its first step as soon as it is committed, and its
        # messages go out at once. Any other new alarm wakes the escalation, and a step that
        # ran wakes the outbox: in milliseconds, not at the next tick.
        if config.escalation.enabled:
            self.pipeline.first_steps = self._first_steps
        self._escalation_due = asyncio.Event()
        self._outbox_due = asyncio.Event()
        self.pipeline.alarm_listeners.append(
            lambda _alarm, created: self._escalation_due.set() if created else None)
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def calendar(self) -> CareCalendar:
        """Festival and extreme-weather days, from rules.yaml (reloaded with it)."""
        return self.rules.rules.calendar

    async def _store_readings(self, readings: Sequence[Reading]) -> None:
        """Raw points to the telemetry store; usage per hour and the reading rules to the state
        store (both written behind in batches; ingest waits only when they fall far behind)."""
        await self.telemetry.write(readings)
        await self.usage.write(readings)

    async def _dead_letter(self, reason: str, payload: str, error: str) -> None:
        """A line the telemetry backend refused, kept where people read dead letters."""
        from monitor.store.models import DeadLetter
        from monitor.timeutil import utcnow

        async with self.db.transaction() as session:
            session.add(DeadLetter(received_at=utcnow(), topic="telemetry-store", device_id=None,
                                   reason=reason, error=error, payload=payload))

    async def start(self) -> None:
        """Migrate the store, load the devices, connect to the broker, start the workers."""
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        await self.db.migrate()
        await self.directory.load()
        await self.telemetry.start()
        self.usage.start()
        await self.alarm_source.connect()
        await self.source.connect()
        self._spawn(self.alarm_source.run(self.pipeline.handle), "ingest events")
        self._spawn(self.source.run(self.pipeline.handle), "ingest telemetry")
        self._spawn(self._every(2.0, self.pipeline.flush_activity), "device activity")
        if self.db.is_sqlite:
            self._spawn(self._every(1.0, self.db.checkpoint), "store checkpoints")
        self._spawn(self._every(self.config.rules.sweep_interval_s, self.rules.sweep),
                    "rule sweeps")
        self._spawn(self._every(600.0, self.rules.daily), "daily rules")
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(NotImplementedError, RuntimeError):
                asyncio.get_running_loop().add_signal_handler(
                    signal.SIGHUP, self.rules.source.request_reload)
        remote = self.config.coverage.remote_check
        if remote.enabled:
            self._spawn(self._every(remote.interval_s, self.remote_check.run), "remote check")
        escalation = self.config.escalation
        if escalation.enabled:
            self._spawn(self._every(escalation.tick_s, self._escalate, self._escalation_due),
                        "escalation")
            self._spawn(self._every(escalation.outbox_interval_s, self.outbox.run_once,
                                    self._outbox_due), "outbox")
        # What the daemon holds from its start (code, configuration, the device directory)
        # lives as long as it does: left out of the collector's full passes, which stop every
        # thread, an SOS's included, for as long as they take; and fewer of those passes.
        gc.freeze()
        gc.set_threshold(GC_YOUNGEST, *gc.get_threshold()[1:])

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(self._crashed)
        self._tasks.append(task)

    @staticmethod
    def _crashed(task: asyncio.Task[Any]) -> None:
        if not task.cancelled() and task.exception() is not None:
            logger.critical("worker %s stopped: %r", task.get_name(), task.exception(),
                            exc_info=task.exception())

    async def _first_steps(self, alarms: list[Alarm]) -> None:
        self.outbox.send_leased(await self.escalation.begin(alarms, self.outbox.lease))

    async def _escalate(self) -> None:
        if await self.escalation.tick():
            self._outbox_due.set()

    @staticmethod
    async def _every(seconds: float, job: Any, wake: asyncio.Event | None = None) -> None:
        """Run `job` every `seconds`, and at once whenever `wake` is set."""
        while True:
            if wake is None:
                await asyncio.sleep(seconds)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), seconds)
                wake.clear()
            try:
                await job()
            except Exception:
                logger.exception("periodic job %s failed; will try again",
                                 getattr(job, "__name__", job))

    async def health(self) -> dict[str, Any]:
        """What /api/health reports."""
        database = True
        try:
            async with self.db.sessions() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), 3)
        except Exception:
            database = False
        broker = self.source.connected and self.alarm_source.connected
        ok = database and broker
        return {"status": "ok" if ok else "degraded", "broker": broker,
                "database": database, "devices": len(self.directory),
                "ingest_backlog": self.source.backlog + self.alarm_source.backlog}

    async def stop(self) -> None:
        """Stop the workers, write what is pending, disconnect."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.alarm_source.close()
        await self.source.close()
        await self.outbox.close()
        with contextlib.suppress(Exception):
            await self.pipeline.flush_activity()
        await self.telemetry.close()
        await self.usage.close()
        await close_notifiers(self.notifiers)
        await self.db.close()


async def serve(config: Config, monitor: Monitor | None = None) -> None:
    """Run the daemon and its HTTP API until SIGINT or SIGTERM."""
    from monitor.api.app import create_app

    monitor = monitor or Monitor(config)
    # uvicorn raises the signal that stopped it again once it has stopped; under the default
    # handlers that would end the process before the monitor writes out what it holds.
    held = ({sig: signal.signal(sig, _noted) for sig in (signal.SIGINT, signal.SIGTERM)}
            if threading.current_thread() is threading.main_thread() else {})
    try:
        await monitor.start()
        server = uvicorn.Server(uvicorn.Config(
            create_app(monitor), host=config.api.host, port=config.api.port,
            log_level="warning", access_log=False, lifespan="off",
            # Console event streams never end by themselves: cut them short on shutdown.
            timeout_graceful_shutdown=2,
        ))
        await server.serve()
    finally:
        await monitor.stop()
        for sig, handler in held.items():
            signal.signal(sig, handler)


def _noted(sig: int, frame: Any) -> None:
    """The stop signal, raised again by uvicorn: let the monitor finish; a second one kills."""
    logger.info("signal %s: writing out what is held, then stopping", sig)
    signal.signal(sig, signal.SIG_DFL)
