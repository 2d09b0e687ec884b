"""Portable INSERT ... ON CONFLICT for SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def _insert(session: AsyncSession, model: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def insert_ignore(session: AsyncSession, model: Any, row: dict[str, Any]) -> bool:
    """Insert one row unless its key exists; True if it was inserted."""
    result = await session.execute(_insert(session, model).values(**row).on_conflict_do_nothing())
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def insert_ignore_many(
    session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]], returning: Any
) -> int:
    """Insert rows in one statement, skipping those whose key exists; how many went in."""
    if not rows:
        return 0
    stmt = _insert(session, model).values(list(rows)).on_conflict_do_nothing()
    return len((await session.execute(stmt.returning(returning))).all())


async def upsert(
    session: AsyncSession, model: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert rows, or update the `update` columns of the rows whose `keys` exist."""
    if not rows:
        return
    stmt = _insert(session, model)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys), set_={c: getattr(stmt.excluded, c) for c in update}
    )
    await session.execute(stmt, list(rows))
