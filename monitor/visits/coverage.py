"""Weekly coverage: how many contacts each elder needs in an ISO week, and whether they had them.

Defaults follow the district policy: every elder 1 contact a week; key objects (重点对象) 2,
at least 1 of them by a person (phone, video or home visit); one more in a week that holds a
festival or extreme-weather day of the care calendar. Several person contacts on the same
local day count once (two calls ten minutes apart are not a more frequent visit); a week
of remote monitoring counts once. Per-elder overrides live in `Elder.overrides["coverage"]`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.calendar import CareCalendar, CareDay
from monitor.config import CoverageConfig
from monitor.privacy import mask_name
from monitor.store.models import VISIT_METHODS, Community, Elder, Visit
from monitor.timeutil import to_local
from monitor.visits.visits import PERSON_METHODS, visits_in_week
from monitor.visits.weeks import IsoWeek

logger = logging.getLogger(__name__)


class CoverageOverride(BaseModel):
    """What `Elder.overrides["coverage"]` may set for one elder."""

    model_config = ConfigDict(extra="forbid")

    contacts: int | None = Field(None, ge=0, description="Contacts per week (before care weeks).")
    person_contacts: int | None = Field(None, ge=0, description="Of those, by a person.")
    remote_counts: bool | None = Field(None, description="Whether remote monitoring counts.")
    care_week_extra: int | None = Field(None, ge=0, description="Extra in care weeks.")


@dataclass(frozen=True)
class Requirement:
    """What one elder needs in one week."""

    contacts: int
    person_contacts: int
    remote_counts: bool


def override_of(elder: Elder) -> CoverageOverride:
    """The elder's coverage override; a malformed one is logged and ignored."""
    raw = (elder.overrides or {}).get("coverage") or {}
    try:
        return CoverageOverride.model_validate(raw)
    except ValidationError as exc:
        logger.warning("elder %s: coverage override ignored: %s", elder.id,
                       exc.errors()[0]["msg"])
        return CoverageOverride.model_validate({})


def requirement(
    elder: Elder, settings: CoverageConfig, care_days: Sequence[CareDay]
) -> Requirement:
    """The contacts an elder needs in a week with these care days."""
    over = override_of(elder)
    if elder.key_object:
        contacts = settings.key_object_contacts
        person = settings.key_object_person_contacts
        remote = settings.remote_counts_for_key_objects
    else:
        contacts, person, remote = settings.weekly_contacts, 0, True
    contacts = over.contacts if over.contacts is not None else contacts
    person = over.person_contacts if over.person_contacts is not None else person
    remote = over.remote_counts if over.remote_counts is not None else remote
    extra = over.care_week_extra if over.care_week_extra is not None else settings.care_week_extra
    if care_days and contacts > 0:
        contacts += extra
    return Requirement(contacts, min(person, contacts), remote)


@dataclass
class ElderWeek:
    """One elder's row of the weekly report."""

    elder: Elder
    community: Community
    need: Requirement
    contacts: dict[str, int]
    counted: int
    person_counted: int
    last_visit_at: datetime | None
    remote_days: int | None

    @property
    def covered(self) -> bool:
        need = self.need
        return self.counted >= need.contacts and self.person_counted >= need.person_contacts

    @property
    def required(self) -> bool:
        return self.need.contacts > 0

    def reasons(self) -> list[str]:
        """Why the elder is not covered yet, in plain Chinese; empty when covered."""
        if self.covered:
            return []
        out: list[str] = []
        if self.counted == 0 and not any(self.contacts.values()):
            out.append("本周尚无任何联系")
        missing = self.need.contacts - self.counted
        if missing > 0:
            out.append(f"还需 {missing} 次联系（本周需 {self.need.contacts} 次，"
                       f"已计 {self.counted} 次）")
        if self.person_counted < self.need.person_contacts:
            out.append("需至少一次人工联系（电话、视频或上门）" if self.need.person_contacts == 1
                       else f"需至少 {self.need.person_contacts} 次人工联系（电话、视频或上门）")
        if self.contacts.get("remote_monitoring") and not self.need.remote_counts:
            out.append("远程监测不计入该老人的探访次数")
        return out

    def as_api(self) -> dict[str, Any]:
        return {
            "elder_id": self.elder.id,
            "elder_name": mask_name(self.elder.name),
            "community": self.community.id,
            "community_name": self.community.name,
            "street": self.community.street,
            "key_object": self.elder.key_object,
            "required": self.need.contacts,
            "person_required": self.need.person_contacts,
            "remote_counts": self.need.remote_counts,
            "contacts": self.contacts,
            "counted": self.counted,
            "covered": self.covered,
            "reasons": self.reasons(),
            "visit_contact": mask_name(self.elder.visit_contact) or None,
            "last_visit_at": self.last_visit_at,
            "remote_days": self.remote_days,
        }


@dataclass
class CommunityWeek:
    street: str
    community: str
    community_name: str
    elders: int = 0
    key_objects: int = 0
    required: int = 0
    covered: int = 0
    contacts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VISIT_METHODS, 0))

    @property
    def uncovered(self) -> int:
        return self.required - self.covered

    def add(self, row: ElderWeek) -> None:
        self.elders += 1
        self.key_objects += int(row.elder.key_object)
        if row.required:
            self.required += 1
            self.covered += int(row.covered)
        for method, n in row.contacts.items():
            self.contacts[method] = self.contacts.get(method, 0) + n

    def as_api(self) -> dict[str, Any]:
        return {
            "street": self.street, "community": self.community,
            "community_name": self.community_name, "elders": self.elders,
            "key_objects": self.key_objects, "required": self.required,
            "covered": self.covered, "uncovered": self.uncovered, "contacts": self.contacts,
        }


@dataclass
class CoverageReport:
    """The week's coverage of the elders one caller may see."""

    week: IsoWeek
    care_days: list[CareDay]
    rows: list[ElderWeek]

    def by_community(self) -> list[CommunityWeek]:
        """Totals per community, by street then community id."""
        groups: dict[str, CommunityWeek] = {}
        for row in self.rows:
            c = row.community
            group = groups.setdefault(c.id, CommunityWeek(c.street, c.id, c.name))
            group.add(row)
        return sorted(groups.values(), key=lambda g: (g.street, g.community))

    def total(self) -> CommunityWeek:
        """Totals over everything in the report."""
        whole = CommunityWeek("", "", "")
        for row in self.rows:
            whole.add(row)
        return whole

    def streets(self) -> list[str]:
        return sorted({row.community.street for row in self.rows})

    def as_api(self) -> dict[str, Any]:
        """The body of `GET /api/coverage` (the contract's shape plus additions)."""
        total = self.total()
        return {
            "week": str(self.week),
            "week_label": self.week.label(),
            "care_days": [{"date": d.day.isoformat(), "kind": d.kind, "name": d.name}
                          for d in self.care_days],
            "elders": [row.as_api() for row in self.rows],
            "summary": {"required": total.required, "covered": total.covered,
                        "uncovered": total.uncovered, "elders": total.elders,
                        "contacts": total.contacts},
            "by_community": [g.as_api() for g in self.by_community()],
        }


def count_contacts(visits: Sequence[Visit], need: Requirement) -> tuple[int, int]:
    """(contacts counted, of which by a person): one per local day and method kind."""
    person_days: set[date] = set()
    other_days: set[date] = set()
    remote = False
    for visit in visits:
        day = to_local(visit.at).date()
        if visit.method in PERSON_METHODS:
            person_days.add(day)
        elif visit.method == "remote_monitoring":
            remote = True
        else:
            other_days.add(day)
    # An "other" contact on a day with a person's contact adds nothing.
    counted = len(person_days) + len(other_days - person_days)
    if remote and need.remote_counts:
        counted += 1
    return counted, len(person_days)


async def weekly_coverage(
    session: AsyncSession, week: IsoWeek, settings: CoverageConfig,
    calendar: CareCalendar | None = None, community_id: str | None = None,
) -> CoverageReport:
    """The coverage of every active elder (of one community, if given) in the week."""
    care_days = (calendar or CareCalendar()).in_week(week.year, week.week)
    query = (select(Elder, Community).join(Community, Community.id == Elder.community_id)
             .where(Elder.active.is_(True)))
    if community_id is not None:
        query = query.where(Elder.community_id == community_id)
    pairs = (await session.execute(
        query.order_by(Community.street, Community.id, Elder.id))).tuples().all()
    ids = [elder.id for elder, _ in pairs]
    by_elder: dict[str, list[Visit]] = {}
    for visit in await visits_in_week(session, week, ids if community_id else None):
        by_elder.setdefault(visit.elder_id, []).append(visit)
    last = await _last_visits(session, week, ids if community_id else None)
    rows = []
    for elder, community in pairs:
        visits = by_elder.get(elder.id, [])
        need = requirement(elder, settings, care_days)
        counted, person = count_contacts(visits, need)
        methods = Counter(v.method for v in visits)
        remote = next((v for v in visits if v.source == "remote_check"), None)
        rows.append(ElderWeek(
            elder, community, need, {m: methods.get(m, 0) for m in VISIT_METHODS}, counted,
            person, last.get(elder.id),
            len(remote.evidence.get("days", [])) if remote is not None else None,
        ))
    return CoverageReport(week, care_days, rows)


async def _last_visits(
    session: AsyncSession, week: IsoWeek, elder_ids: list[str] | None
) -> dict[str, datetime]:
    query = select(Visit.elder_id, func.max(Visit.at)).where(Visit.at < week.end)
    if elder_ids is not None:
        query = query.where(Visit.elder_id.in_(elder_ids))
    rows = await session.execute(query.group_by(Visit.elder_id))
    return {elder_id: at for elder_id, at in rows.all()}
