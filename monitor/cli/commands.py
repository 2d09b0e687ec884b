"""Commands kept in modules of their own, registered on the `tanfang` app here."""

from __future__ import annotations

import typer


def register(app: typer.Typer, registry_app: typer.Typer, user_app: typer.Typer,
             report_app: typer.Typer) -> None:
    """Add the commands of the other modules."""
    from monitor.cli import broker, config, coverage, demo, drift, replay, simulate

    app.command("demo")(demo.demo)
    app.command("simulate")(simulate.simulate)
    app.command("replay")(replay.replay)
    app.add_typer(config.config_app, name="config")
    report_app.command("coverage")(coverage.report_coverage)
    report_app.command("drift")(drift.report_drift)
    app.add_typer(coverage.visits_app, name="visits")
    broker_app = typer.Typer(help="Mosquitto files generated from the registry.",
                             no_args_is_help=True)
    broker_app.command("config")(broker.broker_config)
    app.add_typer(broker_app, name="broker")
