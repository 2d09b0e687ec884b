"""The demo district: a believable Yaohai registry in the operator contract's shape."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from devices.simulator import demo_registry
from devices.simulator.district import STREETS
from monitor.alarms.roster import covers
from monitor.store.models import CATEGORIES, DEVICE_TYPES
from monitor.timeutil import LOCAL_TZ

PHONE = re.compile(r"^\+86138000\d{5}$")


def test_demo_district_shape() -> None:
    reg = demo_registry(120, seed=0)
    streets = {s for s, _, _ in STREETS}
    assert len(reg["elders"]) == 120
    communities = {c["id"]: c for c in reg["communities"]}
    assert {c["street"] for c in communities.values()} <= streets
    assert len({c["street"] for c in communities.values()}) >= 10
    ids, device_ids, phones = set(), [], []
    for elder in reg["elders"]:
        assert re.match(r"^E\d{4}$", elder["id"]) and elder["id"] not in ids
        ids.add(elder["id"])
        assert elder["community"] in communities
        assert 2 <= len(elder["name"]) <= 3
        assert set(elder["categories"]) <= set(CATEGORIES) and elder["categories"]
        assert ("高龄" in elder["categories"]) == (2026 - elder["birth_year"] >= 80)
        assert elder["address"].startswith("合肥市瑶海区")
        assert elder["contacts"] and elder["visit_contact"]
        phones += [elder["phone"], elder["visit_contact_phone"]]
        phones += [c["phone"] for c in elder["contacts"]]
        for dev in elder["devices"]:
            assert dev["type"] in DEVICE_TYPES
            device_ids.append(dev["id"])
    assert all(PHONE.match(p) for p in phones)
    assert len(set(phones)) == len(phones)
    assert len(set(device_ids)) == len(device_ids)
    without = sum(1 for e in reg["elders"] if not e["devices"])
    assert 1 <= without <= 15  # a few elders are visited only
    kinds = Counter(d["type"] for e in reg["elders"] for d in e["devices"])
    assert set(kinds) == set(DEVICE_TYPES)


def test_duty_roster_covers_every_community_every_day() -> None:
    reg = demo_registry(120, seed=0)
    roster = reg["duty_roster"]
    for community in reg["communities"]:
        days = {r["weekday"] for r in roster if r["community"] == community["id"]}
        assert days == set(range(7))  # 0 = Monday
    assert all(PHONE.match(r["phone"]) and re.match(r"^\d\d:\d\d$", r["starts"]) for r in roster)


def test_someone_is_on_duty_for_every_community_at_every_hour_of_the_week() -> None:
    reg = demo_registry(120, seed=0)
    shifts = [SimpleNamespace(community_id=r["community"], **{k: r[k] for k in (
        "weekday", "starts", "ends")}) for r in reg["duty_roster"]]
    monday = datetime(2026, 11, 30, tzinfo=LOCAL_TZ)  # a Monday, local time
    for quarter in range(7 * 24 * 4):
        at = (monday + timedelta(minutes=15 * quarter)).astimezone(UTC)
        for community in reg["communities"]:
            assert any(covers(s, at) for s in shifts  # type: ignore[arg-type]
                       if s.community_id in (None, community["id"])), (community, at)


def test_deterministic_by_seed() -> None:
    assert demo_registry(30, seed=4) == demo_registry(30, seed=4)
    assert demo_registry(30, seed=4) != demo_registry(30, seed=5)


def test_the_registry_loader_accepts_it() -> None:
    registry = pytest.importorskip("monitor.registry")
    parsed = registry.parse_registry(demo_registry(120, seed=7), "demo")
    assert len(parsed.elders) == 120 and parsed.duty_roster


def test_the_load_registry_is_loadable() -> None:
    from devices.simulator import load_registry

    registry = pytest.importorskip("monitor.registry")
    parsed = registry.parse_registry(load_registry(25), "load")
    assert sum(len(e.devices) for e in parsed.elders) == 25
