"""rules.yaml: thresholds per rule, per category and per elder, quiet hours, the calendar.

Validated by pydantic with `extra="forbid"`: a misspelt key is an error naming the key.
Overrides (`categories:`, `elders:`) are partial copies of the rule sections, merged onto
the defaults; when several categories of one elder set the same duration (`*_hours`,
`*_min`, `*_days`), the tightest (smallest) wins.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.calendar import CareCalendar, CareDayEntry
from monitor.config import describe_error, load_yaml_mapping
from monitor.errors import ConfigError
from monitor.timeutil import LOCAL_TZ


class Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _new(model: type[Any]) -> Any:
    """A default factory (the pydantic mypy types want a plain callable)."""
    return lambda: model.model_validate({})


class VitalsRules(Part):
    heart_rate_low: float = Field(40, description="Heart rate below this (bpm) is too slow.")
    heart_rate_high: float = Field(130, description="Heart rate above this (bpm) is too fast.")
    spo2_low: float = Field(90, description="SpO2 below this (%) is too low.")
    sustain_min: float = Field(5, gt=0, description="Minutes a value must stay out of range.")
    max_gap_min: float = Field(
        15, gt=0, description="Readings further apart than this do not make one sustained run.")
    severity: str = Field("critical", description="Severity of a vital-signs alarm.")


class InactivityRules(Part):
    water_hours: float = Field(12, gt=0, description="Waking hours with under water_min_m3.")
    water_min_m3: float = Field(0.01, ge=0, description="Water in water_hours that is enough.")
    power_hours: float = Field(24, gt=0, description="Waking hours without power use above "
                               "standby (life_per_hour.power_kwh in an hour).")
    motion_hours: float = Field(12, gt=0, description="Waking hours without motion.")
    steps_hours: float = Field(24, gt=0, description="Waking hours without steps.")
    any_hours: float = Field(10, gt=0, description="Waking hours with no sign of life from any "
                             "activity sensor (the combined rule).")
    any_min_sensors: int = Field(2, ge=1, description="The combined rule needs this many "
                                 "online activity sensors (with one, its own rule speaks).")
    life_per_hour: dict[str, float] = Field(
        default_factory=lambda: {"water_m3": 0.001, "power_kwh": 0.2, "steps": 20.0,
                                 "motion": 1.0},
        description="Use in one hour that counts as a sign of life, per metric.")
    severity: str = Field("warning", description="Severity of a single-sensor alarm.")
    any_severity: str = Field("critical", description="Severity of the combined alarm.")


class ContinuousRules(Part):
    water_hours: float = Field(24, gt=0, description="Water drawn in every slot this long.")
    slot_min: int = Field(30, gt=0, description="Slot length (minutes) for the every-slot rule.")
    water_max_m3: float = Field(2.0, gt=0, description="More than this in water_hours alarms.")
    night_power_factor: float = Field(
        3.0, gt=1, description="Night power over this many times the elder's usual night.")
    night_power_min_kwh: float = Field(
        1.0, ge=0, description="... and more than this (kWh) over the quiet hours.")
    severity: str = Field("warning", description="Severity of a continuous-use alarm.")


class DeviceRules(Part):
    offline_heartbeats: float = Field(3, gt=0, description="Silent heartbeat intervals that "
                                      "make a device offline.")
    battery_low_pct: float = Field(20, ge=0, le=100, description="Battery below this is low.")
    button_test_days: float = Field(30, gt=0, description="Days a call button may go untested.")
    severity: str = Field("warning", description="Severity of device-health alarms.")


class RoutineRules(Part):
    history_days: int = Field(21, ge=3, description="Days of history behind the baseline.")
    min_history_days: int = Field(7, ge=1, description="Fewer days: no baseline yet.")
    low_fraction: float = Field(0.25, gt=0, lt=1, description="A day under this fraction of "
                                "the usual daily use is a sharp departure.")
    drift_fraction: float = Field(0.3, gt=0, description="The weekly report lists elders whose "
                                  "last week differs from the baseline by this fraction.")
    severity: str = Field("warning", description="Severity of a routine-departure alarm.")


class QuietHours(Part):
    start: time = Field(time(22, 0), description="Local start of the night.")
    end: time = Field(time(6, 0), description="Local end of the night.")

    def overlap(self, start: datetime, end: datetime) -> timedelta:
        """How much of [start, end) falls in quiet hours (local time)."""
        total = timedelta(0)
        day = start.astimezone(LOCAL_TZ).date() - timedelta(days=1)
        last = end.astimezone(LOCAL_TZ).date()
        while day <= last:
            q0 = datetime.combine(day, self.start, LOCAL_TZ)
            q1 = datetime.combine(day if self.end > self.start else day + timedelta(days=1),
                                  self.end, LOCAL_TZ)
            lo, hi = max(start, q0), min(end, q1)
            if hi > lo:
                total += hi - lo
            day += timedelta(days=1)
        return total

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(LOCAL_TZ).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def waking_start(self, end: datetime, waking: timedelta) -> datetime:
        """The moment before `end` from which `waking` hours outside quiet hours have passed."""
        start = end - waking
        for _ in range(10):  # each round adds the quiet time found; converges in two or three
            extra = self.overlap(start, end)
            candidate = end - waking - extra
            if candidate == start:
                break
            start = candidate
        return start


class RuleSet(Part):
    """The thresholds of every rule; what one elder gets after the overrides."""

    vitals: VitalsRules = Field(default_factory=_new(VitalsRules), description="Sustained vitals.")
    inactivity: InactivityRules = Field(default_factory=_new(InactivityRules),
                                        description="No use, no movement, no sign of life.")
    continuous: ContinuousRules = Field(default_factory=_new(ContinuousRules),
                                        description="Water never off; power high at night.")
    device: DeviceRules = Field(default_factory=_new(DeviceRules), description="Device health.")
    routine: RoutineRules = Field(default_factory=_new(RoutineRules),
                                  description="Departures from the elder's own routine.")


# Tighter for elders with nobody else at home to notice (as config/rules.yaml ships them).
DEFAULT_CATEGORIES: dict[str, dict[str, Any]] = {
    "独居": {"inactivity": {"water_hours": 10, "motion_hours": 10, "any_hours": 8}},
    "失能": {"inactivity": {"water_hours": 10, "any_hours": 8}},
    "重残": {"inactivity": {"any_hours": 8}},
}
OVERRIDABLE = ("vitals", "inactivity", "continuous", "device", "routine")


class RulesFile(RuleSet):
    """The whole rules.yaml."""

    quiet_hours: QuietHours = Field(default_factory=_new(QuietHours), description="Night, local.")
    hysteresis_min: float = Field(
        60, ge=0, description="Minutes a condition must be gone before its alarm clears, and "
        "minutes after a clear before the same alarm may open again.")
    care_day_factor: float = Field(
        0.75, gt=0, le=1, description="Durations are multiplied by this on festival and "
        "extreme-weather days of the calendar.")
    categories: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_CATEGORIES.items()},
        description="Overrides per elder category (独居, 空巢 ...).")
    elders: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="Overrides per elder id (applied last).")
    calendar: list[CareDayEntry] = Field(default_factory=list,
                                         description="Festival and extreme-weather days.")

    @field_validator("categories", "elders")
    @classmethod
    def _overrides_valid(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name, override in value.items():
            unknown = set(override) - set(OVERRIDABLE)
            if unknown:
                raise ValueError(f"{name}: unknown section '{sorted(unknown)[0]}' "
                                 f"(one of {', '.join(OVERRIDABLE)})")
            try:
                RuleSet.model_validate(override)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"{name}.{where}: {first['msg']}") from None
        return value


_TIGHTEST = ("_hours", "_min", "_days")


def _merge(base: dict[str, Any], over: dict[str, Any], tightest: bool) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, tightest)
        elif tightest and key in out and key.endswith(_TIGHTEST) \
                and isinstance(value, int | float) and isinstance(out[key], int | float):
            out[key] = min(out[key], value)
        else:
            out[key] = value
    return out


class Rules:
    """A validated rules file, with the effective thresholds per elder and per day."""

    def __init__(self, spec: RulesFile | None = None) -> None:
        self.spec = spec or RulesFile.model_validate({})
        self.calendar = CareCalendar.from_entries(self.spec.calendar)
        self._base = RuleSet.model_validate(
            {k: getattr(self.spec, k).model_dump() for k in OVERRIDABLE})
        self._cache: dict[tuple[str | None, tuple[str, ...]], RuleSet] = {}

    @property
    def hysteresis(self) -> timedelta:
        return timedelta(minutes=self.spec.hysteresis_min)

    def for_elder(self, elder_id: str | None, categories: list[str] | tuple[str, ...]) -> RuleSet:
        """The thresholds of one elder: defaults, then categories (tightest), then the elder."""
        cats = tuple(sorted(c for c in categories if c in self.spec.categories))
        key = (elder_id if elder_id in self.spec.elders else None, cats)
        found = self._cache.get(key)
        if found is None:
            data = self._base.model_dump()
            merged_cats: dict[str, Any] = {}
            for i, cat in enumerate(cats):
                merged_cats = _merge(merged_cats, self.spec.categories[cat], tightest=i > 0)
            data = _merge(data, merged_cats, tightest=False)
            if key[0] is not None:
                data = _merge(data, self.spec.elders[key[0]], tightest=False)
            found = self._cache[key] = RuleSet.model_validate(data)
        return found

    def factor(self, moment: datetime) -> float:
        """Durations shrink by care_day_factor on care days (local date of `moment`)."""
        day: date = moment.astimezone(LOCAL_TZ).date()
        return self.spec.care_day_factor if self.calendar.on(day) is not None else 1.0

    def tightest(self, field: str) -> float:
        """The smallest value of an inactivity duration over defaults, categories and elders."""
        values = [getattr(self._base.inactivity, field)]
        for override in [*self.spec.categories.values(), *self.spec.elders.values()]:
            value = (override.get("inactivity") or {}).get(field)
            if isinstance(value, int | float):
                values.append(value)
        return float(min(values)) * min(1.0, self.spec.care_day_factor)


def parse_rules(text: str, source: str) -> Rules:
    """Validate the text of a rules file; ConfigError names the bad key."""
    loaded = load_yaml_mapping(text, source)
    try:
        return Rules(RulesFile.model_validate(loaded))
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, source)) from None


def read_rules(path: str | Path | None) -> Rules:
    """Read and validate rules.yaml (None: the built-in defaults)."""
    if path is None:
        return Rules()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"rules file not found: {file}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read rules file {file}: {exc.strerror}") from None
    return parse_rules(text, str(file))


@lru_cache(maxsize=1)
def default_rules() -> Rules:
    """The built-in defaults (the same as config/rules.yaml ships)."""
    return Rules()
