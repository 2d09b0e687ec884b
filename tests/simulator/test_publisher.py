"""The simulator on a real broker: what it reports sent is what a subscriber receives."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from devices.simulator import Simulation, demo_registry, run_load
from monitor.cli import app
from monitor.errors import TanfangError
from monitor.timeutil import parse_ts
from tests.fixtures.services import Mosquitto
from tests.simulator.common import START


class Subscriber:
    """`mosquitto_sub` as the monitor would listen: every device topic, QoS 1."""

    def __init__(self, broker: Mosquitto, out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1",
             "-t", "tanfang/v1/#", "-F", "%t"], stdout=out.open("wb"))
        time.sleep(0.3)

    def lines(self, expected: int, timeout: float = 20.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.out.read_bytes().count(b"\n")
            if got >= expected:
                time.sleep(0.3)  # and nothing more arrives after
                break
            time.sleep(0.1)
        self.proc.terminate()
        self.proc.wait(5)
        return self.out.read_text().splitlines()


async def test_simulation_publishes_and_records(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sub = Subscriber(mosquitto, tmp_path / "sub.txt")
    record = tmp_path / "replay.jsonl"
    sim = Simulation(demo_registry(6, seed=2), mosquitto.address, speed=0, start=START,
                     seed=2, record=record)
    report = await sim.run(timedelta(hours=3))
    received = await asyncio.to_thread(sub.lines, report.sent)
    assert report.sent > 50
    assert len(received) == report.sent
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    assert len(rows) == report.sent
    assert all(set(r) == {"topic", "payload"} and isinstance(r["payload"], dict | list)
               for r in rows)
    assert sum(report.by_kind.values()) == report.sent


async def test_accelerated_time_keeps_event_time_in_the_payloads(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    record = tmp_path / "fast.jsonl"
    sim = Simulation(demo_registry(4, seed=2), mosquitto.address, speed=3600, start=START,
                     seed=2, record=record)
    report = await sim.run(timedelta(hours=2))  # two simulated hours in about two seconds
    assert report.sim_reached is not None and report.sim_start == START
    played = report.sim_reached - START
    assert played > timedelta(hours=1, minutes=45)
    assert report.wall_s >= played.total_seconds() / 3600 * 0.95  # paced, not dumped at once
    stamps = [parse_ts(item["ts"]) for row in map(json.loads, record.read_text().splitlines())
              for item in (row["payload"] if isinstance(row["payload"], list)
                           else [row["payload"]])]
    assert min(stamps) >= START - timedelta(hours=4)  # NB-IoT backlogs reach back
    assert max(stamps) <= START + timedelta(hours=2)
    assert max(stamps) - START > timedelta(hours=1, minutes=45)


async def test_stop_ends_a_real_time_run(mosquitto: Mosquitto) -> None:
    sim = Simulation(demo_registry(3), mosquitto.address, speed=1.0)
    task = asyncio.create_task(sim.run())
    await asyncio.sleep(0.5)
    sim.stop()
    report = await asyncio.wait_for(task, 10)
    assert report.stopped


def test_load_mode_reports_what_arrived(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sub = Subscriber(mosquitto, tmp_path / "load.txt")
    report = run_load(mosquitto.address, devices=20000, rate=5000, duration_s=5, processes=2)
    received = sub.lines(report.sent, timeout=30)
    assert report.sent > 0 and not report.errors
    assert len(received) == report.sent
    assert len(set(received)) > 1000  # many devices
    summary = report.summary()
    assert ("could NOT keep up" in summary) != report.kept_up
    if report.kept_up:
        assert len(received) >= 0.95 * 5000 * 5
    print(summary)  # the measured rate, for the record (pytest -s)


def test_load_mode_says_when_it_cannot_keep_up(mosquitto: Mosquitto, tmp_path: Path) -> None:
    sub = Subscriber(mosquitto, tmp_path / "load.txt")
    report = run_load(mosquitto.address, devices=100, rate=2_000_000, duration_s=1, processes=1)
    received = sub.lines(report.sent, timeout=30)
    assert not report.kept_up and "could NOT keep up" in report.summary()
    assert len(received) == report.sent  # what it says it sent, not what was asked for
    assert report.achieved_rate == report.sent / report.duration_s < 2_000_000


def test_cli_simulates_writes_the_registry_and_truth(mosquitto: Mosquitto, tmp_path: Path) -> None:
    runner = CliRunner()
    record = tmp_path / "day.jsonl"
    result = runner.invoke(app, ["simulate", "--households", "4", "--speed", "0",
                                 "--duration", "2h", "--broker", mosquitto.address,
                                 "--scenario", "sos@1h", "--truth", str(tmp_path / "truth.jsonl"),
                                 "--record", str(record), "--start", "2026-12-01T08:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "scenario sos" in result.output and "sent " in result.output
    truth = [json.loads(x) for x in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert truth[0]["kind"] == "sos" and truth[0]["at"] == "2026-12-01T01:00:00+00:00"
    rows = [json.loads(x) for x in record.read_text(encoding="utf-8").splitlines()]
    sent = int(result.output.split("sent ")[1].split()[0])
    assert len(rows) == sent and all(set(r) == {"topic", "payload"} for r in rows)
    sos = [r for r in rows if r["topic"].endswith("/event") and r["payload"]["type"] == "sos"]
    assert len(sos) == 1 and sos[0]["payload"]["ts"] == 1796086800000  # event time, 09:00
    result = runner.invoke(app, ["simulate", "--households", "110", "--write-registry",
                                 str(tmp_path / "registry.yaml")])
    assert result.exit_code == 0 and (tmp_path / "registry.yaml").exists()


def test_cli_takes_several_scenarios_after_one_flag(mosquitto: Mosquitto, tmp_path: Path) -> None:
    truth = tmp_path / "truth.jsonl"
    result = CliRunner().invoke(app, [
        "simulate", "--households", "4", "--speed", "0", "--duration", "30m", "--no-faults",
        "--broker", mosquitto.address, "--truth", str(truth),
        "--scenario", "sos@10m", "sos_by_mistake@20m,device_offline@25m"])
    assert result.exit_code == 0, result.output
    kinds = [json.loads(x)["kind"] for x in truth.read_text().splitlines()]
    assert kinds == ["sos", "sos_by_mistake", "device_offline"]


def test_cli_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (["--broker", "nohost:port"], ["--scenario", "earthquake@1h"],
                 ["--duration", "soon"], ["--start", "yesterday"],
                 ["--registry", str(tmp_path / "missing.yaml")],
                 ["--scenario", "sos:E9999@1h", "--broker", "127.0.0.1:1"],
                 ["--broker", "127.0.0.1:1", "--duration", "1h"]):
        result = runner.invoke(app, ["simulate", *args])
        assert result.exit_code != 0, args
        assert isinstance(result.exception, TanfangError), (args, result.exception)
        assert "\n" not in str(result.exception)
