"""The usage writer sizes its transactions to hold SQLite's one writer briefly."""

from __future__ import annotations

from monitor.store.db import Database
from monitor.telemetry.usage_writer import HOLD_S, MAX_DEVICES, MIN_DEVICES, UsageWriter


def test_transactions_shrink_when_slow_and_grow_when_fast() -> None:
    writer = UsageWriter(Database("sqlite:///:memory:"))
    start = writer.devices_per_transaction
    writer._fit(start, HOLD_S * 4)  # four times too long: halfway to a quarter
    assert writer.devices_per_transaction == int((start + start / 4) / 2)
    for _ in range(20):
        writer._fit(writer.devices_per_transaction, 10.0)  # a store that crawls
    assert writer.devices_per_transaction == MIN_DEVICES
    for _ in range(40):
        writer._fit(writer.devices_per_transaction, HOLD_S / 100)  # a store that flies
    assert writer.devices_per_transaction == MAX_DEVICES
