"""The CSV import: rows are checked before anything is written, and all go in or none."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from monitor.store.db import Database
from monitor.store.models import Visit
from monitor.visits.importer import import_visits, read_rows
from monitor.visits.visits import VisitError
from tests.fixtures.factories import MakeElder


def test_bad_rows_are_named() -> None:
    with pytest.raises(VisitError, match="unknown column 'safety.gass'"):
        read_rows("elder_id,method,at,safety.gass\n", "v.csv")
    with pytest.raises(VisitError, match="v.csv: line 3: unknown visit method '家访'"):
        read_rows("elder_id,method,at\nE1,phone,2026-11-03\nE1,家访,2026-11-03\n", "v.csv")
    with pytest.raises(VisitError, match="line 2: safety.gas"):
        read_rows("elder_id,method,at,safety.gas\nE1,phone,2026-11-03,maybe\n", "v.csv")
    (row,) = read_rows("\ufeffelder_id,method,at\nE1,互联网音视频,2026-11-03T08:00:00+08:00\n")
    assert row.method == "video" and row.at.utcoffset() is not None


async def test_an_unknown_elder_imports_nothing(
    sqlite_db: Database, make_elder: MakeElder
) -> None:
    await make_elder(sqlite_db, "E0001")
    rows = read_rows("elder_id,method,at\nE0001,phone,2026-11-03\nE9999,phone,2026-11-03\n")
    with pytest.raises(VisitError, match="line 3: unknown elder 'E9999'"):
        async with sqlite_db.transaction() as session:
            await import_visits(session, rows)
    async with sqlite_db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Visit)) == 0
