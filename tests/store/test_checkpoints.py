"""The daemon's SQLite store: no commit copies the write-ahead log into the database (one that
did could take hundreds of milliseconds, an SOS's commit too); a background checkpoint does."""

from __future__ import annotations

from pathlib import Path

from monitor.store.db import Database
from monitor.store.models import Community


async def write_a_lot(db: Database) -> None:
    for chunk in range(5):  # some 6 MB of pages: past SQLite's own checkpoint threshold
        async with db.transaction() as session:
            session.add_all(Community(id=f"c-{chunk}-{i}", street="街" * 60, name="社区" * 30)
                            for i in range(5000))


async def test_commits_leave_the_log_to_the_background_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = Database(f"sqlite:///{path}", background_checkpoints=True)
    await db.migrate()
    try:
        before = path.stat().st_size
        await write_a_lot(db)
        assert path.stat().st_size == before  # everything still in the log
        await db.checkpoint()
        assert path.stat().st_size > before + 4_000_000
        async with db.sessions() as session:
            assert await session.get(Community, "c-4-4999") is not None
    finally:
        await db.close()


async def test_other_users_of_the_store_checkpoint_as_sqlite_does(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = Database(f"sqlite:///{path}")  # the CLI, the tests: nobody checkpoints for them
    await db.migrate()
    try:
        before = path.stat().st_size
        await write_a_lot(db)
        assert path.stat().st_size > before + 4_000_000
    finally:
        await db.close()
