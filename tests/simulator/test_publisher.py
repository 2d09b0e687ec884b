"""The simulator on a real broker: what it reports sent is what a subscriber receives."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import typer
from typer.testing import CliRunner

from devices.simulator import Simulation, demo_registry, run_load
from monitor.cli.simulate import simulate
from monitor.errors import TanfangError
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
    print(report.summary())  # the measured rate, for the record (pytest -s)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(simulate)
    return app


def test_cli_simulates_writes_the_registry_and_truth(mosquitto: Mosquitto, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["--households", "4", "--speed", "0", "--duration", "2h",
                                    "--broker", mosquitto.address, "--scenario", "sos@1h",
                                    "--truth", str(tmp_path / "truth.jsonl"),
                                    "--start", "2026-12-01T08:00:00+08:00"])
    assert result.exit_code == 0, result.output
    assert "scenario sos" in result.output and "sent " in result.output
    truth = [json.loads(x) for x in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert truth[0]["kind"] == "sos" and truth[0]["at"] == "2026-12-01T01:00:00+00:00"
    result = runner.invoke(_app(), ["--households", "110", "--write-registry",
                                    str(tmp_path / "registry.yaml")])
    assert result.exit_code == 0 and (tmp_path / "registry.yaml").exists()


def test_cli_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (["--broker", "nohost:port"], ["--scenario", "earthquake@1h"],
                 ["--duration", "soon"], ["--start", "yesterday"],
                 ["--registry", str(tmp_path / "missing.yaml")],
                 ["--scenario", "sos:E9999@1h", "--broker", "127.0.0.1:1"],
                 ["--broker", "127.0.0.1:1", "--duration", "1h"]):
        result = runner.invoke(_app(), args)
        assert result.exit_code != 0, args
        assert isinstance(result.exception, TanfangError), (args, result.exception)
        assert "\n" not in str(result.exception)
