"""A transaction is all or nothing, savepoints inside it included, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from monitor.store.db import Database
from monitor.store.models import Community


class Boom(Exception):
    pass


async def test_a_released_savepoint_does_not_commit_early(db: Database) -> None:
    with pytest.raises(Boom):
        async with db.transaction() as session:
            await session.execute(select(Community))  # a read first, no write yet
            async with session.begin_nested():
                session.add(Community(id="c1", street="明光路街道", name="东庄社区"))
            session.add(Community(id="c2", street="明光路街道", name="西庄社区"))
            await session.flush()
            raise Boom

    async with db.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(Community))).scalar() == 0
