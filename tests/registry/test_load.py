"""`tanfang registry load`: idempotent, all or nothing, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.errors import RegistryError
from monitor.registry import load_registry, parse_registry
from monitor.store.db import Database
from monitor.store.models import Contact, Device, DutyShift, Elder
from tests.fixtures.daemon import small_registry


async def counts(db: Database) -> dict[str, int]:
    async with db.sessions() as session:
        return {table.__tablename__: int((await session.execute(
            select(func.count()).select_from(table))).scalar_one())
            for table in (Elder, Contact, Device, DutyShift)}


async def test_loading_twice_changes_nothing(db: Database) -> None:
    registry = small_registry(10)
    registry["duty_roster"] = [{"community": "mgl-01", "name": "王值班", "phone": "+8613700000001",
                                "weekday": [0, 1, 2, 3, 4], "starts": "08:00", "ends": "20:00"}]
    first = await load_registry(db, parse_registry(registry), "r.yaml")
    before = await counts(db)
    second = await load_registry(db, parse_registry(registry), "r.yaml")

    assert str(first) == str(second)
    assert before == await counts(db) == {"elders": 10, "contacts": 10, "devices": 40,
                                          "duty_shifts": 5}


async def test_reload_updates_rows_in_place(db: Database) -> None:
    registry = small_registry(3)
    await load_registry(db, parse_registry(registry), "r.yaml")
    changed = copy.deepcopy(registry)
    changed["elders"][0]["categories"] = ["高龄"]
    changed["elders"][0]["contacts"] = [
        {"name": "李华", "relation": "女儿", "phone": "+8613900000099"},
        {"name": "李明", "relation": "儿子", "phone": "+8613900000001"},
    ]
    await load_registry(db, parse_registry(changed), "r.yaml")

    async with db.sessions() as session:
        elder = await session.get(Elder, "E0001")
        assert elder is not None
        assert (elder.categories, elder.key_object) == (["高龄"], False)
        assert [c.name for c in elder.contacts] == ["李华", "李明"]  # in calling order


def bad(registry: dict[str, Any], where: str) -> dict[str, Any]:
    broken = copy.deepcopy(registry)
    elder = broken["elders"][7]
    if where == "phone":
        elder["contacts"][0]["phone"] = "call me"
    elif where == "category":
        elder["categories"] = ["富裕"]
    elif where == "device":
        elder["devices"][0]["type"] = "toaster"
    elif where == "community":
        elder["community"] = "nowhere"
    return broken


@pytest.mark.parametrize(("where", "named"), [
    ("phone", "elders[7] (E0008).contacts[0].phone"),
    ("category", "elders[7] (E0008).categories[0]"),
    ("device", "elders[7] (E0008).devices[0].type"),
    ("community", "elders[7] (E0008).community"),
])
async def test_one_bad_row_changes_nothing_and_is_named(db: Database, where: str,
                                                        named: str) -> None:
    registry = small_registry(10)
    with pytest.raises(RegistryError) as caught:
        await load_registry(db, parse_registry(bad(registry, where), "r.yaml"), "r.yaml")

    assert named in str(caught.value)
    assert await counts(db) == {"elders": 0, "contacts": 0, "devices": 0, "duty_shifts": 0}


def test_a_device_of_two_elders_is_refused() -> None:
    registry = small_registry(3)
    registry["elders"][2]["devices"].append({"id": "btn-0001", "type": "call_button"})
    with pytest.raises(RegistryError, match=r"elders\[2\] \(E0003\).devices\[4\].id"):
        parse_registry(registry, "r.yaml")
