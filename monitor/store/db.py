"""Engine, sessions and migrations of the state store (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pydantic_core
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from monitor.urgency import Urgency

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """Map the contract's `sqlite:///...` and `postgresql://...` to their asyncio drivers."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}.get(
        parsed.drivername, parsed.drivername
    )
    if parsed.drivername == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


WRITE_OPTION = "tanfang_write"
PREEMPT_OPTION = "tanfang_preempt"


class Preempted(Exception):
    """A preemptible transaction gave SQLite's writer up to an alarm: it was rolled back,
    nothing of it was written, and it is to be done again."""


def _sqlite_connect(dbapi_connection: Any, _record: Any, checkpoints: bool = True) -> None:
    # The driver's own transaction handling would start transactions late and let RELEASE
    # SAVEPOINT commit early; SQLAlchemy's recipe: the driver emits nothing, we BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    if not checkpoints:  # the daemon checkpoints in the background (Database.checkpoint)
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A transaction (Database.transaction) takes the write lock at once with IMMEDIATE,
    # waiting up to busy_timeout for it, instead of failing at its first write when another
    # connection wrote since it last read. A read (Database.sessions) is a plain BEGIN: in WAL
    # mode it neither waits for the writer nor holds it up.
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _sqlite_preempt(connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
    # Before each statement of a preemptible transaction: an alarm waits, so give way (but
    # a rollback to a savepoint, on the way out, goes on).
    urgency = connection.get_execution_options().get(PREEMPT_OPTION)
    if urgency is not None and urgency.active and not statement.startswith("ROLLBACK"):
        raise Preempted("an alarm is being committed")


def make_engine(url: str, checkpoints: bool = True) -> AsyncEngine:
    """An async engine for the store; SQLite gets WAL, a busy timeout and foreign keys, and
    (`checkpoints`) copies its log into the database whenever a commit has filled it."""
    full = async_url(url)
    # JSON columns (rule state, alarm details) through pydantic's encoder and parser: about a
    # third of the standard library's time on the vital-sign windows the rules keep; NaN and
    # infinities become null (PostgreSQL's JSON has no place for them).
    codec = {"json_serializer": _json_text, "json_deserializer": pydantic_core.from_json}
    if full.startswith("sqlite"):
        engine = create_async_engine(full, **codec)
        event.listen(engine.sync_engine, "connect",
                     functools.partial(_sqlite_connect, checkpoints=checkpoints))
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        event.listen(engine.sync_engine, "before_cursor_execute", _sqlite_preempt)
    else:
        engine = create_async_engine(full, pool_size=10, max_overflow=10, pool_pre_ping=True,
                                     **codec)
    return engine


def _json_text(value: Any) -> str:
    return pydantic_core.to_json(value, inf_nan_mode="null").decode()


class Database:
    """The store: one engine and its session factory."""

    def __init__(self, url: str, background_checkpoints: bool = False) -> None:
        """`background_checkpoints`: on SQLite, no commit copies the write-ahead log into
        the database (a commit that did took hundreds of milliseconds, an SOS's too); the
        owner calls `checkpoint` every second or so instead (the daemon does)."""
        self.url = url
        self.engine = make_engine(url, checkpoints=not background_checkpoints)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer, and its busy handler is not fair: a writer that commits and
        # begins again at once can starve a waiting one (the escalation behind the usage
        # writer) past the busy timeout. Writers of this process queue here instead.
        self._writer = WriterQueue() if self.is_sqlite else None
        self.urgency = Urgency()
        self._writing: ContextVar[bool] = ContextVar(f"writing-{id(self)}", default=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self, background: bool = False,
                          preemptible: bool = False) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction, committed on success, rolled back on error.

        `background` marks bulk work (usage, device activity, sweeps): it waits while an
        alarm is being committed (monitor/urgency.py) and, on SQLite, lets waiting alarms,
        escalation steps and people's actions write first. `preemptible` bulk work goes
        further on SQLite: should an alarm come while it holds the one writer, its next
        statement raises `Preempted` and the transaction is rolled back, for the caller to do
        again; the alarm need not wait for it to finish.
        """
        if background or preemptible:
            await self.urgency.step_aside()
        options: dict[str, Any] = {WRITE_OPTION: True}
        if preemptible and self.is_sqlite:
            options[PREEMPT_OPTION] = self.urgency
        if self._writer is None or self._writing.get():
            async with self.sessions() as session, session.begin():
                await session.connection(execution_options=options)
                yield session
            return
        async with self._writer.turn(background or preemptible):
            token = self._writing.set(True)
            try:
                async with self.sessions() as session, session.begin():
                    await session.connection(execution_options=options)
                    yield session
            finally:
                self._writing.reset(token)

    async def checkpoint(self) -> None:
        """SQLite: copy the write-ahead log into the database, as far as readers allow, while
        writers go on (PASSIVE). Nothing to do on PostgreSQL."""
        if not self.is_sqlite:
            return
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection  # aiosqlite's connection, outside any BEGIN
            cursor = await driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
            await cursor.close()

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        await asyncio.to_thread(upgrade, self.url)

    async def close(self) -> None:
        await self.engine.dispose()


class WriterQueue:
    """Turns at SQLite's one writer for this process's tasks: first come, first served, except
    that background work waits while anything else is waiting."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())

    @asynccontextmanager
    async def turn(self, background: bool = False) -> AsyncIterator[None]:
        if self._busy:  # while nobody holds the turn, nobody waits for it
            ticket = asyncio.get_running_loop().create_future()
            self._waiting[1 if background else 0].append(ticket)
            try:
                await ticket
            except asyncio.CancelledError:
                if ticket.done() and not ticket.cancelled():
                    self._pass_on()  # handed the turn while being cancelled: pass it on
                raise
        else:
            self._busy = True
        try:
            yield
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        for queue in self._waiting:
            while queue:
                ticket = queue.popleft()
                if not ticket.done():  # a cancelled waiter's ticket is skipped
                    ticket.set_result(None)
                    return
        self._busy = False


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str) -> None:
    """Run Alembic's upgrade to head (blocking; call from a thread inside the event loop)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")
