"""SQLite keeps datetimes as text: ours must be exactly the text SQLAlchemy's DATETIME writes
(rows written before and after compare as strings), and read back to the same instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import DATETIME

from monitor.store.models import _sqlite_datetime, _sqlite_text

SQLALCHEMY_TEXT = DATETIME().bind_processor(sqlite.dialect())
OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-5))])


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1),
                    timezones=OFFSETS))
def test_the_same_text_as_sqlalchemy_and_the_same_instant_back(moment: datetime) -> None:
    naive_utc = moment.astimezone(UTC).replace(tzinfo=None)
    assert SQLALCHEMY_TEXT is not None
    assert _sqlite_text(moment) == SQLALCHEMY_TEXT(naive_utc)
    assert _sqlite_datetime(_sqlite_text(moment)) == moment


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        _sqlite_text(datetime(2026, 12, 4, 12, 0))
