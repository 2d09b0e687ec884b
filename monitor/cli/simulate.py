"""`tanfang simulate`: the device simulator against any broker, and its load mode."""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from monitor.errors import TanfangError


def _duration(text: str | None, what: str) -> timedelta | None:
    from devices.simulator.scenarios import parse_duration

    if text is None:
        return None
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise TanfangError(f"{what}: {exc}") from None
    if value <= timedelta(0):
        raise TanfangError(f"{what} must be longer than zero")
    return value


def _start(text: str | None) -> datetime | None:
    """An ISO datetime with offset, or `-2d` (that long before now)."""
    if text is None:
        return None
    if text.startswith("-"):
        back = _duration(text[1:], "--start")
        assert back is not None
        return datetime.now(UTC) - back
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise TanfangError(f"--start: not a date-time: '{text}' "
                           "(use e.g. 2026-12-01T08:00:00+08:00 or -2d)") from None
    if moment.tzinfo is None:
        raise TanfangError("--start needs an offset, such as +08:00")
    return moment


def _registry(registry: Path | None, households: int, seed: int) -> dict[str, Any]:
    from devices.simulator.district import demo_registry
    from monitor.broker_config import read_registry_yaml

    if registry is not None:
        return read_registry_yaml(registry)
    if households < 1:
        raise TanfangError("--households must be at least 1")
    return demo_registry(households, seed)


def simulate(
    more: Annotated[list[str] | None, typer.Argument(
        metavar="SCENARIO", show_default=False,
        help="More scenarios, as for --scenario: `--scenario sos fall` is "
             "`--scenario sos --scenario fall`.")] = None,
    households: Annotated[int, typer.Option(
        help="Elders of the generated demo district (when no --registry).")] = 120,
    speed: Annotated[float, typer.Option(
        help="1 real time, 60 an hour a minute, 0 as fast as possible.")] = 1.0,
    scenario: Annotated[list[str] | None, typer.Option(
        help="NAME[:TARGET][@AT][+FOR], e.g. sos@2m, fall:E0003@1h, away:4@1d+5d; "
             "repeatable, or several after one --scenario, or comma-separated. "
             "Names: fall incapacitated tap_left_running sos sos_by_mistake smoke gas "
             "device_offline battery_low away heatwave meter_replaced.")] = None,
    broker: Annotated[str, typer.Option(help="Broker HOST:PORT.")] = "127.0.0.1:1883",
    registry: Annotated[Path | None, typer.Option(
        help="Registry YAML to simulate; default: the demo district.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the district and the routines.")] = 0,
    start: Annotated[str | None, typer.Option(
        help="Simulated start: ISO date-time with offset, or -2d for two days ago; "
             "default now.")] = None,
    duration: Annotated[str | None, typer.Option(
        help="Simulated time to play (e.g. 7d); default: until interrupted "
             "(load mode: 60s of wall time).")] = None,
    record: Annotated[Path | None, typer.Option(
        help="Also write what is sent as JSON lines of {topic, payload} (tanfang replay).")]
    = None,
    truth: Annotated[Path | None, typer.Option(
        help="Write the injected and routine incidents (ground truth) as JSON lines.")] = None,
    write_registry: Annotated[Path | None, typer.Option(
        help="Write the simulated registry (demo district, or load devices) as YAML "
             "and exit.")] = None,
    no_faults: Annotated[bool, typer.Option(
        "--no-faults", help="No natural dropouts, run-down batteries or week away.")] = False,
    username: Annotated[str | None, typer.Option(help="Broker user, e.g. simulator.")] = None,
    password: Annotated[str | None, typer.Option(
        envvar="TANFANG_SIM_PASSWORD", help="Broker password (or TANFANG_SIM_PASSWORD).")]
    = None,
    load: Annotated[bool, typer.Option(
        "--load", help="Load mode: many synthetic devices at a target message rate.")] = False,
    rate: Annotated[float, typer.Option(help="Load mode: messages per second.")] = 1000.0,
    devices: Annotated[int, typer.Option(help="Load mode: number of devices.")] = 10000,
    processes: Annotated[int, typer.Option(
        help="Load mode: publishing processes; 0 picks enough for the rate.")] = 0,
) -> None:
    """The device simulator: households with routines, injected scenarios, or a load test."""
    from devices.simulator.load import load_registry, run_load
    from devices.simulator.publisher import Simulation, parse_broker
    from devices.simulator.scenarios import parse_scenario

    try:
        parse_broker(broker)
        specs = [parse_scenario(s) for s in _scenario_texts([*(scenario or []), *(more or [])])]
    except ValueError as exc:
        raise TanfangError(str(exc)) from None
    if load:
        if write_registry is not None:
            _write_yaml(write_registry, load_registry(devices))
            typer.echo(f"wrote {write_registry} ({devices} load devices)")
            return
        wall = _duration(duration, "--duration") or timedelta(seconds=60)
        try:
            report = run_load(broker, devices, rate, wall.total_seconds(), processes,
                              username, password)
        except ValueError as exc:
            raise TanfangError(str(exc)) from None
        typer.echo(report.summary())
        if report.errors and not report.sent:
            raise typer.Exit(1)
        return
    data = _registry(registry, households, seed)
    if write_registry is not None:
        _write_yaml(write_registry, data)
        typer.echo(f"wrote {write_registry} ({len(data.get('elders') or [])} elders)")
        return
    if speed < 0:
        raise TanfangError("--speed must be 0 or more")
    try:
        sim = Simulation(data, broker, speed, specs, _start(start), seed, record,
                         username=username, password=password, faults=not no_faults)
        timeline = sim.timeline(_duration(duration, "--duration"))
        ground = timeline.incidents()
    except ValueError as exc:
        raise TanfangError(str(exc)) from None
    if truth is not None:
        with truth.open("w", encoding="utf-8") as out:
            for incident in ground:
                out.write(json.dumps(incident_json(incident), ensure_ascii=False) + "\n")
    for spec in ground:
        if spec.source == "scenario":
            typer.echo(f"scenario {spec.kind} {spec.elder_id or 'district'} "
                       f"{spec.device_id or ''} at {spec.at.isoformat()}".replace("  ", " "))
    report = asyncio.run(_run(sim, _duration(duration, "--duration")))
    by_kind = ", ".join(f"{k} {v}" for k, v in sorted(report.by_kind.items()))
    reached = report.sim_reached.isoformat() if report.sim_reached else "-"
    typer.echo(f"sent {report.sent} messages ({by_kind}) in {report.wall_s:.1f} s; "
               f"simulated time reached {reached}")


def _scenario_texts(given: list[str]) -> list[str]:
    """Each scenario given, also when several come in one argument (`sos,fall`)."""
    return [part for text in given for part in text.split(",") if part.strip()]


def incident_json(incident: Any) -> dict[str, Any]:
    """An incident as a JSON object: kind, elder_id, device_id, at, until, source."""
    return {"kind": incident.kind, "elder_id": incident.elder_id,
            "device_id": incident.device_id, "at": incident.at.isoformat(),
            "until": incident.until.isoformat() if incident.until else None,
            "source": incident.source}


async def _run(sim: Any, duration: timedelta | None) -> Any:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, sim.stop)
    try:
        return await sim.run(duration)
    except ConnectionError as exc:
        raise TanfangError(str(exc)) from None


def _write_yaml(path: Path, data: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
