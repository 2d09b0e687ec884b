"""Inactivity thresholds drawn on the elder's usage charts."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Threshold:
    """Less than `amount` of a metric within `hours` is unusual enough to look at."""

    amount: float
    hours: int
    unit: str
    label: str


# Documented defaults: the smart water meter rule of Shanghai, Longgang and Xigu
# (< 0.01 m3 in 12 h); the others are this project's defaults for the same idea.
DEFAULTS = {
    "water_m3": Threshold(0.01, 12, "m³", "12小时用水低于 0.01 m³"),
    "power_kwh": Threshold(0.1, 12, "kWh", "12小时用电低于 0.1 kWh"),
    "steps": Threshold(50, 12, "步", "12小时步数低于 50 步"),
    "motion": Threshold(1, 12, "次", "12小时无人体感应"),
}


def inactivity_thresholds() -> dict[str, dict[str, Any]]:
    """The inactivity threshold of each usage metric (the rules config may supply them later)."""
    return {metric: asdict(threshold) for metric, threshold in DEFAULTS.items()}
