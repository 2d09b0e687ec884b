"""Commands kept in modules of their own, registered on the `tanfang` app here."""

from __future__ import annotations

import typer


def register(app: typer.Typer, registry_app: typer.Typer, user_app: typer.Typer,
             report_app: typer.Typer) -> None:
    """Add the commands of the other modules."""
    from monitor.cli import broker, demo, simulate

    app.command("demo")(demo.demo)
    app.command("simulate")(simulate.simulate)
    broker_app = typer.Typer(help="Mosquitto files generated from the registry.",
                             no_args_is_help=True)
    broker_app.command("config")(broker.broker_config)
    app.add_typer(broker_app, name="broker")
