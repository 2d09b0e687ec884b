"""The `tanfang` command line: every error is one clear line and a non-zero exit."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from monitor.config import Config, load_config
from monitor.errors import TanfangError

app = typer.Typer(
    help="探访关爱远程监测 Tanfang Monitor: remote monitoring and alerting for elders.",
    no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    add_completion=False,
)
registry_app = typer.Typer(help="The registry of communities, elders, contacts and devices.",
                           no_args_is_help=True)
user_app = typer.Typer(help="Console and API accounts.", no_args_is_help=True)
report_app = typer.Typer(help="Reports.", no_args_is_help=True)
app.add_typer(registry_app, name="registry")
app.add_typer(user_app, name="user")
app.add_typer(report_app, name="report")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c",
                 help="Configuration file (else $TANFANG_CONFIG, ./tanfang.yaml)."),
]


def setup(config_file: Path | None) -> Config:
    """Load the configuration and set up logging as it says."""
    config = load_config(config_file)
    logging.basicConfig(
        level=config.logging.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines are noise here
    return config


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


@app.command()
def run(config_file: ConfigOpt = None) -> None:
    """The daemon: MQTT ingest, rules, alarms, notifiers, scheduler, HTTP API and console."""
    from monitor.daemon import serve

    config = setup(config_file)
    run_async(serve(config))


@registry_app.command("load")
def registry_load(
    file: Annotated[Path, typer.Argument(help="Registry YAML file.")],
    config_file: ConfigOpt = None,
) -> None:
    """Idempotent upsert of communities, elders, contacts, devices (one transaction)."""
    from monitor.registry import load_registry, read_registry
    from monitor.store.db import Database

    config = setup(config_file)
    registry = read_registry(file)

    async def go() -> str:
        db = Database(config.database.url)
        try:
            await db.migrate()
            return str(await load_registry(db, registry, str(file)))
        finally:
            await db.close()

    typer.echo(run_async(go()))


@user_app.command("create")
def user_create(
    name: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="duty, community_admin or district_admin.")],
    community: Annotated[str | None, typer.Option(help="Community id (not for district)")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from stdin.")] = False,
    config_file: ConfigOpt = None,
) -> None:
    """Create (or update) a console and API account."""
    from monitor.accounts import create_account
    from monitor.store.db import Database

    config = setup(config_file)
    if not password_stdin:
        raise TanfangError("give the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")

    async def go() -> None:
        db = Database(config.database.url)
        try:
            await db.migrate()
            async with db.transaction() as session:
                await create_account(session, name, password, role, community)
        finally:
            await db.close()

    run_async(go())
    typer.echo(f"account {name} ({role}) ready")


def _register_optional() -> None:
    """Commands that live in their own modules."""
    from monitor.cli import commands

    commands.register(app, registry_app, user_app, report_app)


_register_optional()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `tanfang` script."""
    debug = os.environ.get("TANFANG_DEBUG") == "1"
    try:
        app(args=argv, prog_name="tanfang", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        print(f"tanfang: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except (click.exceptions.Abort, KeyboardInterrupt):
        sys.exit(130)
    except TanfangError as exc:
        if debug:
            raise
        print(f"tanfang: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        print(f"tanfang: unexpected error: {type(exc).__name__}: {exc} "
              "(TANFANG_DEBUG=1 shows the traceback)", file=sys.stderr)
        sys.exit(1)
