"""Configuration: one YAML file, every key overridable by `TANFANG_<SECTION>__<KEY>`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from monitor.errors import ConfigError

ENV_PREFIX = "TANFANG_"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MqttConfig(Section):
    host: str = Field("127.0.0.1", description="MQTT broker host.")
    port: int = Field(1883, description="MQTT broker port.")
    username: str | None = Field(None, description="Username of the monitor at the broker.")
    password: str | None = Field(None, description="Password; better set by environment.")
    protocol: Literal["5", "3.1.1"] = Field(
        "5", description="MQTT protocol version; 5 is needed for shared subscriptions."
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    client_id: str = Field(
        "tanfang-monitor",
        description="Fixed client id: with a persistent session the broker keeps messages "
        "published while the daemon is down. Events use a second connection, this id + "
        "'-events'.",
    )
    topic_prefix: str = Field("tanfang/v1", description="Root of the device topics.")
    shared_group: str | None = Field(
        None,
        description="Name of an MQTT 5 shared subscription group ($share/GROUP/...), "
        "so that several daemons split the load; empty for a plain subscription.",
    )
    session_expiry_s: int = Field(7 * 24 * 3600, description="How long the broker keeps the "
                                  "session (and queued QoS 1 messages) while the daemon is away.")
    keepalive_s: int = Field(30, description="MQTT keep-alive.")
    reconnect_max_s: float = Field(30.0, description="Longest wait between reconnect attempts.")


class DatabaseConfig(Section):
    url: str = Field(
        "sqlite:///data/tanfang.db",
        description="State store: sqlite:///PATH or postgresql://USER@HOST:PORT/DB.",
    )
    dedup_retention_days: int = Field(
        30, description="How long accepted (device_id, msg_id) pairs are kept for deduplication."
    )


class InfluxConfig(Section):
    url: str = Field("http://127.0.0.1:8086", description="InfluxDB base URL (v1 HTTP API).")
    database: str = Field("tanfang", description="InfluxDB database (bucket on 2.x/3.x).")
    username: str | None = Field(None, description="User for InfluxDB 1.x authentication.")
    password: str | None = Field(None, description="Password for InfluxDB 1.x authentication.")
    token: str | None = Field(None, description="Token for InfluxDB 2.x/3.x (sent as Token).")
    batch_size: int = Field(5000, description="Most lines in one write.")
    flush_interval_s: float = Field(1.0, description="Longest time a line waits for its batch.")
    spool_dir: str = Field("data/influx-spool", description="On-disk spool while InfluxDB is down.")
    spool_max_mb: float = Field(512, description="Spool size limit; past it the oldest go.")
    timeout_s: float = Field(10.0, description="Timeout of one HTTP request to InfluxDB.")
    retry_initial_s: float = Field(
        0.5, description="First wait before the spool is tried again after a failed write."
    )
    retry_max_s: float = Field(
        30.0, description="Longest wait between attempts while InfluxDB is unreachable."
    )
    memory_max_lines: int = Field(
        50_000, description="Most lines held in memory; beyond it the oldest go to the spool."
    )
    create_database: bool = Field(
        True, description="Send CREATE DATABASE on start (InfluxDB 1.x; ignored where refused)."
    )


class TelemetryConfig(Section):
    backend: Literal["sqlite", "influxdb"] = Field(
        "sqlite", description="Where raw readings go: the embedded SQLite file or InfluxDB."
    )
    sqlite_path: str = Field("data/telemetry.db", description="File of the SQLite backend.")
    retention_days: int = Field(90, description="Raw points older than this are deleted (SQLite).")
    batch_size: int = Field(5000, description="Most rows in one SQLite transaction.")
    flush_interval_s: float = Field(1.0, description="Longest time a row waits for its batch.")
    influxdb: InfluxConfig = Field(default_factory=InfluxConfig,
                                   description="The InfluxDB backend (backend: influxdb).")


class ApiConfig(Section):
    host: str = Field("127.0.0.1", description="Address the HTTP API and console listen on.")
    port: int = Field(8080, description="Port of the HTTP API and console.")
    public_url: str | None = Field(
        None, description="URL at which Twilio reaches this daemon (webhooks); empty: none."
    )
    token_ttl_min: int = Field(12 * 60, description="Lifetime of a login, in minutes.")


class TwilioConfig(Section):
    account_sid: str | None = Field(None, description="Twilio account SID.")
    auth_token: str | None = Field(None, description="Twilio auth token; set by environment.")
    from_number: str | None = Field(None, description="Number SMS and calls come from.")
    api_base_url: str | None = Field(
        None, description="Empty for Twilio itself; a regional edge or a test server otherwise."
    )


class WebhookConfig(Section):
    url: str | None = Field(None, description="URL that receives every notification as JSON.")
    secret: str | None = Field(None, description="HMAC-SHA256 key for X-Tanfang-Signature.")


class NotifyConfig(Section):
    channels: list[str] = Field(
        default_factory=lambda: ["log"],
        description="Channels enabled: sms, voice (Twilio), webhook, log.",
    )
    twilio: TwilioConfig = Field(default_factory=TwilioConfig,
                                 description="Twilio account for SMS and voice calls.")
    webhook: WebhookConfig = Field(default_factory=WebhookConfig,
                                   description="A generic signed webhook channel.")
    max_attempts: int = Field(6, description="Attempts of one notification before it fails.")
    timeout_s: float = Field(
        10.0, gt=0, description="Time limit of one HTTP call to Twilio or the webhook, in seconds."
    )


RECIPIENTS = ("elder", "next_contact", "all_contacts", "duty")
CHANNELS = ("sms", "voice", "webhook", "log")
HHMM_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"


class EscalationStep(Section):
    """One step of a policy: notify someone, wait, or go back and repeat."""

    notify: list[str] = Field(
        default_factory=list,
        description="Who to notify: elder, contact:N (the N-th contact, from 1), next_contact "
        "(the one after the last contact notified), all_contacts, duty (the community's staff "
        "on shift now).",
    )
    channels: list[str] = Field(
        default_factory=lambda: ["sms"], description="Channels of a notify step: sms, voice, "
        "webhook, log; those not enabled in notify.channels are left out.",
    )
    quiet: bool = Field(
        False, description="In quiet hours, SMS of this step wait for the morning and calls "
        "are not made.",
    )
    wait_min: float | None = Field(
        None, gt=0, description="A wait step: minutes before the next step (unless someone "
        "acknowledges first).",
    )
    repeat_from: int | None = Field(
        None, ge=0, description="A repeat step: go back to this step index (from 0) for "
        "another round.",
    )

    @field_validator("notify")
    @classmethod
    def _who(cls, value: list[str]) -> list[str]:
        for who in value:
            base, _, number = who.partition(":")
            if base == "contact" and number.isdigit() and int(number) >= 1:
                continue
            if who not in RECIPIENTS:
                raise ValueError(f"unknown recipient {who!r}: elder, contact:N, "
                                 "next_contact, all_contacts or duty")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[str]) -> list[str]:
        for channel in value:
            if channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}: one of {', '.join(CHANNELS)}")
        return value

    @model_validator(mode="after")
    def _one_action(self) -> EscalationStep:
        actions = [bool(self.notify), self.wait_min is not None, self.repeat_from is not None]
        if sum(actions) != 1:
            raise ValueError("a step has exactly one of notify, wait_min, repeat_from")
        return self

    @property
    def action(self) -> str:
        """notify, wait or repeat."""
        if self.notify:
            return "notify"
        return "wait" if self.wait_min is not None else "repeat"


class EscalationPolicy(Section):
    """Who is told, how and when, for the alarms it matches."""

    name: str = Field(description="Name shown in the alarm's audit trail.")
    kinds: list[str] = Field(
        default_factory=lambda: ["*"], description="Alarm kinds matched; 'inactivity_*' "
        "matches by prefix, '*' matches every kind.",
    )
    severities: list[str] = Field(
        default_factory=list, description="Severities matched (critical, warning, info); "
        "empty: any.",
    )
    max_rounds: int = Field(
        10, ge=1, description="Rounds (passes through a repeat step) before the escalation "
        "gives up; the alarm stays open on the board.",
    )
    steps: list[EscalationStep] = Field(description="The steps, in order.")

    @model_validator(mode="after")
    def _repeats_wait(self) -> EscalationPolicy:
        for index, step in enumerate(self.steps):
            if step.repeat_from is None:
                continue
            if step.repeat_from >= index:
                raise ValueError(f"policy {self.name}: step {index} repeats from a step that "
                                 "does not come before it")
            if not any(s.wait_min for s in self.steps[step.repeat_from:index]):
                raise ValueError(f"policy {self.name}: step {index} repeats without a wait")
        return self

    def matches(self, kind: str, severity: str) -> bool:
        """Whether an alarm of this kind and severity falls under the policy."""
        if self.severities and severity not in self.severities:
            return False
        return any(k == "*" or k == kind or (k.endswith("*") and kind.startswith(k[:-1]))
                   for k in self.kinds)


def _urgent_steps(minutes: float) -> list[dict[str, Any]]:
    call = ["sms", "voice"]
    return [
        {"notify": ["duty", "contact:1"], "channels": call},
        {"wait_min": minutes},
        {"notify": ["next_contact"], "channels": call},
        {"wait_min": minutes},
        {"notify": ["next_contact"], "channels": call},
        {"wait_min": minutes},
        {"repeat_from": 0},
    ]


def _default_policies() -> list[EscalationPolicy]:
    call = ["sms", "voice"]
    check_on_elder = [
        {"notify": ["elder"], "channels": call},
        {"wait_min": 10},
        {"notify": ["contact:1"], "channels": call},
        {"wait_min": 10},
        {"notify": ["next_contact"], "channels": call},
        {"wait_min": 10},
        {"notify": ["duty"], "channels": call},
        {"wait_min": 20},
        {"repeat_from": 2},
    ]
    quiet_house = ["inactivity_*", "no_*"]  # no_water, no_power, no_motion, no_activity...
    policies: list[dict[str, Any]] = [
        {"name": "emergency", "kinds": ["sos", "fall", "smoke", "gas"], "max_rounds": 10,
         "steps": _urgent_steps(3)},
        {"name": "maintenance",
         "kinds": ["device_offline", "battery_low", "button_untested", "no_test_press",
                   "tamper", "device_*"],
         "max_rounds": 3,
         "steps": [{"notify": ["duty"], "channels": ["sms"], "quiet": True},
                   {"wait_min": 240}, {"repeat_from": 0}]},
        # No sign of life in any device: still the elder first, but the others sooner.
        {"name": "check_on_elder_urgent", "kinds": quiet_house, "severities": ["critical"],
         "max_rounds": 10,
         "steps": [{"notify": ["elder"], "channels": call}, {"wait_min": 5},
                   {"notify": ["duty", "contact:1"], "channels": call}, {"wait_min": 5},
                   {"notify": ["next_contact"], "channels": call}, {"wait_min": 5},
                   {"repeat_from": 2}]},
        {"name": "critical", "kinds": ["*"], "severities": ["critical"], "max_rounds": 10,
         "steps": _urgent_steps(5)},
        {"name": "check_on_elder", "kinds": ["*"], "max_rounds": 5, "steps": check_on_elder},
    ]
    return [EscalationPolicy.model_validate(p) for p in policies]


class EscalationConfig(Section):
    """Escalation of open alarms (steps, roster, quiet hours) and the outbox that sends."""

    enabled: bool = Field(True, description="Run the escalation and the outbox in the daemon.")
    policies: list[EscalationPolicy] = Field(
        default_factory=_default_policies,
        description="Policies, the first that matches an alarm's kind and severity wins; "
        "copied into the alarm when its escalation starts, so later edits do not change it.",
    )
    tick_s: float = Field(2.0, gt=0, description="Seconds between looks for due steps.")
    outbox_interval_s: float = Field(1.0, gt=0, description="Seconds between outbox runs.")
    lease_s: float = Field(
        120.0, gt=0, description="How long a claimed notification belongs to one daemon; "
        "longer than one send can take.",
    )
    retry_initial_s: float = Field(30.0, gt=0, description="First wait after a failed send.")
    retry_max_s: float = Field(600.0, gt=0, description="Longest wait between attempts.")
    quiet_start: str = Field("22:00", pattern=HHMM_PATTERN,
                             description="Start of quiet hours, local time (Asia/Shanghai).")
    quiet_end: str = Field("07:00", pattern=HHMM_PATTERN,
                           description="End of quiet hours, local time.")
    max_per_hour: int = Field(
        6, ge=0, description="Most notifications one phone number gets in an hour for "
        "non-critical alarms (0: no limit); critical alarms are never held back.",
    )


class IngestConfig(Section):
    max_payload_bytes: int = Field(16 * 1024, description="Larger payloads are rejected.")
    max_future_s: int = Field(600, description="A ts further ahead than this is rejected.")
    batch_max: int = Field(2000, description="Most messages handled in one batch.")
    heartbeat_s: dict[str, int] = Field(
        default_factory=lambda: {
            "call_button": 900,
            "wearable": 900,
            "water_meter": 3600,
            "power_meter": 3600,
            "motion_sensor": 900,
            "smoke_detector": 3600,
            "gas_detector": 3600,
        },
        description="Seconds between heartbeats expected of each device type.",
    )


class AlarmsConfig(Section):
    severity: dict[str, str] = Field(
        default_factory=lambda: {
            "sos": "critical",
            "fall": "critical",
            "smoke": "critical",
            "gas": "critical",
            "tamper": "warning",
        },
        description="Severity of the alarm each event type raises (critical, warning, info).",
    )


class RulesConfig(Section):
    file: str | None = Field(
        None, description="Path of rules.yaml (thresholds, calendar); empty: built-in defaults. "
        "Reread when it changes or on SIGHUP; a bad file keeps the rules in force."
    )
    sweep_interval_s: float = Field(
        60.0, gt=0, description="Seconds between sweeps of the clock-driven rules (inactivity, "
        "device offline, battery, continuous water)."
    )


class RemoteCheckConfig(Section):
    """The remote check: a week of normal activity counts as a remote_monitoring visit."""

    enabled: bool = Field(True, description="Run the remote check in the daemon.")
    interval_s: float = Field(3600.0, gt=0, description="Seconds between runs of the remote check.")
    min_days: int = Field(
        5, ge=1, le=7,
        description="Days of the ISO week with evidence (normal activity, devices reporting, "
        "no alarm open) needed before the week counts as one remote_monitoring contact.",
    )
    history_days: int = Field(
        28, ge=7, description="Days before a day whose totals give the elder's usual range."
    )
    min_history_days: int = Field(
        7, ge=1, description="Fewer reporting days of history than this: any sign of activity "
        "counts as normal (a new device has no usual range yet).",
    )
    low_fraction: float = Field(
        0.3, ge=0, le=1, description="A day is normal when its total is at least this fraction "
        "of the device's median daily total over the history days ...",
    )
    high_factor: float = Field(
        5.0, gt=1, description="... and at most this many times that median (a leak, a tap "
        "left running, a bad reading is not normal life).",
    )
    min_reporting_hours: dict[str, int] = Field(
        default_factory=lambda: {
            "water_meter": 12, "power_meter": 12, "wearable": 4, "motion_sensor": 2,
        },
        description="Hours of a local day in which a device of this type must have sent "
        "readings for the day to count as online; the types listed are the activity devices.",
    )
    ignore_alarm_kinds: list[str] = Field(
        default_factory=list,
        description="Alarm kinds that do not stop a day from being evidence (none by default: "
        "any open alarm of the elder does).",
    )


class CoverageConfig(Section):
    weekly_contacts: int = Field(1, ge=0, description="Contacts per ISO week for every elder.")
    key_object_contacts: int = Field(
        2, ge=0, description="Contacts per ISO week for key objects (重点对象)."
    )
    key_object_person_contacts: int = Field(
        1, ge=0, description="Of those, how many by a person (phone, video or home visit)."
    )
    care_week_extra: int = Field(
        1, ge=0, description="Extra contacts in a week that holds a festival or "
        "extreme-weather day of the care calendar.",
    )
    remote_counts_for_key_objects: bool = Field(
        True, description="Whether a remote_monitoring week counts as a contact of a key object."
    )
    remote_check: RemoteCheckConfig = Field(default_factory=RemoteCheckConfig)


class LoggingConfig(Section):
    level: str = Field("INFO", description="Log level.")


class Config(Section):
    mqtt: MqttConfig = Field(default_factory=MqttConfig,
                             description="The MQTT broker the devices publish to.")
    database: DatabaseConfig = Field(default_factory=DatabaseConfig,
                                     description="The state store (registry, alarms, visits).")
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig,
                                       description="Where raw readings are kept.")
    api: ApiConfig = Field(default_factory=ApiConfig,
                           description="The HTTP API and the duty console.")
    notify: NotifyConfig = Field(default_factory=NotifyConfig,
                                 description="Notification channels (SMS, voice, webhook).")
    ingest: IngestConfig = Field(default_factory=IngestConfig,
                                 description="Validation of device messages.")
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig,
                                 description="Alarms raised by device events.")
    escalation: EscalationConfig = Field(
        default_factory=EscalationConfig,
        description="Who is notified of an open alarm, when, until someone acknowledges.")
    rules: RulesConfig = Field(default_factory=RulesConfig,
                               description="The rules engine.")
    coverage: CoverageConfig = Field(default_factory=CoverageConfig,
                                     description="Weekly visit coverage and the remote check.")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="Logging.")


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """TANFANG_MQTT__HOST=x -> {"mqtt": {"host": "x"}}; values are read as YAML scalars."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX):].split("__")]
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(raw) if raw != "" else None
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_yaml_mapping(text: str, source: str) -> dict[str, Any]:
    """The YAML text as a mapping ({} when empty); ConfigError names the file and line."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{source}: not valid YAML{where}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    return loaded or {}


def describe_error(error: ValidationError, source: str) -> str:
    """One line naming the first bad key and what is wrong with it."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{where}'"
    return f"{source}: {where}: {first['msg']}"


def config_path(explicit: str | Path | None) -> Path | None:
    """--config, else $TANFANG_CONFIG, else ./tanfang.yaml if present, else none (defaults)."""
    if explicit:
        return Path(explicit)
    if os.environ.get("TANFANG_CONFIG"):
        return Path(os.environ["TANFANG_CONFIG"])
    local = Path("tanfang.yaml")
    return local if local.exists() else None


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read the configuration file (or defaults), apply environment overrides, validate."""
    chosen = config_path(path)
    data: dict[str, Any] = {}
    source = "built-in defaults"
    if chosen is not None:
        source = str(chosen)
        try:
            text = chosen.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {chosen}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read configuration file {chosen}: {exc.strerror}") from None
        data = load_yaml_mapping(text, str(chosen))
    env = _env_overrides(dict(os.environ if environ is None else environ))
    try:
        return Config.model_validate(_merge(data, env))
    except ValidationError as exc:
        raise ConfigError(describe_error(exc, source)) from None
