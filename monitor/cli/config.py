"""`tanfang config`: print the documented example, or check a file."""

from __future__ import annotations

import typer

from monitor.cli import ConfigOpt
from monitor.config import config_path, load_config

config_app = typer.Typer(help="Configuration files.", no_args_is_help=True)


@config_app.command("example")
def example() -> None:
    """Print every configuration key with its default and description (YAML)."""
    from monitor.config_example import example_yaml

    typer.echo(example_yaml(), nl=False)


@config_app.command("check")
def check(config_file: ConfigOpt = None) -> None:
    """Validate a configuration file (and the environment overrides); print what was read."""
    load_config(config_file)
    chosen = config_path(config_file)
    typer.echo(f"{chosen or 'built-in defaults'}: ok")
