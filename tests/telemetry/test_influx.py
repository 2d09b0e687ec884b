"""The InfluxDB backend against a real influxd: exact round trips, bad lines, queries."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.metrics import Metrics
from monitor.telemetry.influx import InfluxStore
from monitor.telemetry.lineproto import epoch_ms
from monitor.telemetry.reading import FieldValue, Reading
from tests.fixtures.influxdb import Influxd
from tests.telemetry.conftest import influx_config, points

BASE = datetime(2026, 12, 3, tzinfo=UTC)
# Names may hold anything but control characters and backslashes (refused by design).
names = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\\"),
    min_size=1, max_size=20,
).filter(lambda s: not s.startswith("#") and s != "time")
values: st.SearchStrategy[FieldValue] = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.booleans(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
)
field_sets = st.dictionaries(
    names.filter(lambda s: s not in ("device_id", "elder_id")), values, min_size=1, max_size=4
)


def same(written: FieldValue, read: object) -> bool:
    if isinstance(written, bool | str):
        return type(read) is type(written) and read == written
    # Go prints 5.968938375931097e16 as 59689383759310970: read it back as a float.
    return isinstance(read, int | float) and not isinstance(read, bool) and (
        float(written) == float(read))


def test_round_trip_reads_back_exactly(influxd: Influxd, tmp_path: Path) -> None:
    counter = itertools.count()

    @settings(max_examples=50, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(measurement=names, device_id=names, elder_id=st.none() | st.text(max_size=10)
           .filter(lambda s: not any(c == "\\" or c < " " or c == "\x7f" for c in s)),
           fields=field_sets)
    def check(measurement: str, device_id: str, elder_id: str | None,
              fields: dict[str, FieldValue]) -> None:
        n = next(counter)
        # A measurement of its own per example: field types never clash between examples.
        reading = Reading(device_id, f"{n}:{measurement}", elder_id,
                          BASE + timedelta(milliseconds=n), fields)

        async def store_it() -> None:
            store = InfluxStore(influx_config(influxd, tmp_path), Metrics())
            await store.start()
            await store.write([reading])
            await store.close()

        asyncio.run(store_it())
        found = influxd.query(
            "tanfang", f"SELECT * FROM /.*/ WHERE time = {epoch_ms(reading.ts)}ms GROUP BY *"
        )
        assert len(found) == 1
        series = found[0]
        assert series["name"] == reading.device_type
        expected_tags = {"device_id": device_id} | ({"elder_id": elder_id} if elder_id else {})
        # GROUP BY * lists every tag key of the measurement, '' where a point has none.
        assert {k: v for k, v in series["tags"].items() if v} == expected_tags
        row = dict(zip(series["columns"], series["values"][0], strict=True))
        got = {k: v for k, v in row.items() if k != "time" and v is not None}
        assert set(got) == set(fields)
        for key, value in fields.items():
            assert same(value, got[key]), (key, value, got[key])

    check()


async def test_a_bad_line_costs_only_itself(influxd: Influxd, tmp_path: Path) -> None:
    dead: list[tuple[str, str, str]] = []

    async def dead_letter(reason: str, payload: str, error: str) -> None:
        dead.append((reason, payload, error))

    metrics = Metrics()
    store = InfluxStore(influx_config(influxd, tmp_path), metrics, dead_letter)
    await store.start()
    await store.write([Reading("pm-0", "power_meter", "E1", BASE, {"total_kwh": 1.0})])
    await store.flush()
    # total_kwh is now a float field; a string in it is refused by InfluxDB (type conflict).
    batch = [
        Reading(f"pm-{i}", "power_meter", "E1", BASE + timedelta(minutes=i),
                {"total_kwh": "oops" if i == 37 else float(i)})
        for i in range(1, 101)
    ]
    await store.write(batch)
    await store.close()
    assert len(dead) == 1
    reason, payload, error = dead[0]
    assert reason == "telemetry_rejected"
    assert "device_id=pm-37" in payload and "conflict" in error
    rows = influxd.query("tanfang", 'SELECT "total_kwh" FROM "power_meter"')[0]["values"]
    assert len(rows) == 100  # the first point and 99 of the batch
    assert points(metrics, "rejected") == 1


async def test_query_downsamples_to_at_most_n_points(influxd: Influxd, tmp_path: Path) -> None:
    store = InfluxStore(influx_config(influxd, tmp_path), Metrics())
    await store.start()
    readings = [
        Reading(device, "wearable", "E1", BASE + timedelta(minutes=m), {"heart_rate": hr})
        for m in range(600) for device, hr in (("w-1", 60 + m % 10), ("w-2", 80.0))
    ]
    readings.append(Reading("w-3", "wearable", "E2", BASE, {"heart_rate": 200}))
    await store.write(readings)
    await store.flush()
    start, end = BASE + timedelta(minutes=30), BASE + timedelta(minutes=630)
    series = await store.query(["w-1", "w-2"], "heart_rate", start, end, 7)
    await store.close()
    assert 1 <= len(series) <= 7
    assert series[0][0] == start
    assert len(series) == 7
    # Each bucket holds both wearables equally: the mean of ~64.5 (60..69) and 80.
    assert all(69.5 <= value <= 75.5 for _, value in series)
    assert [t for t, _ in series] == sorted(t for t, _ in series)
    everything = await InfluxStore(influx_config(influxd, tmp_path), Metrics()).query(
        ["w-1"], "heart_rate", BASE, BASE + timedelta(minutes=600), 1000
    )
    assert len(everything) == 600
