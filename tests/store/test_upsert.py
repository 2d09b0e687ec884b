"""Insert-or-skip and upsert, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from sqlalchemy import select

from monitor.store.db import Database
from monitor.store.models import Community
from monitor.store.upsert import insert_ignore_many, upsert


def communities(*ids: str, name: str = "东庄社区") -> list[dict[str, str]]:
    return [{"id": i, "street": "明光路街道", "name": name} for i in ids]


async def test_rows_whose_key_exists_are_skipped_and_not_counted(db: Database) -> None:
    async with db.transaction() as session:
        assert await insert_ignore_many(session, Community, communities("a", "b")) == 2
    async with db.transaction() as session:
        assert await insert_ignore_many(
            session, Community, communities("a", "b", "c", name="新名字")) == 1
        assert await insert_ignore_many(session, Community, []) == 0
    async with db.sessions() as session:
        names = dict((await session.execute(select(Community.id, Community.name))).all())
    assert names == {"a": "东庄社区", "b": "东庄社区", "c": "新名字"}


async def test_upsert_updates_only_the_columns_named(db: Database) -> None:
    async with db.transaction() as session:
        await upsert(session, Community, communities("a"), keys=["id"], update=["name"])
        await upsert(session, Community, [{"id": "a", "street": "别的街道", "name": "西庄社区"},
                                          *communities("b")], keys=["id"], update=["name"])
    async with db.sessions() as session:
        rows = {c.id: (c.street, c.name) for c in (await session.scalars(select(Community)))}
    assert rows == {"a": ("明光路街道", "西庄社区"), "b": ("明光路街道", "东庄社区")}
