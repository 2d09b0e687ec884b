"""`tanfang demo`: everything in one process, nothing else to install or start."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer


def demo(
    port: Annotated[int, typer.Option(help="Port of the console and API.")] = 8080,
    mqtt_port: Annotated[int, typer.Option(help="Port of the embedded MQTT broker.")] = 18830,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its (fresh) data.")] = Path(
        "data/demo"),
) -> None:
    """The embedded demo: MQTT broker, SQLite, device simulator and duty console."""
    from monitor.demo import run_demo

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("amqtt").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    asyncio.run(run_demo(port, mqtt_port, data_dir))
