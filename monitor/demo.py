"""The embedded demo: an amqtt broker, SQLite, a demo district, the simulator and the console."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from monitor.accounts import create_account
from monitor.config import Config
from monitor.daemon import Monitor, serve
from monitor.demo_actors import DemoPeople
from monitor.registry import load_registry, parse_registry
from monitor.store.db import Database

logger = logging.getLogger(__name__)

DEMO_USER = "admin"
DEMO_PASSWORD = "tanfang-demo"
# The account the demo's duty officer works with, so the console shows who took what.
DUTY_USER = "duty-demo"
DUTY_PASSWORD = "tanfang-duty-demo"
HOUSEHOLDS = 120
SEED = 7


async def start_broker(port: int) -> Any:
    """An embedded MQTT broker (amqtt) for the demo only; production uses Mosquitto or EMQX."""
    from amqtt.broker import Broker

    broker = Broker({
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    })
    await broker.start()
    return broker


def demo_config(data_dir: Path, api_port: int, mqtt_port: int) -> Config:
    """SQLite under `data_dir`, the embedded broker, the log notifier."""
    return Config.model_validate({
        "mqtt": {"host": "127.0.0.1", "port": mqtt_port, "protocol": "3.1.1",
                 "client_id": "tanfang-demo"},
        "database": {"url": f"sqlite:///{data_dir}/state.db"},
        "telemetry": {"backend": "sqlite", "sqlite_path": str(data_dir / "telemetry.db")},
        "api": {"host": "127.0.0.1", "port": api_port},
        "notify": {"channels": ["log"]},
        "logging": {"level": "INFO"},
    })


def demo_registry() -> dict[str, Any]:
    """The demo district of 瑶海区: twelve streets, their communities, 120 elders."""
    from devices.simulator.district import demo_registry as district

    return district(households=HOUSEHOLDS, seed=SEED)


async def prepare(config: Config, registry: dict[str, Any]) -> None:
    """Load the district and the demo accounts into a fresh store."""
    db = Database(config.database.url)
    try:
        await db.migrate()
        await load_registry(db, parse_registry(registry, "demo district"), "demo district")
        async with db.transaction() as session:
            await create_account(session, DEMO_USER, DEMO_PASSWORD, "district_admin",
                                 display_name="区民政局值班")
            await create_account(session, DUTY_USER, DUTY_PASSWORD, "district_admin",
                                 display_name="区值班员（演示）")
    finally:
        await db.close()


async def run_demo(api_port: int, mqtt_port: int, data_dir: Path) -> None:
    """Run the whole demo until interrupted."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    config = demo_config(data_dir, api_port, mqtt_port)
    registry = demo_registry()
    await prepare(config, registry)
    broker = await start_broker(mqtt_port)
    monitor = Monitor(config)
    people = DemoPeople(monitor.db, f"http://127.0.0.1:{api_port}", DUTY_USER, DUTY_PASSWORD)
    background = [
        asyncio.create_task(simulate(registry, mqtt_port, monitor), name="simulator"),
        asyncio.create_task(people.run(), name="demo people"),
    ]
    print(f"console: http://127.0.0.1:{api_port}/", flush=True)
    print(f"login: {DEMO_USER} {DEMO_PASSWORD}", flush=True)
    try:
        await serve(config, monitor)
    finally:
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await broker.shutdown()


async def simulate(registry: dict[str, Any], mqtt_port: int, monitor: Monitor) -> None:
    """The district's households in real time, with incidents in the first minutes."""
    from devices.simulator import ScenarioSpec, Simulation

    # Start once the monitor has subscribed, so the first SOS (at 10 s) is not missed.
    while not monitor.source.connected:
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    simulation = Simulation(registry, broker=f"127.0.0.1:{mqtt_port}", speed=1.0,
                            scenarios=ScenarioSpec.demo_defaults(registry), seed=SEED)
    for incident in simulation.timeline(None).incidents():
        if incident.source == "scenario":
            logger.info("demo scenario %s for elder %s at %s", incident.kind, incident.elder_id,
                        incident.at.isoformat())
    report = await simulation.run()
    logger.info("simulator stopped: %s", json.dumps(report.__dict__, default=str))
