"""Recording visits: by staff, from an import, from the remote check (alarms log their own)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.errors import TanfangError
from monitor.store.models import VISIT_METHODS, Elder, Visit
from monitor.store.upsert import insert_ignore
from monitor.timeutil import utcnow
from monitor.visits.weeks import IsoWeek

logger = logging.getLogger(__name__)

# The record form's names for the methods (探访方式).
METHOD_LABELS = {
    "home_visit": "上门探访",
    "phone": "电话问候",
    "video": "互联网音视频",
    "remote_monitoring": "远程监测",
    "other": "其他",
}
# Contacts in which a person spoke with or saw the elder.
PERSON_METHODS = frozenset({"home_visit", "phone", "video"})
# Remote monitoring is logged only by the remote check, with its evidence, never by hand.
MANUAL_METHODS = ("home_visit", "phone", "video", "other")
SOURCES = ("alarm", "remote_check", "staff", "import")
# A visitor's clock may run a little ahead of ours.
_FUTURE_SLACK = timedelta(minutes=10)


class VisitError(TanfangError):
    """A visit that cannot be recorded (unknown elder, method, a time in the future...)."""


@dataclass(frozen=True)
class NewVisit:
    """A visit to record; `source_ref` makes recording it again a no-op or an update."""

    elder_id: str
    method: str
    at: datetime
    by: str | None
    source: str
    source_ref: str | None = None
    findings: dict[str, Any] | None = None
    evidence: dict[str, Any] | None = None
    note: str | None = None


def method_of(text: str) -> str:
    """A method from its code or its Chinese name (电话问候 -> phone)."""
    value = text.strip()
    if value in VISIT_METHODS:
        return value
    for code, label in METHOD_LABELS.items():
        if value == label:
            return code
    raise VisitError(f"unknown visit method {text!r}; one of {', '.join(VISIT_METHODS)}")


async def record_visit(session: AsyncSession, new: NewVisit) -> tuple[Visit, bool]:
    """Insert a visit, or update the one with the same (source, source_ref); True if new."""
    if new.method not in VISIT_METHODS:
        raise VisitError(f"unknown visit method {new.method!r}")
    if new.source not in SOURCES:
        raise VisitError(f"unknown visit source {new.source!r}")
    if new.at.tzinfo is None:
        raise VisitError("a visit time needs a time zone")
    if new.at > utcnow() + _FUTURE_SLACK:
        raise VisitError(f"visit time {new.at.isoformat()} is in the future")
    if await session.get(Elder, new.elder_id) is None:
        raise VisitError(f"unknown elder {new.elder_id!r}")
    row = {"elder_id": new.elder_id, "method": new.method, "at": new.at, "by": new.by,
           "source": new.source, "source_ref": new.source_ref, "findings": new.findings or {},
           "evidence": new.evidence or {}, "note": new.note, "created_at": utcnow()}
    if new.source_ref is None:
        visit = Visit(**row)
        session.add(visit)
        await session.flush()
        return visit, True
    # INSERT ... ON CONFLICT DO NOTHING, not a savepoint: safe against a concurrent insert
    # of the same reference, and atomic on SQLite too (pysqlite's savepoints are not).
    inserted = await insert_ignore(session, Visit, row)
    existing = await _by_ref(session, new.source, new.source_ref)
    assert existing is not None
    if inserted:
        return existing, True
    existing.elder_id = new.elder_id
    existing.method = new.method
    existing.at = new.at
    existing.by = new.by
    existing.findings = new.findings or {}
    existing.evidence = new.evidence or existing.evidence
    existing.note = new.note
    return existing, False


async def _by_ref(session: AsyncSession, source: str, ref: str | None) -> Visit | None:
    if ref is None:
        return None
    return (await session.execute(
        select(Visit).where(Visit.source == source, Visit.source_ref == ref)
    )).scalar_one_or_none()


async def visits_in_week(
    session: AsyncSession, week: IsoWeek, elder_ids: Sequence[str] | None = None
) -> list[Visit]:
    """The visits whose local time falls in the week, oldest first."""
    query = select(Visit).where(Visit.at >= week.start, Visit.at < week.end)
    if elder_ids is not None:
        query = query.where(Visit.elder_id.in_(list(elder_ids)))
    return list((await session.execute(query.order_by(Visit.at, Visit.id))).scalars())


def visit_out(visit: Visit) -> dict[str, Any]:
    """A visit as the API shows it."""
    return {
        "id": visit.id, "elder_id": visit.elder_id, "method": visit.method,
        "method_name": METHOD_LABELS.get(visit.method, visit.method), "at": visit.at,
        "by": visit.by, "source": visit.source, "source_ref": visit.source_ref,
        "findings": visit.findings, "evidence": visit.evidence, "note": visit.note,
        "created_at": visit.created_at,
    }

