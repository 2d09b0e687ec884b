"""Import visits kept in another system from CSV; importing the same file again changes nothing.

Columns (a header line first, UTF-8, a BOM is fine):
`elder_id`, `method` (home_visit, phone, video, other, or 上门探访, 电话问候, 互联网音视频, 其他),
`at` (2026-12-03T09:30:00+08:00, 2026-12-03 09:30 or 2026-12-03; local time if no offset),
and optionally `by`, `ref` (the other system's id of the visit), `note`, and findings as
dotted columns (`safety.gas` = `unsafe`, `needs` = text; see monitor/visits/findings.py).
A row is identified by `ref`, else by its elder, method, time and visitor together.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import datetime, time

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.timeutil import LOCAL_TZ
from monitor.visits.findings import findings_columns, from_flat
from monitor.visits.visits import MANUAL_METHODS, NewVisit, VisitError, method_of, record_visit

BASE_COLUMNS = ("elder_id", "method", "at", "by", "ref", "note")
REQUIRED = ("elder_id", "method", "at")


@dataclass
class ImportSummary:
    rows: int
    added: int
    updated: int

    def __str__(self) -> str:
        return f"imported {self.rows} visits: {self.added} new, {self.updated} updated"


def parse_time(text: str) -> datetime:
    """An aware datetime from an ISO date or date-time; without an offset it is local time."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise VisitError(f"time {text!r} is not an ISO date or date-time") from None
    if len(value) == 10:
        moment = datetime.combine(moment.date(), time(12), LOCAL_TZ)  # a date alone: noon
    return moment if moment.tzinfo else moment.replace(tzinfo=LOCAL_TZ)


def read_rows(data: bytes | str, source: str = "CSV") -> list[NewVisit]:
    """Validate every row of a visits CSV; the first problem raises VisitError naming it."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    known = set(BASE_COLUMNS) | set(findings_columns())
    unknown = [h for h in header if h not in known]
    if unknown:
        raise VisitError(f"{source}: unknown column {unknown[0]!r}")
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise VisitError(f"{source}: missing column {missing[0]!r}")
    visits = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k}
        try:
            visits.append(_row(row))
        except VisitError as exc:
            raise VisitError(f"{source}: line {line}: {exc}") from None
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise VisitError(f"{source}: line {line}: {where}: {err['msg']}") from None
    return visits


def _row(row: dict[str, str]) -> NewVisit:
    for name in REQUIRED:
        if not row.get(name):
            raise VisitError(f"{name} is empty")
    method = method_of(row["method"])
    if method not in MANUAL_METHODS:
        raise VisitError("remote_monitoring is logged only by the remote check, not imported")
    at = parse_time(row["at"])
    by = row.get("by") or None
    ref = row.get("ref") or None
    if ref is None:
        key = "|".join([row["elder_id"], method, at.isoformat(), by or ""])
        ref = "sha1:" + hashlib.sha1(key.encode()).hexdigest()
    findings = from_flat({k: v for k, v in row.items() if k not in BASE_COLUMNS})
    return NewVisit(elder_id=row["elder_id"], method=method, at=at, by=by, source="import",
                    source_ref=ref, findings=findings.stored(), note=row.get("note") or None)


async def import_visits(session: AsyncSession, visits: list[NewVisit]) -> ImportSummary:
    """Record the rows in the caller's transaction (all or nothing)."""
    added = 0
    for index, new in enumerate(visits, start=2):
        try:
            _, created = await record_visit(session, new)
        except VisitError as exc:
            raise VisitError(f"line {index}: {exc}") from None
        added += int(created)
    return ImportSummary(len(visits), added, len(visits) - added)
