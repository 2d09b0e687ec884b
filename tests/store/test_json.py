"""JSON columns: Chinese text kept as written, NaN stored as null, on both stores."""

from __future__ import annotations

from sqlalchemy import select, text

from monitor.store.db import Database
from monitor.store.models import RuleState
from monitor.timeutil import utcnow


async def test_json_columns_round_trip_and_nan_becomes_null(db: Database) -> None:
    state = {"备注": "张三的手环", "points": [[1764547200.5, 72.0]], "nan": float("nan")}
    async with db.transaction() as session:
        session.add(RuleState(rule="vitals", subject="wb-1", state=state, updated_at=utcnow()))
    async with db.sessions() as session:
        back = (await session.execute(select(RuleState.state))).scalar_one()
        raw = (await session.execute(text("SELECT CAST(state AS TEXT) FROM rule_state")))
        written = raw.scalar_one()
    assert back == {"备注": "张三的手环", "points": [[1764547200.5, 72.0]], "nan": None}
    assert "张三的手环" in written  # readable in the store, not \\u escapes
