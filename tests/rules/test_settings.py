"""rules.yaml: validation naming the key, overrides, the calendar, reload without restart."""

from __future__ import annotations

import logging
import os
from datetime import date
from pathlib import Path

import pytest

from monitor.errors import ConfigError
from monitor.rules.settings import Rules, parse_rules, read_rules
from monitor.rules.source import RulesSource
from tests.rules.common import utc

SHIPPED = Path(__file__).parents[2] / "config" / "rules.yaml"


def test_the_shipped_file_is_the_built_in_defaults() -> None:
    shipped = read_rules(SHIPPED)
    assert shipped.for_elder("E1", ["独居"]) == Rules().for_elder("E1", ["独居"])
    assert shipped.for_elder(None, []).inactivity.water_hours == 12
    assert shipped.calendar.on(date(2026, 12, 22)) is not None  # 冬至


@pytest.mark.parametrize(("text", "message"), [
    ("inactivity: {water_hour: 3}\n", "unknown key 'inactivity.water_hour'"),
    ("hysteresis_min: -1\n", "hysteresis_min: Input should be greater than or equal to 0"),
    ("categories: {独居: {inactivty: {}}}\n", "unknown section 'inactivty'"),
    ("elders: {E1: {vitals: {spo2_lo: 3}}}\n", "E1.vitals.spo2_lo"),
    ("calendar: [{date: 2026-12-22, kind: party, name: x}]\n", "calendar.0.kind"),
    ("inactivity: [1\n", "not valid YAML at line"),
])
def test_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules(text, "rules.yaml")
    assert message in str(caught.value) and str(caught.value).startswith("rules.yaml")


def test_care_days_shrink_durations() -> None:
    rules = parse_rules("care_day_factor: 0.5\ncalendar:\n  - {from: 2026-07-20, to: "
                        "2026-07-22, kind: extreme_weather, name: 高温}\n", "rules.yaml")
    assert rules.factor(utc(2026, 7, 21, 3)) == 0.5
    assert rules.factor(utc(2026, 7, 22, 17)) == 1.0  # 01:00 local on the 23rd
    assert rules.tightest("water_hours") == 10 * 0.5  # 独居 by default, on a care day


def test_reload_on_change_keeps_the_old_rules_on_a_bad_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("inactivity: {water_hours: 12}\n", encoding="utf-8")
    source = RulesSource(path)
    assert source.current().for_elder(None, []).inactivity.water_hours == 12
    path.write_text("inactivity: {water_hours: 6}\n", encoding="utf-8")
    os.utime(path, (1, 1))  # a different mtime, whatever the clock's resolution
    assert source.current().for_elder(None, []).inactivity.water_hours == 6
    path.write_text("inactivity: {water_hourz: 2}\n", encoding="utf-8")
    os.utime(path, (2, 2))
    with caplog.at_level(logging.ERROR, "monitor.rules.source"):
        assert source.current().for_elder(None, []).inactivity.water_hours == 6
        assert source.current().for_elder(None, []).inactivity.water_hours == 6
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "water_hourz" in errors[0].getMessage()  # one clear line
    path.write_text("inactivity: {water_hours: 9}\n", encoding="utf-8")
    os.utime(path, (2, 2))  # same mtime: only a SIGHUP makes it look
    assert source.current().for_elder(None, []).inactivity.water_hours == 6
    source.request_reload()
    assert source.current().for_elder(None, []).inactivity.water_hours == 9
