"""Prometheus counters of one daemon, in a registry of its own (so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """Every counter the daemon exports at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ingest_messages = Counter(
            "tanfang_ingest_messages", "MQTT messages handled, by result.", ["result"], registry=r
        )
        self.ingest_rejected = Counter(
            "tanfang_ingest_rejected", "Messages rejected, by reason.", ["reason"], registry=r
        )
        self.alarms_raised = Counter(
            "tanfang_alarms_raised", "Alarms opened, by kind.", ["kind"], registry=r
        )
        self.telemetry_points = Counter(
            "tanfang_telemetry_points", "Telemetry points, by outcome.", ["outcome"], registry=r
        )
        self.telemetry_spool_bytes = Gauge(
            "tanfang_telemetry_spool_bytes", "Bytes waiting in the telemetry spool.", registry=r
        )
        self.telemetry_writes = Counter(
            "tanfang_telemetry_writes", "Write requests to the telemetry backend, by result.",
            ["result"], registry=r,
        )
        self.notifications = Counter(
            "tanfang_notifications", "Notifications, by channel and outcome.",
            ["channel", "outcome"], registry=r,
        )
        self.batch_seconds = Histogram(
            "tanfang_ingest_batch_seconds", "Time to handle one ingest batch.", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
