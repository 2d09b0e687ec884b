"""Commands kept in modules of their own, registered on the `tanfang` app here."""

from __future__ import annotations

import typer


def register(app: typer.Typer, registry_app: typer.Typer, user_app: typer.Typer,
             report_app: typer.Typer) -> None:
    """Add the commands of the other modules."""
    from monitor.cli import config, coverage, demo

    app.command("demo")(demo.demo)
    app.add_typer(config.config_app, name="config")
    report_app.command("coverage")(coverage.report_coverage)
    app.add_typer(coverage.visits_app, name="visits")
