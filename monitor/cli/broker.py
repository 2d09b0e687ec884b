"""`tanfang broker config`: Mosquitto password file, ACL and conf from the registry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from monitor.broker_config import (
    BrokerUsers,
    device_password,
    read_registry_yaml,
    registry_device_ids,
    write_broker_files,
)
from monitor.errors import TanfangError


def broker_config(
    registry: Annotated[Path, typer.Argument(help="Registry YAML file (the devices to admit).")],
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o",
                                          help="Where passwd, acl and mosquitto.conf go.")],
    monitor_user: Annotated[str, typer.Option(help="Broker user of the monitor daemon.")]
    = "tanfang-monitor",
    simulator: Annotated[bool | None, typer.Option(
        "--simulator/--no-simulator",
        help="Admit the user `simulator`, who may write for every device, with the password "
             "in TANFANG_SIM_PASSWORD; default: only when that variable is set.")] = None,
    conf_dir: Annotated[str, typer.Option(
        help="Directory where the broker will find passwd and acl.")] = "/mosquitto/config",
    port: Annotated[int, typer.Option(help="Port the broker listens on.")] = 1883,
    device_passwords: Annotated[Path | None, typer.Option(
        help="Also write device_id,password lines (CSV) to this file, for provisioning.")]
    = None,
) -> None:
    """Write Mosquitto's passwd, acl and mosquitto.conf so each device writes only its topics.

    Device passwords are derived from TANFANG_DEVICE_SECRET; the monitor's password is
    TANFANG_MQTT__PASSWORD, the same variable the daemon reads.
    """
    secret = os.environ.get("TANFANG_DEVICE_SECRET", "")
    sim_password = os.environ.get("TANFANG_SIM_PASSWORD") or None
    if simulator is None:
        simulator = sim_password is not None
    users = BrokerUsers(
        monitor_user=monitor_user,
        monitor_password=os.environ.get("TANFANG_MQTT__PASSWORD", ""),
        simulator_password=sim_password if simulator else None,
    )
    if simulator and not users.simulator_password:
        raise TanfangError("--simulator needs a password in TANFANG_SIM_PASSWORD")
    data = read_registry_yaml(registry)
    written = write_broker_files(data, out_dir, secret, users, conf_dir, port)
    if device_passwords is not None:
        rows = [f"{d},{device_password(secret, d)}\n" for d in registry_device_ids(data)]
        device_passwords.write_text("device_id,password\n" + "".join(rows), encoding="utf-8")
        device_passwords.chmod(0o600)
    typer.echo(f"wrote {', '.join(str(p) for p in written)} "
               f"({len(registry_device_ids(data))} devices)")
