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
from monitor.registry import load_registry, parse_registry
from monitor.store.db import Database

logger = logging.getLogger(__name__)

DEMO_USER = "admin"
DEMO_PASSWORD = "tanfang-demo"


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
    """The demo district (瑶海区)."""
    from devices.simulator.district import demo_registry as district

    return district(households=120, seed=7)


async def prepare(config: Config, registry: dict[str, Any]) -> None:
    """Load the district and the demo account into a fresh store."""
    db = Database(config.database.url)
    try:
        await db.migrate()
        await load_registry(db, parse_registry(registry, "demo district"), "demo district")
        async with db.transaction() as session:
            await create_account(session, DEMO_USER, DEMO_PASSWORD, "district_admin",
                                 display_name="区民政局值班")
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
    simulation = asyncio.create_task(simulate(registry, mqtt_port), name="simulator")
    print(f"console: http://127.0.0.1:{api_port}/", flush=True)
    print(f"login: {DEMO_USER} {DEMO_PASSWORD}", flush=True)
    try:
        await serve(config, monitor)
    finally:
        simulation.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await simulation
        await broker.shutdown()


async def simulate(registry: dict[str, Any], mqtt_port: int) -> None:
    """The district's households, with incidents in the first minutes."""
    from devices.simulator import ScenarioSpec, Simulation

    simulation = Simulation(registry, broker=f"127.0.0.1:{mqtt_port}", speed=1.0,
                            scenarios=ScenarioSpec.demo_defaults(registry))
    report = await simulation.run()
    logger.info("simulator stopped: %s", json.dumps(report.__dict__, default=str))
