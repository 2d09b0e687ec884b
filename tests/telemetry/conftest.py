"""Helpers for the telemetry tests: configurations and reading counters."""

from __future__ import annotations

from pathlib import Path

from monitor.config import InfluxConfig
from monitor.metrics import Metrics
from tests.fixtures.influxdb import Influxd


def influx_config(server: Influxd, tmp_path: Path, **overrides: object) -> InfluxConfig:
    """A store configuration pointing at the test's influxd, retrying quickly."""
    values: dict[str, object] = {
        "url": server.url, "database": "tanfang", "spool_dir": str(tmp_path / "spool"),
        "retry_initial_s": 0.2, "retry_max_s": 1.0, "flush_interval_s": 0.2, "timeout_s": 5.0,
    }
    values.update(overrides)
    return InfluxConfig.model_validate(values)


def points(metrics: Metrics, outcome: str) -> float:
    """The telemetry point counter for one outcome (0 when never counted)."""
    value = metrics.registry.get_sample_value(
        "tanfang_telemetry_points_total", {"outcome": outcome}
    )
    return value or 0.0
