"""Line protocol encoding: every escaping rule, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.telemetry.lineproto import LineProtocolError, encode_point, encode_reading, epoch_ms
from monitor.telemetry.reading import Reading

TS = datetime(2026, 12, 3, 0, 15, 0, 123456, tzinfo=UTC)


def test_reading_becomes_one_line_at_ms_precision() -> None:
    reading = Reading("wm-1", "water_meter", "E0001", TS, {"total_m3": 12.34, "flow_lpm": 0})
    assert encode_reading(reading) == (
        "water_meter,device_id=wm-1,elder_id=E0001 total_m3=12.34,flow_lpm=0.0 "
        f"{epoch_ms(TS)}"
    )
    assert epoch_ms(TS) % 1000 == 123


def test_no_elder_means_no_tag() -> None:
    line = encode_reading(Reading("pm-1", "power_meter", None, TS, {"total_kwh": 1}))
    assert line.startswith("power_meter,device_id=pm-1 total_kwh=1.0 ")


def test_escapes_in_every_position() -> None:
    line = encode_point(
        "m, x", {"t,=k ": "v,= w", "u": '"q"'},
        {"f,= k": "a \"quoted\" \\ back\nslash", "b": True, "n": -1.5e-300}, TS,
    )
    assert line == (
        'm\\,\\ x,t\\,\\=k\\ =v\\,\\=\\ w,u="q" '
        'f\\,\\=\\ k="a \\"quoted\\" \\\\ back\nslash",b=true,n=-1.5e-300 '
        f"{epoch_ms(TS)}"
    )


def test_unicode_is_kept() -> None:
    line = encode_point("用水", {"老人": "张桂兰"}, {"读数": "正常"}, TS)
    assert line.startswith('用水,老人=张桂兰 读数="正常" ')


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\\b", ""])
def test_newlines_and_backslashes_in_names_are_refused(bad: str) -> None:
    with pytest.raises(LineProtocolError):
        encode_point("m", {"t": "v"}, {bad or "": 1.0}, TS)
    if bad:
        with pytest.raises(LineProtocolError):
            encode_point("m", {"t": bad}, {"f": 1.0}, TS)
        with pytest.raises(LineProtocolError):
            encode_point(bad, {}, {"f": 1.0}, TS)


@pytest.mark.parametrize(
    ("measurement", "fields"),
    [("#m", {"f": 1.0}), ("m", {"time": 1.0}), ("m", {"f": float("nan")}),
     ("m", {"f": float("inf")}), ("m", {}), ("m", {"f": "x" * (64 * 1024 + 1)})],
)
def test_unwritable_points_are_refused(measurement: str, fields: dict[str, float]) -> None:
    with pytest.raises(LineProtocolError):
        encode_point(measurement, {}, fields, TS)
