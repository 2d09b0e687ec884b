"""The registry file: communities, elders, contacts, devices and duty shifts, loaded as one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from monitor.errors import RegistryError
from monitor.store.db import Database
from monitor.store.models import (
    CATEGORIES,
    DEVICE_TYPES,
    Community,
    Contact,
    Device,
    DutyShift,
    Elder,
    is_key_object,
)
from monitor.timeutil import utcnow

PHONE = re.compile(r"\+?[0-9]{5,20}")
DEVICE_ID = r"^[A-Za-z0-9_-]{1,64}$"
HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _phone(value: str) -> str:
    cleaned = re.sub(r"[\s-]", "", value)
    if not PHONE.fullmatch(cleaned):
        raise ValueError(f"{value!r} is not a phone number")
    return cleaned


class CommunityRow(Row):
    id: str = Field(min_length=1, max_length=64)
    street: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)


class ContactRow(Row):
    name: str = Field(min_length=1, max_length=64)
    relation: str | None = Field(None, max_length=32)
    phone: str

    _check_phone = field_validator("phone")(classmethod(lambda cls, v: _phone(v)))


class DeviceRow(Row):
    id: str = Field(pattern=DEVICE_ID)
    type: Literal[DEVICE_TYPES]  # type: ignore[valid-type]


class ElderRow(Row):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=64)
    community: str
    birth_year: int | None = Field(None, ge=1890, le=2010)
    categories: list[Literal[CATEGORIES]] = Field(default_factory=list)  # type: ignore[valid-type]
    phone: str | None = None
    address: str | None = Field(None, max_length=200)
    visit_contact: str | None = Field(None, max_length=64)
    visit_contact_phone: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    contacts: list[ContactRow] = Field(default_factory=list)
    devices: list[DeviceRow] = Field(default_factory=list)

    @field_validator("phone", "visit_contact_phone")
    @classmethod
    def _phones(cls, value: str | None) -> str | None:
        return None if value is None else _phone(value)


class ShiftRow(Row):
    community: str | None = None
    name: str = Field(min_length=1, max_length=64)
    phone: str
    weekday: int | list[int] = Field(description="0 = Monday ... 6 = Sunday")
    starts: str = Field("00:00", pattern=HHMM)
    ends: str = Field("00:00", pattern=HHMM)

    _check_phone = field_validator("phone")(classmethod(lambda cls, v: _phone(v)))

    def weekdays(self) -> list[int]:
        days = self.weekday if isinstance(self.weekday, list) else [self.weekday]
        for day in days:
            if not 0 <= day <= 6:
                raise ValueError(f"weekday {day} is not 0 (Monday) to 6 (Sunday)")
        return days


class RegistryFile(Row):
    communities: list[CommunityRow] = Field(default_factory=list)
    elders: list[ElderRow] = Field(default_factory=list)
    duty_roster: list[ShiftRow] = Field(default_factory=list)


@dataclass
class LoadSummary:
    communities: int
    elders: int
    contacts: int
    devices: int
    shifts: int

    def __str__(self) -> str:
        return (f"loaded {self.communities} communities, {self.elders} elders, "
                f"{self.contacts} contacts, {self.devices} devices, {self.shifts} duty shifts")


def _row_name(data: dict[str, Any], loc: tuple[Any, ...]) -> str:
    """`elders[3] (E0004).contacts[0].phone` for an error location."""
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int) and parts:
            parts[-1] += f"[{item}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
            if isinstance(node, dict) and "id" in node and len(parts) == 1:
                parts[-1] += f" ({node['id']})"
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def parse_registry(data: Any, source: str = "registry") -> RegistryFile:
    """Validate a registry document, naming the row and field of the first problem."""
    if not isinstance(data, dict):
        raise RegistryError(f"{source}: the top level must be a mapping with communities/elders")
    try:
        registry = RegistryFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise RegistryError(f"{source}: {_row_name(data, err['loc'])}: {err['msg']}") from None
    seen_devices: dict[str, str] = {}
    seen_elders: set[str] = set()
    for index, elder in enumerate(registry.elders):
        if elder.id in seen_elders:
            raise RegistryError(f"{source}: elders[{index}] ({elder.id}).id: appears twice")
        seen_elders.add(elder.id)
        for d_index, device in enumerate(elder.devices):
            if device.id in seen_devices:
                raise RegistryError(
                    f"{source}: elders[{index}] ({elder.id}).devices[{d_index}].id: device "
                    f"{device.id} also belongs to {seen_devices[device.id]}"
                )
            seen_devices[device.id] = elder.id
    for index, shift in enumerate(registry.duty_roster):
        try:
            shift.weekdays()
        except ValueError as exc:
            raise RegistryError(f"{source}: duty_roster[{index}].weekday: {exc}") from None
    return registry


def read_registry(path: Path) -> RegistryFile:
    """Read and validate a registry YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(f"registry file not found: {path}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RegistryError(
            f"{path}: not valid YAML" + (f" at line {mark.line + 1}" if mark else "")
        ) from None
    return parse_registry(data, str(path))


async def apply_registry(session: AsyncSession, registry: RegistryFile, source: str) -> LoadSummary:
    """Upsert everything in the file, inside the caller's transaction (all or nothing)."""
    known = set((await session.execute(select(Community.id))).scalars())
    for row in registry.communities:
        await session.merge(Community(id=row.id, street=row.street, name=row.name))
        known.add(row.id)
    contacts = devices = 0
    for index, elder_row in enumerate(registry.elders):
        if elder_row.community not in known:
            raise RegistryError(f"{source}: elders[{index}] ({elder_row.id}).community: unknown "
                                f"community {elder_row.community!r}")
        elder = await session.get(Elder, elder_row.id)
        if elder is None:
            elder = Elder(id=elder_row.id)
            session.add(elder)
        elder.name = elder_row.name
        elder.community_id = elder_row.community
        elder.birth_year = elder_row.birth_year
        elder.categories = list(elder_row.categories)
        elder.key_object = is_key_object(list(elder_row.categories))
        elder.phone = elder_row.phone
        elder.address = elder_row.address
        elder.visit_contact = elder_row.visit_contact
        elder.visit_contact_phone = elder_row.visit_contact_phone
        elder.overrides = elder_row.overrides
        elder.active = True
        await session.flush()
        await session.execute(delete(Contact).where(Contact.elder_id == elder_row.id))
        for position, contact in enumerate(elder_row.contacts):
            session.add(Contact(elder_id=elder_row.id, position=position, name=contact.name,
                                relation=contact.relation, phone=contact.phone))
            contacts += 1
        for device_row in elder_row.devices:
            device = await session.get(Device, device_row.id)
            if device is None:
                session.add(Device(id=device_row.id, type=device_row.type, elder_id=elder_row.id,
                                   installed_at=utcnow()))
            else:
                device.type = device_row.type
                device.elder_id = elder_row.id
            devices += 1
    shifts = 0
    if registry.duty_roster:
        await session.execute(delete(DutyShift))
        for index, shift in enumerate(registry.duty_roster):
            if shift.community is not None and shift.community not in known:
                raise RegistryError(f"{source}: duty_roster[{index}].community: unknown "
                                    f"community {shift.community!r}")
            for day in shift.weekdays():
                session.add(DutyShift(community_id=shift.community, name=shift.name,
                                      phone=shift.phone, weekday=day, starts=shift.starts,
                                      ends=shift.ends))
                shifts += 1
    return LoadSummary(len(registry.communities), len(registry.elders), contacts, devices, shifts)


async def load_registry(db: Database, registry: RegistryFile, source: str) -> LoadSummary:
    """Load a validated registry in one transaction: a bad row changes nothing."""
    async with db.transaction() as session:
        return await apply_registry(session, registry, source)
