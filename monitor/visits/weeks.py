"""ISO weeks in local time (Asia/Shanghai): the unit the policy counts visits in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from monitor.errors import TanfangError
from monitor.timeutil import LOCAL_TZ, utcnow

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, order=True)
class IsoWeek:
    """One ISO week, Monday to Sunday, local dates."""

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """`2026-W49` -> IsoWeek(2026, 49); a bad text raises TanfangError."""
        match = WEEK.match(text.strip())
        if match is None:
            raise TanfangError(f"week {text!r} is not of the form 2026-W49")
        year, week = int(match[1]), int(match[2])
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise TanfangError(f"week {text!r} does not exist") from None
        return cls(year, week)

    @classmethod
    def of(cls, moment: datetime | date) -> IsoWeek:
        """The week that holds an instant (read in local time) or a local date."""
        day = moment.astimezone(LOCAL_TZ).date() if isinstance(moment, datetime) else moment
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def current(cls, now: datetime | None = None) -> IsoWeek:
        """This week, in local time."""
        return cls.of(now or utcnow())

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def days(self) -> list[date]:
        """Monday to Sunday, local dates."""
        return [self.monday + timedelta(days=i) for i in range(7)]

    @property
    def start(self) -> datetime:
        """Local Monday 00:00, as an aware datetime."""
        return day_start(self.monday)

    @property
    def end(self) -> datetime:
        """Local Monday 00:00 of the next week (exclusive)."""
        return day_start(self.monday + timedelta(days=7))

    def previous(self) -> IsoWeek:
        return IsoWeek.of(self.monday - timedelta(days=7))

    def label(self) -> str:
        """2026年第49周（11月30日—12月6日）, for people to read."""
        first, last = self.monday, self.monday + timedelta(days=6)
        return (f"{self.year}年第{self.week}周（{first.month}月{first.day}日—"
                f"{last.month}月{last.day}日）")


def day_start(day: date) -> datetime:
    """Local midnight at the start of `day`, as an aware datetime."""
    return datetime.combine(day, time(), LOCAL_TZ)
