"""The care calendar: festival and extreme-weather days, when the policy asks for more care.

The rules tighten their thresholds on these days and the coverage policy raises the number
of contacts in the weeks that hold them. Days are local dates (Asia/Shanghai). It is read
from the `calendar:` list of rules.yaml:

    calendar:
      - {date: 2026-12-22, kind: festival, name: 冬至}
      - {from: 2026-07-20, to: 2026-07-26, kind: extreme_weather, name: 高温}
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

CareKind = Literal["festival", "extreme_weather"]


class CareDayEntry(BaseModel):
    """One line of the calendar: a single `date`, or a range `from` .. `to` (inclusive)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    day: date | None = Field(None, alias="date", description="The day (local date).")
    start: date | None = Field(None, alias="from", description="First day of a range.")
    end: date | None = Field(None, alias="to", description="Last day of a range, inclusive.")
    kind: CareKind = Field(description="festival or extreme_weather.")
    name: str = Field(description="What people call it: 春节, 高温, 寒潮 ...")

    @model_validator(mode="after")
    def _one_day_or_range(self) -> CareDayEntry:
        if (self.day is None) == (self.start is None or self.end is None):
            raise ValueError("give either date, or both from and to")
        if self.start and self.end and self.end < self.start:
            raise ValueError("to is before from")
        return self

    def days(self) -> list[date]:
        """Every local date the entry covers."""
        if self.day is not None:
            return [self.day]
        assert self.start is not None and self.end is not None
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass(frozen=True)
class CareDay:
    day: date
    kind: CareKind
    name: str


@dataclass(frozen=True)
class CareCalendar:
    """Days of more care, looked up by local date or by ISO week."""

    by_day: dict[date, CareDay] = field(default_factory=dict)

    @classmethod
    def from_entries(cls, entries: Iterable[CareDayEntry | dict[str, object]]) -> CareCalendar:
        """Build from calendar entries (validated models or plain mappings)."""
        by_day: dict[date, CareDay] = {}
        for raw in entries:
            entry = raw if isinstance(raw, CareDayEntry) else CareDayEntry.model_validate(raw)
            for day in entry.days():
                by_day[day] = CareDay(day, entry.kind, entry.name)
        return cls(by_day)

    def on(self, day: date) -> CareDay | None:
        """The care day on this local date, if it is one."""
        return self.by_day.get(day)

    def in_week(self, year: int, week: int) -> list[CareDay]:
        """The care days of ISO week `year`-W`week`, in date order."""
        monday = date.fromisocalendar(year, week, 1)
        found = (self.by_day.get(monday + timedelta(days=i)) for i in range(7))
        return [d for d in found if d is not None]
