"""The state store's tables: registry, alarms, notifications, visits, usage, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The policy's categories; the key objects (重点对象) get more frequent visits.
CATEGORIES = ("高龄", "独居", "空巢", "留守", "失能", "残疾", "重残", "计划生育特殊家庭")
KEY_OBJECT_CATEGORIES = frozenset({"独居", "空巢", "留守", "失能", "重残", "计划生育特殊家庭"})
DEVICE_TYPES = (
    "call_button",
    "wearable",
    "water_meter",
    "power_meter",
    "motion_sensor",
    "smoke_detector",
    "gas_detector",
)
ROLES = ("duty", "community_admin", "district_admin")
ALARM_STATES = ("open", "acknowledged", "resolved")
OUTCOMES = (
    "elder_fine",
    "assisted_by_family",
    "assisted_by_staff",
    "emergency_services",
    "false_alarm",
    "device_fault",
)
CONTACT_METHODS = ("phone", "video", "home_visit", "none")
VISIT_METHODS = ("home_visit", "phone", "video", "remote_monitoring", "other")


def is_key_object(categories: list[str]) -> bool:
    """Whether an elder with these categories is a key object (重点对象) of the policy."""
    return any(c in KEY_OBJECT_CATEGORIES for c in categories)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the column, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)

    # SQLite keeps datetimes as text. SQLAlchemy's own conversion (this type's step, then
    # DATETIME's %-formatting and regular expression) showed in the ingest profile; these
    # write the very same text, and read it, with one C call each.
    def bind_processor(self, dialect: Any) -> Any:
        return _sqlite_text if dialect.name == "sqlite" else super().bind_processor(dialect)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        if dialect.name == "sqlite":
            return _sqlite_datetime
        return super().result_processor(dialect, coltype)


def _sqlite_text(value: datetime | None) -> str | None:
    """An aware datetime as SQLite's DATETIME stores it: naive UTC, 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; use aware UTC")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    text = value.replace(tzinfo=None).isoformat(" ")
    return text if value.microsecond else text + ".000000"


def _sqlite_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    street: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(64))


class Elder(Base):
    __tablename__ = "elders"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    community_id: Mapped[str] = mapped_column(ForeignKey("communities.id"), index=True)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    categories: Mapped[list[Any]] = mapped_column(default=list)
    key_object: Mapped[bool] = mapped_column(Boolean, default=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(200))
    # The named visit contact person of the policy (探访关爱联系人).
    visit_contact: Mapped[str | None] = mapped_column(String(64))
    visit_contact_phone: Mapped[str | None] = mapped_column(String(32))
    # Per-elder overrides of rule thresholds and coverage requirements.
    overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    contacts: Mapped[list[Contact]] = relationship(
        order_by="Contact.position", cascade="all, delete-orphan", lazy="selectin"
    )


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("elder_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    elder_id: Mapped[str] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    relation: Mapped[str | None] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(32))


class Absence(Base):
    """A planned absence (staying at a daughter's): inactivity rules stay quiet meanwhile."""

    __tablename__ = "absences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    elder_id: Mapped[str] = mapped_column(ForeignKey("elders.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(String(200))


class Device(Base):
    __tablename__ = "devices"
    # The rule sweeps select candidates by these (monitor/rules/): a range scan, never all rows.
    __table_args__ = (
        Index("ix_devices_last_active_at", "last_active_at"),
        Index("ix_devices_last_seen_at", "last_seen_at"),
        Index("ix_devices_battery_pct", "battery_pct"),
        Index("ix_devices_last_idle_at", "last_idle_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    elder_id: Mapped[str | None] = mapped_column(ForeignKey("elders.id"), index=True)
    # Event time of the newest message of any kind: the offline rule reads this (indexed: the
    # offline sweep is a range query over it).
    last_seen_at: Mapped[datetime | None]
    online: Mapped[bool | None] = mapped_column(Boolean)
    battery_pct: Mapped[float | None] = mapped_column(Float)
    signal_dbm: Mapped[float | None] = mapped_column(Float)
    last_test_at: Mapped[datetime | None]
    last_reading: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    installed_at: Mapped[datetime | None]
    # Event time of the newest sign of life (use above monitor/rules/ thresholds) it reported.
    last_active_at: Mapped[datetime | None]
    # Water meters: event time of the end of the newest hour without water use (continuous use).
    last_idle_at: Mapped[datetime | None]


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    community_id: Mapped[str | None] = mapped_column(ForeignKey("communities.id"))
    display_name: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Session(Base):
    """A bearer token (stored hashed) for the API and the console."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class DutyShift(Base):
    """A weekly shift: who is on duty for a community (or all, when null) on a weekday."""

    __tablename__ = "duty_shifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    community_id: Mapped[str | None] = mapped_column(ForeignKey("communities.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday, local time
    starts: Mapped[str] = mapped_column(String(5))  # "08:00", local time
    ends: Mapped[str] = mapped_column(String(5))  # "20:00"; ends <= starts runs past midnight


class Alarm(Base):
    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    elder_id: Mapped[str | None] = mapped_column(ForeignKey("elders.id"), index=True)
    community_id: Mapped[str | None] = mapped_column(String(64), index=True)
    device_id: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    # "elder:kind" while the alarm is not resolved, NULL after: one open alarm per pair.
    open_key: Mapped[str | None] = mapped_column(String(140), unique=True)
    opened_at: Mapped[datetime]  # event time of what raised it
    created_at: Mapped[datetime]  # wall clock when it was committed
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    ack_method: Mapped[str | None] = mapped_column(String(16))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    contact_method: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Escalation: the policy frozen when the alarm opened, and the next step's due time.
    escalation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None] = mapped_column(index=True)


class AlarmEvent(Base):
    """The audit trail of an alarm: raised, attached press, notified, acknowledged, resolved."""

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Notification(Base):
    """The outbox: a notification decided by an escalation step, sent by a worker."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int | None] = mapped_column(
        ForeignKey("alarms.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int] = mapped_column(Integer, default=0)
    recipient_kind: Mapped[str] = mapped_column(String(16))  # elder | contact | duty
    recipient_name: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(200))  # phone number or URL
    channel: Mapped[str] = mapped_column(String(16))  # sms | voice | webhook | log
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    topic: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32), index=True)
    error: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)  # utf-8 text, or base64 of undecodable bytes


class AcceptedMessage(Base):
    """(device_id, msg_id) pairs already accepted, for deduplication."""

    __tablename__ = "accepted_messages"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    accepted_at: Mapped[datetime] = mapped_column(index=True)


class RegisterReading(Base):
    """Cumulative meter register readings (m3, kWh), the source of usage per hour."""

    __tablename__ = "register_readings"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts: Mapped[datetime] = mapped_column(primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class HourlyUsage(Base):
    """Usage per device, metric and UTC hour: water_m3, power_kwh, steps, motion."""

    __tablename__ = "hourly_usage"
    __table_args__ = (Index("ix_hourly_usage_elder_hour", "elder_id", "hour"),)

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(16), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    elder_id: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float, default=0.0)
    readings: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)


class RuleState(Base):
    """State a stateful rule keeps per elder or device, where every daemon sees it."""

    __tablename__ = "rule_state"

    rule: Mapped[str] = mapped_column(String(48), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("source", "source_ref"),
        Index("ix_visits_elder_at", "elder_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    elder_id: Mapped[str] = mapped_column(ForeignKey("elders.id"))
    method: Mapped[str] = mapped_column(String(24))
    at: Mapped[datetime]
    by: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # alarm | remote_check | staff | import
    source_ref: Mapped[str | None] = mapped_column(String(128))
    findings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class AccessLog(Base):
    """Every access to an elder's personal information (PIPL)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    elder_id: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[str | None] = mapped_column(Text)
